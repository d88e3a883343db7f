"""What the bus promises, shown against real RabbitMQ and PostgreSQL: nothing lost when the
broker is down or a worker is killed, one effect per event, poison messages dead-lettered with
their reason while the messages behind them keep flowing."""
import json
import subprocess
import uuid

import pytest
from kombu import Connection, Producer, Queue
from sqlalchemy import select

from servicekit import testing
from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect
from servicekit.messaging.relay import OutboxRelay
from servicekit.messaging.topology import EVENTS

from identity.handlers import HANDLERS
from identity.service.departments import apply_department_upserted
from patients.domain.organisation import department_id
from patients.service.organisation import bundled_organisation, load_organisation, rename_department

from .harness import WorkerProcess, WorkerThread, count, identity_department_names

QUEUE = "identity.departments"
DEPARTMENTS = 21


def counting_handlers(calls: list, *, fail_for_code: str | None = None):
    def handler(uow, event):
        calls.append(event.id)
        if event.data["code"] == fail_for_code:
            raise RuntimeError("simulated handler bug")
        apply_department_upserted(uow, event)
    # identity's queue also carries notifications' delivery reports: their real handlers stay.
    return {QUEUE: {**HANDLERS[QUEUE], "patients.department.upserted": handler}}


def unpublished(runtime) -> int:
    return count(runtime, runtime.messaging.outbox, runtime.messaging.outbox.c.published_at.is_(None))


def rabbitmq(action: str) -> None:
    ctl = testing.require_env("DANBIO_TEST_RABBITMQ_CTL")
    subprocess.run([ctl, action], check=True, timeout=180, capture_output=True)


@pytest.mark.slow
def test_broker_stopped_while_committing_loses_nothing(patients, identity):
    calls: list = []
    with WorkerThread(patients, {}), WorkerThread(identity, counting_handlers(calls)):
        with patients.uow() as uow:
            load_organisation(uow, bundled_organisation())
        testing.wait_for(lambda: len(identity_department_names(identity)) == DEPARTMENTS, message="initial load")

        rabbitmq("stop")
        try:
            with patients.uow() as uow:  # the use case commits while the broker is down
                rename_department(uow, department_id("AAUH-REU"), "Reumatologi, Aalborg (under nedbrud)")
            testing.wait_for(lambda: count(patients, patients.messaging.outbox,
                                           patients.messaging.outbox.c.attempts > 0) > 0,
                             timeout=15, message="the relay to try and fail")
            assert unpublished(patients) == 1
        finally:
            rabbitmq("start")

        testing.wait_for(lambda: identity_department_names(identity)["AAUH-REU"]
                         == "Reumatologi, Aalborg (under nedbrud)", timeout=60, message="delivery after the outage")
        assert unpublished(patients) == 0
    assert len(calls) == DEPARTMENTS + 1 == len(set(calls))


def test_same_event_delivered_twice_has_one_effect(patients, identity, bus):
    calls: list = []
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    # The relay's confirm was lost: the batch went out, but the rows were never marked published.
    with patients.db.engine.connect() as connection:
        rows = connection.execute(select(patients.messaging.outbox)).all()
    lost_confirm = ConfirmingPublisher(connect(bus), retry_delays_ms=(50, 100, 200))
    lost_confirm.publish([OutgoingMessage(str(r.event_id), r.event_type, r.body) for r in rows])
    # And the broker redelivers one of them once more, as after a consumer's lost ack.
    lost_confirm.publish([OutgoingMessage(str(rows[0].event_id), rows[0].event_type, rows[0].body)])

    with WorkerThread(identity, counting_handlers(calls)):
        relay = OutboxRelay(patients.db, patients.messaging, lost_confirm)
        assert relay.publish_pending() == DEPARTMENTS  # published again
        testing.wait_for(lambda: testing.queue_depth(bus, QUEUE) == 0 and len(calls) >= DEPARTMENTS,
                         message="the queue to drain")
        testing.wait_for(lambda: count(identity, identity.messaging.inbox) == DEPARTMENTS, message="inbox")
    assert len(calls) == DEPARTMENTS == len(set(calls)), "a redelivered event was applied twice"
    lost_confirm.connection.release()


def test_poison_messages_are_dead_lettered_and_the_rest_keeps_flowing(patients, identity, bus):
    calls: list = []
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    with Connection(bus) as connection:
        producer = Producer(connection.channel())
        for body in (b"{not json", json.dumps({"id": str(uuid.uuid4()), "type": "patients.department.upserted",
                                               "version": 1, "occurred_at": "2026-12-03T10:00:00+00:00",
                                               "producer": "patients", "correlation_id": "c",
                                               "data": {"code": "missing the rest"}}).encode()):
            producer.publish(body, exchange=EVENTS.name, routing_key="patients.department.upserted",
                             content_type="application/json", delivery_mode=2)

    with WorkerThread(patients, {}), WorkerThread(identity, counting_handlers(calls, fail_for_code="OUH-REU-C")):
        # Every department but the poisoned one arrives, behind and between the bad messages.
        testing.wait_for(lambda: len(identity_department_names(identity)) == DEPARTMENTS - 1, timeout=20,
                         message="the healthy events")
        testing.wait_for(lambda: testing.queue_depth(bus, f"{QUEUE}.dead") == 3, timeout=20,
                         message="three dead letters")

    dead = drain(bus, f"{QUEUE}.dead")
    reasons = sorted(message.headers["x-danbio-dead-reason"] for message in dead)
    assert reasons == ["contract", "contract", "handler-failed"]
    failed = next(m for m in dead if m.headers["x-danbio-dead-reason"] == "handler-failed")
    assert failed.headers["x-danbio-attempts"] == 4  # the first try and three retries
    assert "simulated handler bug" in failed.headers["x-danbio-error"]
    poisoned = json.loads(failed.body)
    assert poisoned["data"]["code"] == "OUH-REU-C"  # the original message, intact
    # Four attempts of its own (plus, when it spoiled a batch, that batch's try, rolled back).
    assert calls.count(uuid.UUID(poisoned["id"])) in (4, 5)
    assert "OUH-REU-C" not in identity_department_names(identity)
    # The healthy events took effect exactly once each: one inbox row apiece, nothing else.
    inbox = identity.messaging.inbox
    with identity.db.engine.connect() as connection:
        applied = [row.event_id for row in connection.execute(select(inbox.c.event_id))]
    assert len(applied) == len(set(applied)) == DEPARTMENTS - 1
    assert uuid.UUID(poisoned["id"]) not in applied


def drain(url: str, queue: str) -> list:
    messages = []
    with Connection(url) as connection:
        bound = Queue(queue, no_declare=True)(connection.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
    return messages


@pytest.mark.slow
def test_workers_killed_mid_stream_lose_nothing_and_apply_nothing_twice(patients, identity, service_env, tmp_path):
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    codes = _codes()
    renames = 600
    for i in range(renames):
        with patients.uow() as uow:
            rename_department(uow, department_id(codes[i % len(codes)]), f"Omdøbt {i}")
    total = DEPARTMENTS + renames
    final_names = {code: f"Omdøbt {i}" for i, code in ((i, codes[i % len(codes)]) for i in range(renames))}

    env = {**service_env, "DANBIO_RELAY_BATCH_SIZE": "25", "DANBIO_CONSUMER_PREFETCH": "10"}
    log = tmp_path / "workers.log"
    publisher, consumer = WorkerProcess("patients", env, log).start(), WorkerProcess("identity", env, log).start()
    try:
        testing.wait_for(lambda: count(identity, identity.messaging.inbox) >= 50, timeout=30,
                         message="the stream to get going")
        publisher.kill()
        consumer.kill()
        applied_at_kill = count(identity, identity.messaging.inbox)
        assert applied_at_kill < total, "the kill came too late to be mid-stream"
        publisher.start()
        consumer.start()
        testing.wait_for(lambda: count(identity, identity.messaging.inbox) == total, timeout=90,
                         message=f"all {total} events applied")
        testing.wait_for(lambda: unpublished(patients) == 0, message="outbox drained")
    finally:
        publisher.terminate()
        consumer.terminate()
    assert identity_department_names(identity) == final_names
    assert count(identity, identity.messaging.inbox) == total  # one inbox row per event, none twice


def _codes():
    from patients.domain.organisation import parse_organisation

    return [department.code for department in parse_organisation(bundled_organisation())]
