"""The inbox-less consumer (for in-memory effects such as dropping a cached principal), on the
real RabbitMQ: a queue per instance for a per-instance spec, every instance gets every event,
a failing handler is retried on the instance's own queue and then dead-lettered."""
import threading
import uuid

from kombu import Connection, Queue

from servicekit import testing
from servicekit.events import new_event
from servicekit.messaging import topology
from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect
from servicekit.messaging.consumer import ConsumerRunner, StatelessConsumer

RETRIES = (50, 100, 200)
SPEC = topology.spec_for("gateway.principals")


def publish(url: str, subject: str) -> None:
    event = new_event("identity.user.access_changed",
                      {"user_id": str(uuid.uuid4()), "subject": subject, "reason": "test"}, producer="identity")
    publisher = ConfirmingPublisher(connect(url), retry_delays_ms=RETRIES)
    publisher.publish([OutgoingMessage(str(event.id), event.type, event.to_json())])
    publisher.connection.release()


class Running:
    """A StatelessConsumer under a ConsumerRunner in a thread."""

    def __init__(self, url: str, instance: str, handler):
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.consumer = StatelessConsumer(SPEC, {"identity.user.access_changed": handler}, instance=instance,
                                          retry_delays_ms=RETRIES, on_started=self.started.set,
                                          on_stopped=self.stopped.set)
        self.stop = threading.Event()
        runner = ConsumerRunner(url, [self.consumer], prefetch=10, retry_delays_ms=RETRIES, connect=connect)
        self.thread = threading.Thread(target=runner.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        assert self.started.wait(10), "consumer did not start"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        assert self.stopped.is_set()


def test_every_instance_gets_every_event_on_its_own_queue(bus):
    seen = {"a": [], "b": []}
    with Running(bus, "inst-a", lambda e: seen["a"].append(e.data["subject"])), \
            Running(bus, "inst-b", lambda e: seen["b"].append(e.data["subject"])):
        publish(bus, "kc-1")
        testing.wait_for(lambda: seen["a"] and seen["b"], message="both instances")
    assert seen == {"a": ["kc-1"], "b": ["kc-1"]}
    # No shared queue is declared on RabbitMQ for a per-instance spec (nobody would read it).
    with Connection(bus) as connection:
        try:
            connection.default_channel.queue_declare(SPEC.queue, passive=True)
            shared_exists = True
        except Exception:
            shared_exists = False
    assert not shared_exists


def test_failing_handler_is_retried_on_the_instance_queue_then_dead_lettered(bus):
    attempts = []

    def flaky(event):
        attempts.append(event.data["subject"])
        if event.data["subject"] == "always-fails" or len(attempts) == 1:
            raise RuntimeError("simulated")

    with Running(bus, "inst-c", flaky):
        publish(bus, "fails-once")
        testing.wait_for(lambda: attempts.count("fails-once") == 2, message="one retry")
        publish(bus, "always-fails")
        testing.wait_for(lambda: testing.queue_depth(bus, f"{SPEC.queue}.dead") == 1, message="a dead letter")
    assert attempts.count("fails-once") == 2 and attempts.count("always-fails") == 1 + len(RETRIES)
    with Connection(bus) as connection:
        dead = Queue(f"{SPEC.queue}.dead", no_declare=True)(connection.default_channel).get(no_ack=True)
    assert dead.headers["x-danbio-dead-reason"] == "handler-failed"
    assert dead.headers["x-danbio-attempts"] == 1 + len(RETRIES)
