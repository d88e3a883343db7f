"""patients' worker: servicekit's outbox relay, plus the periodic job that expires transfer
requests nobody decided in time (`python -m patients worker`)."""
from __future__ import annotations

import logging
import threading

from servicekit.logs import correlation_id, new_correlation_id
from servicekit.worker import run_worker

from .runtime import PatientsRuntime
from .service.transfers import expire_overdue

log = logging.getLogger(__name__)


class ExpiryLoop:
    """Every ``interval`` seconds, expire overdue transfer requests. Several workers may run it:
    each takes the rows it expires with SKIP LOCKED."""

    def __init__(self, runtime: PatientsRuntime, *, interval: float):
        self.runtime, self.interval = runtime, interval

    def run_once(self) -> int:
        # One correlation id per round, as per request: its audit rows and log lines belong together.
        correlation_id.set(new_correlation_id())
        with self.runtime.uow() as uow:
            expired = expire_overdue(uow)
        if expired:
            log.info("transfer requests expired", extra={"count": expired})
        return expired

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("expiring transfer requests failed; trying again next round")
            stop.wait(self.interval)


def run(runtime: PatientsRuntime, *, stop: threading.Event | None = None) -> None:
    """Relay and expiry loop until ``stop`` is set (or SIGTERM/SIGINT)."""
    stop = stop or threading.Event()
    loop = ExpiryLoop(runtime, interval=runtime.settings.expiry_interval_seconds)
    thread = threading.Thread(target=loop.run, args=(stop,), name="transfer-expiry", daemon=True)
    thread.start()
    try:
        run_worker(runtime.settings, runtime.db, runtime.messaging, {}, stop=stop)
    finally:
        stop.set()
        thread.join(timeout=30)
