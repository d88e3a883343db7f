"""notifications' worker: servicekit's outbox relay and consumers, plus the dispatcher that sends
queued messages (`python -m notifications worker`)."""
from __future__ import annotations

import logging
import threading
import time

from servicekit.db import ChannelListener, Database
from servicekit.runtime import Runtime
from servicekit.worker import run_worker

from .adapters.delivery_repository import DISPATCH_CHANNEL
from .handlers import build_handlers
from .service.dispatch import Dispatcher

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 60.0


class DispatchLoop:
    """Sends due messages until stopped: wakes on a commit that queued one (PostgreSQL NOTIFY), when
    the next retry falls due, or after the poll interval at the latest."""

    def __init__(self, dispatcher: Dispatcher, db: Database, *, poll_seconds: float):
        self.dispatcher, self.db, self.poll_seconds = dispatcher, db, poll_seconds

    def run(self, stop: threading.Event) -> None:
        waiter = ChannelListener(self.db, DISPATCH_CHANNEL) if self.db.is_postgres else None
        last_purge, backoff = 0.0, 0.1
        try:
            while not stop.is_set():
                try:
                    if self.dispatcher.dispatch_due() == self.dispatcher.batch_size:
                        continue  # more may be due
                    if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                        last_purge = time.monotonic()
                        self.dispatcher.erase_expired_secrets()
                    due_in = self.dispatcher.next_due_in()
                    timeout = self.poll_seconds if due_in is None else min(due_in, self.poll_seconds)
                    backoff = 0.1
                except Exception:
                    log.exception("dispatcher: database error, retrying")
                    timeout, backoff = backoff, min(backoff * 2, 5.0)
                if timeout <= 0:
                    continue
                if waiter is not None:
                    waiter.wait(timeout)
                else:
                    stop.wait(timeout)
        finally:
            if waiter is not None:
                waiter.close()


def run(runtime: Runtime, *, stop: threading.Event | None = None) -> None:
    """Relay, consumers and dispatcher until ``stop`` is set (or SIGTERM/SIGINT)."""
    settings = runtime.settings
    stop = stop or threading.Event()
    dispatcher = Dispatcher.from_settings(settings, runtime.uow)
    loop = DispatchLoop(dispatcher, runtime.db, poll_seconds=settings.dispatch_poll_seconds)
    thread = threading.Thread(target=loop.run, args=(stop,), name="dispatcher", daemon=True)
    thread.start()
    try:
        run_worker(settings, runtime.db, runtime.messaging, build_handlers(settings), stop=stop)
    finally:
        stop.set()
        thread.join(timeout=60)
