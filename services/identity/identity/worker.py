"""identity's worker: servicekit's outbox relay and consumers, plus three periodic tasks: the check
that reminds administrators of an overdue quarterly review, the sweep that deletes Keycloak users
whose creation identity never recorded, and the copy of Keycloak's MitID links
(`python -m identity worker`)."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from servicekit.logs import correlation_id, new_correlation_id
from servicekit.runtime import Runtime
from servicekit.worker import run_worker

from .adapters.keycloak_directory import KeycloakUserDirectory
from .handlers import HANDLERS
from .service import keycloak_creations, mitid_links
from .service.reviews import remind_overdue_reviews

log = logging.getLogger(__name__)


class PeriodicTask:
    """Runs ``task`` at start and then every ``interval`` seconds; a failure is logged and retried
    at the next turn. Each task is safe to run in several workers at once (see the task)."""

    def __init__(self, name: str, task: Callable[[], int], *, interval: float):
        self.name, self.task, self.interval = name, task, interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            correlation_id.set(new_correlation_id())  # one per round, as per request
            try:
                done = self.task()
                if done:
                    log.info("periodic task did work", extra={"task": self.name, "count": done})
            except Exception:
                log.exception("periodic task failed; trying again later", extra={"task": self.name})
            stop.wait(self.interval)


def periodic_tasks(runtime: Runtime) -> list[PeriodicTask]:
    settings = runtime.settings
    directory = KeycloakUserDirectory(settings)
    return [
        # Each reminder is recorded with its event in one transaction: never sent twice.
        PeriodicTask("review-reminders", lambda: remind_overdue_reviews(runtime.uow),
                     interval=settings.review_check_seconds),
        # Advisory locks keep a sweep off creations still running (service/keycloak_creations.py).
        PeriodicTask("keycloak-creations", lambda: keycloak_creations.sweep(runtime.db, directory),
                     interval=settings.keycloak_sweep_seconds),
        PeriodicTask("mitid-links", lambda: mitid_links.sweep(runtime.uow, directory),
                     interval=settings.mitid_sweep_seconds),
    ]


def run(runtime: Runtime, *, stop: threading.Event | None = None) -> None:
    """Relay, consumers and the periodic tasks until ``stop`` is set (or SIGTERM/SIGINT)."""
    stop = stop or threading.Event()
    threads = [threading.Thread(target=task.run, args=(stop,), name=task.name, daemon=True)
               for task in periodic_tasks(runtime)]
    for thread in threads:
        thread.start()
    try:
        run_worker(runtime.settings, runtime.db, runtime.messaging, HANDLERS, stop=stop)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
