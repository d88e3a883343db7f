"""The pieces under the bus's guarantees, each on its own, with real PostgreSQL and RabbitMQ:
a unit of work keeps nothing unless committed; the relay wakes on the commit's NOTIFY instead of
waiting for its poll; every consumer queue is a quorum queue with its dead-letter queue."""
import json
import re
import subprocess
import threading
import time
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select, text, update

from patients.adapters.tables import departments as patient_departments
from patients.domain.organisation import department_id
from patients.service.organisation import bundled_organisation, load_organisation, rename_department
from servicekit import testing
from servicekit.messaging.broker import ConfirmingPublisher, connect
from servicekit.messaging.relay import OutboxRelay
from servicekit.uow import OUTBOX_CHANNEL

from .harness import count


def test_a_unit_of_work_left_without_commit_keeps_neither_rows_nor_events(patients):
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    outbox = patients.messaging.outbox
    aalborg = department_id("AAUH-REU")
    with patients.db.engine.connect() as connection:
        event = json.loads(connection.execute(select(outbox.c.body).where(outbox.c.body.contains(str(aalborg)))
                                              .limit(1)).scalar_one())
    before = count(patients, outbox)

    def change(uow, name):
        uow.session.execute(update(patient_departments).where(patient_departments.c.id == aalborg).values(name=name))
        uow.emit(event["type"], {**event["data"], "name": name})

    with patients.uow() as uow:  # left without commit
        change(uow, "Aldrig gemt")
    with pytest.raises(RuntimeError), patients.uow() as uow:  # the use case fails after its change
        change(uow, "Heller ikke gemt")
        raise RuntimeError("the use case fails before commit")
    assert count(patients, outbox) == before
    assert count(patients, patient_departments, patient_departments.c.name.in_(["Aldrig gemt", "Heller ikke gemt"])) == 0
    with patients.uow() as uow:  # the same change committed is kept, with its event
        change(uow, "Gemt")
        uow.commit()
    assert count(patients, outbox) == before + 1
    assert count(patients, patient_departments, patient_departments.c.name == "Gemt") == 1


def test_the_relay_wakes_on_the_commit_not_on_its_poll(patients, bus):
    """With a poll of 60 s, an event committed while the relay idles is published within seconds:
    the commit's NOTIFY wakes it (servicekit.uow)."""
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    connection = connect(bus)
    publisher = ConfirmingPublisher(connection, retry_delays_ms=(50, 100, 200))
    relay = OutboxRelay(patients.db, patients.messaging, publisher, idle_wait=60.0)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    outbox = patients.messaging.outbox
    try:
        testing.wait_for(lambda: count(patients, outbox, outbox.c.published_at.is_(None)) == 0, timeout=30,
                         message="the initial load published")
        time.sleep(1.0)  # the relay is now waiting (60 s) for a notification
        committed = time.monotonic()
        with patients.uow() as uow:
            rename_department(uow, department_id("AAUH-REU"), "Reumatologi, Aalborg (vækket)")
        testing.wait_for(lambda: count(patients, outbox, outbox.c.published_at.is_(None)) == 0, timeout=20,
                         interval=0.02, message="the rename published before the relay's 60 s poll")
        assert time.monotonic() - committed < 20
    finally:
        stop.set()
        with patients.db.engine.begin() as db:  # wake it, rather than wait out its poll
            db.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        thread.join(timeout=70)
        publisher.reset()
        connection.release()


def test_every_consumer_queue_is_a_quorum_queue(bus, identity):
    """The topology declared by the services' workers (reset_bus declares it) on RabbitMQ."""
    ctl = testing.require_env("DANBIO_TEST_RABBITMQ_CTL")
    vhost = unquote(urlsplit(bus).path[1:]) or "/"
    listed = subprocess.run([ctl, "ctl", "list_queues", "-q", "-p", vhost, "name", "type"], check=True,
                            capture_output=True, text=True, timeout=60).stdout
    types = dict(re.split(r"\s+", line.strip(), maxsplit=1) for line in listed.splitlines() if line.strip())
    consumer_queues = {name: kind for name, kind in types.items()
                       if re.fullmatch(r"(identity|patients|notifications)\.[a-z_.-]+", name)
                       and not name.endswith(".dead") and ".retry" not in name}
    assert consumer_queues, types
    assert set(consumer_queues.values()) == {"quorum"}, consumer_queues
    assert all(f"{name}.dead" in types for name in consumer_queues), types
