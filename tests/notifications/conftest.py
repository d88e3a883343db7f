"""notifications through the real bus: identity's events published to RabbitMQ, notifications'
worker (relay, consumer, dispatcher) in a thread, a real SMTP server and SMS gateway."""
from __future__ import annotations

import json
import logging
import uuid

import pytest
from kombu import Connection, Queue

from servicekit.events import Envelope, new_event
from servicekit.logs import JsonFormatter
from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect
from servicekit.messaging.topology import EVENTS

from notifications.runtime import build_runtime
from notifications.worker import run as run_notifications_worker
from tests.bus.harness import StoppableThread


@pytest.fixture
def notifications_env(new_database, bus, principal_keys, smtp, sms_gateway, sealing_key):
    return {
        "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
        "NOTIFICATIONS_DATABASE_URL": new_database("notifications"),
        "DANBIO_BROKER_URL": bus,
        "DANBIO_RETRY_DELAYS_MS": "50,100,200",
        "DANBIO_RELAY_IDLE_WAIT": "0.2",
        "DANBIO_LOG_LEVEL": "DEBUG",
        "DANBIO_SEALING_KEY": sealing_key,
        "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
        "NOTIFICATIONS_SMTP_PORT": str(smtp.port),
        "NOTIFICATIONS_SMTP_SECURITY": "none",
        "NOTIFICATIONS_MAIL_FROM": "DANBIO – Dansk Reumatologisk Database <noreply@danbio.example.org>",
        "NOTIFICATIONS_MAIL_REPLY_TO": "DANBIO sekretariat <sekretariat@danbio.example.org>",
        "NOTIFICATIONS_WEB_URL": "https://danbio.example.org",
        "NOTIFICATIONS_SET_PASSWORD_URL": "https://danbio.example.org/aktiver/{token}",
        "NOTIFICATIONS_SMS_PROVIDER": "http",
        "NOTIFICATIONS_SMS_API_URL": sms_gateway.url,
        "NOTIFICATIONS_SMS_API_TOKEN": sms_gateway.token,
        "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.1",
        "NOTIFICATIONS_RETRY_MAX_SECONDS": "5",
        "NOTIFICATIONS_MAX_ATTEMPTS": "3",
        "NOTIFICATIONS_DISPATCH_POLL_SECONDS": "0.2",
    }


@pytest.fixture
def make_notifications(notifications_env):
    """Factory: notifications' runtime, migrated, with settings overridden."""
    made = []

    def make(**overrides):
        runtime = build_runtime({**notifications_env, **overrides})
        runtime.migrate()
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.db.dispose()


@pytest.fixture
def notifications(make_notifications):
    return make_notifications()


class NotificationsWorker(StoppableThread):
    """notifications' whole worker — relay, consumer and dispatcher — in a thread of the test."""

    def __init__(self, runtime):
        super().__init__(run_notifications_worker, runtime)


@pytest.fixture
def publish(bus):
    """Publish an event to RabbitMQ as its producer's outbox relay does (validated, confirmed)."""
    publisher = ConfirmingPublisher(connect(bus), retry_delays_ms=(50, 100, 200))

    def send(event_type: str, data: dict, *, producer: str = "identity", envelope: Envelope | None = None) -> Envelope:
        envelope = envelope or new_event(event_type, data, producer=producer)
        publisher.publish([OutgoingMessage(str(envelope.id), envelope.type, envelope.to_json())])
        return envelope

    yield send
    publisher.connection.release()


class Outcomes:
    """notifications.delivery.* events as a consumer (identity) would receive them."""

    def __init__(self, url: str):
        self.url = url
        self.name = f"test.outcomes.{uuid.uuid4().hex[:8]}"
        with Connection(url) as connection:
            Queue(self.name, exchange=EVENTS, routing_key="notifications.delivery.*", durable=False)(
                connection.default_channel).declare()
        self.events: list[dict] = []

    def drain(self) -> list[dict]:
        with Connection(self.url) as connection:
            queue = Queue(self.name, no_declare=True)(connection.default_channel)
            while (message := queue.get(no_ack=True)) is not None:
                self.events.append(json.loads(message.body))
        return self.events

    def of_type(self, event_type: str) -> list[dict]:
        return [event for event in self.drain() if event["type"] == event_type]

    def delete(self) -> None:
        with Connection(self.url) as connection:
            connection.default_channel.queue_delete(self.name)


@pytest.fixture
def outcomes(bus):
    collector = Outcomes(bus)
    yield collector
    collector.delete()


@pytest.fixture
def captured_logs():
    """Every log line the system under test writes during the test (any thread), formatted as
    production writes it."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            # "mail.log" is the test's own SMTP server (aiosmtpd) printing what it received.
            if record.name != "mail.log":
                lines.append(self.format(record))

    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter("notifications"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)
