"""Two processes declaring the bus on the embedded (SQLite) transport at the same moment."""
from kombu import Connection
from sqlalchemy import event

from servicekit.messaging.broker import connect
from servicekit.messaging.topology import declare


def _engine(connection: Connection):
    return connection.default_channel.session.get_bind()


def test_a_queue_row_created_by_another_process_mid_declare_is_found_not_fatal(tmp_path):
    url = f"sqla+sqlite:///{tmp_path / 'bus.db'}"
    other, ours = connect(url), connect(url)
    declare(other, ())  # creates the tables
    first = "identity.departments.dead"
    other.default_channel.session.execute(
        other.default_channel.queue_cls.__table__.delete().where(other.default_channel.queue_cls.name == first))
    other.default_channel.session.commit()

    # Between our "does it exist?" and our INSERT, the other process inserts the same queue row:
    # the interleaving that failed CI with "UNIQUE constraint failed: kombu_queue.name".
    raced = []

    @event.listens_for(_engine(ours), "before_cursor_execute")
    def _insert_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO kombu_queue") and not raced:
            raced.append(parameters)
            other.default_channel._new_queue(first)

    declare(ours, ())
    assert raced, "the race was not staged"
    names = [q.name for q in ours.default_channel.session.query(ours.default_channel.queue_cls)]
    assert names.count(first) == 1

    # and the publisher's channel still works afterwards
    ours.default_channel._put(first, {"body": "x"})
    assert ours.default_channel._size(first) == 1
    for connection in (other, ours):
        connection.release()

