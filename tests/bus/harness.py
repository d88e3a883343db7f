"""Running the patients and identity services' real code against real servers, for bus tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, select

from servicekit.worker import run_worker

REPO = Path(__file__).resolve().parents[2]


class StoppableThread:
    """``target(*args, stop=event)`` in a thread of the test process, for a ``with`` block."""

    def __init__(self, target, *args, join_timeout: float = 20):
        self.stop = threading.Event()
        self.join_timeout = join_timeout
        self.thread = threading.Thread(target=target, args=args, kwargs={"stop": self.stop}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=self.join_timeout)
        assert not self.thread.is_alive(), "worker thread did not stop"


class WorkerThread(StoppableThread):
    """A service's worker (relay + consumers) in a thread of the test process."""

    def __init__(self, runtime, handlers):
        super().__init__(run_worker, runtime.settings, runtime.db, runtime.messaging, handlers)


class WorkerProcess:
    """A service's worker as its own OS process (`python -m <service> worker`), killable."""

    def __init__(self, service: str, env: dict[str, str], log_path: Path):
        self.service, self.env, self.log_path = service, env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", self.service, "worker"], cwd=REPO,
                                        env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def count(runtime, table, *where) -> int:
    with runtime.db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def identity_department_names(identity) -> dict[str, str]:
    from identity.adapters.tables import departments

    with identity.db.engine.connect() as connection:
        return {row.code: row.name for row in connection.execute(select(departments.c.code, departments.c.name))}
