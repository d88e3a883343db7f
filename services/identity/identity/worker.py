"""identity's worker: servicekit's outbox relay and consumers, plus the periodic check that
reminds administrators of an overdue quarterly review (`python -m identity worker`)."""
from __future__ import annotations

import logging
import threading

from servicekit.runtime import Runtime
from servicekit.worker import run_worker

from .handlers import HANDLERS
from .service.reviews import remind_overdue_reviews

log = logging.getLogger(__name__)


class ReviewReminderLoop:
    """Runs the overdue-review check at start and then every ``interval`` seconds. Each reminder is
    recorded with its event in one transaction, so several workers, or a restart, never send one twice."""

    def __init__(self, runtime: Runtime, *, interval: float):
        self.runtime, self.interval = runtime, interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = remind_overdue_reviews(self.runtime.uow)
                if sent:
                    log.info("overdue review reminders emitted", extra={"count": sent})
            except Exception:
                log.exception("overdue review check failed; trying again later")
            stop.wait(self.interval)


def run(runtime: Runtime, *, stop: threading.Event | None = None) -> None:
    """Relay, consumers and the review reminder until ``stop`` is set (or SIGTERM/SIGINT)."""
    stop = stop or threading.Event()
    loop = ReviewReminderLoop(runtime, interval=runtime.settings.review_check_seconds)
    thread = threading.Thread(target=loop.run, args=(stop,), name="review-reminders", daemon=True)
    thread.start()
    try:
        run_worker(runtime.settings, runtime.db, runtime.messaging, HANDLERS, stop=stop)
    finally:
        stop.set()
        thread.join(timeout=30)
