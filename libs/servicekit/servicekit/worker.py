"""The worker process of a service: the outbox relay and the service's event consumers.

Runs until SIGTERM/SIGINT; both loops reconnect on their own after a broker or database outage.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from .config import ServiceSettings
from .db import Database
from .logs import configure_logging
from .messaging import topology
from .messaging.broker import ConfirmingPublisher, connect
from .messaging.consumer import ConsumerRunner, EventConsumer, Handler
from .messaging.relay import OutboxRelay
from .messaging.tables import MessagingTables
from .uow import UnitOfWork

log = logging.getLogger(__name__)


def build_consumers(settings: ServiceSettings, handlers: dict[str, dict[str, Handler]],
                    new_uow: Callable[[], UnitOfWork]) -> list[EventConsumer]:
    return [EventConsumer(topology.spec_for(queue), by_type, new_uow, retry_delays_ms=settings.consumer_retry_delays_ms)
            for queue, by_type in handlers.items()]


def run_worker(settings: ServiceSettings, db: Database, messaging: MessagingTables,
               handlers: dict[str, dict[str, Handler]], *, stop: threading.Event | None = None) -> None:
    """Run relay and consumers in threads until ``stop`` is set (or a signal arrives)."""
    configure_logging(settings.service, settings.log_level)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())

    def new_uow() -> UnitOfWork:
        return UnitOfWork(db, messaging, producer=settings.service)

    publisher = ConfirmingPublisher(connect(settings.broker_url), retry_delays_ms=settings.consumer_retry_delays_ms)
    relay = OutboxRelay(db, messaging, publisher, batch_size=settings.relay_batch_size,
                        idle_wait=settings.relay_idle_wait)
    threads = [threading.Thread(target=relay.run, args=(stop,), name="outbox-relay", daemon=True)]
    consumers = build_consumers(settings, handlers, new_uow)
    if consumers:
        runner = ConsumerRunner(settings.broker_url, consumers, prefetch=settings.consumer_prefetch,
                                retry_delays_ms=settings.consumer_retry_delays_ms, connect=connect)
        threads.append(threading.Thread(target=runner.run, args=(stop,), name="consumers", daemon=True))
    for thread in threads:
        thread.start()
    log.info("worker started", extra={"queues": list(handlers)})
    try:
        while not stop.wait(0.5):
            if not all(thread.is_alive() for thread in threads):
                log.error("a worker thread died; stopping so the supervisor restarts the process")
                stop.set()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        publisher.connection.release()
        db.dispose()
        log.info("worker stopped")
