"""Drops cached principals when identity says a user's access changed.

Runs servicekit's consumer in a thread of the gateway process (one process per gateway instance,
so one cache). On RabbitMQ every instance reads a queue of its own (``gateway.principals.<id>``),
so each replica hears of every change; under the embedded transport the single
``gateway.principals`` queue is read.
"""
from __future__ import annotations

import os
import secrets
import socket
import threading

from prometheus_client import Counter

from servicekit.config import ProcessSettings
from servicekit.events import Envelope
from servicekit.messaging import topology
from servicekit.messaging.broker import connect
from servicekit.messaging.consumer import ConsumerRunner, StatelessConsumer

from .principals import PrincipalCache

QUEUE = "gateway.principals"
ACCESS_CHANGED = "identity.user.access_changed"
INVALIDATIONS = Counter("danbio_gateway_principal_invalidations_total",
                        "identity.user.access_changed events applied to the principal cache")


def instance_id() -> str:
    """New per process: a restarted gateway starts with an empty cache and needs no old events."""
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())[:40]
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


class Invalidation:
    def __init__(self, settings: ProcessSettings, cache: PrincipalCache):
        def drop(event: Envelope) -> None:
            cache.drop(event.data["subject"])
            INVALIDATIONS.inc()

        self.stop_event = threading.Event()
        self.consumer = StatelessConsumer(
            topology.spec_for(QUEUE), {ACCESS_CHANGED: drop}, instance=instance_id(),
            retry_delays_ms=settings.consumer_retry_delays_ms, on_started=cache.enable,
            on_stopped=lambda: cache.disable(shutting_down=self.stop_event.is_set()))
        self.runner = ConsumerRunner(settings.broker_url, [self.consumer], prefetch=settings.consumer_prefetch,
                                     retry_delays_ms=settings.consumer_retry_delays_ms, connect=connect)
        self.thread = threading.Thread(target=self.runner.run, args=(self.stop_event,), daemon=True,
                                       name="principal-invalidation")

    def start(self) -> "Invalidation":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)
