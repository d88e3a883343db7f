"""Real service processes for end-to-end tests: web processes (gunicorn; the gateway on Granian)
and workers on free ports, started from the repository's own commands, with their logs kept for
the failure message.

Used by tests/e2e/conftest.py; later end-to-end tests build their own stacks with it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_argv(app: str) -> list[str]:
    """gunicorn as `make run` starts it (servicekit.gunicorn_conf; BIND etc. from the environment)."""
    return [sys.executable, "-m", "gunicorn", "-c", "python:servicekit.gunicorn_conf", app]


# Web processes the Procfile starts otherwise than under gunicorn (same BIND, WEB_* environment).
WEB_COMMANDS = {"gateway.app:create_app()": [sys.executable, "-m", "gateway", "serve"]}


def web_argv(app: str) -> list[str]:
    """The web process for ``app`` as `make run` starts it."""
    return WEB_COMMANDS.get(app) or gunicorn_argv(app)


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_url: str | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, cwd=REPO, env={**os.environ, **self.env}, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> "Process":
        """Until ``ready_url`` answers 200 (or at once for a process without one)."""
        deadline = time.monotonic() + timeout
        while self.ready_url:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.ready_url, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready at {self.ready_url} after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        # The whole session: the server's master process and its workers.
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]


class Stack:
    """Processes sharing one environment; each web process on a free port of its own."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = dict(env)
        self.log_dir = log_dir
        self.processes: dict[str, Process] = {}
        self.urls: dict[str, str] = {}

    def reserve(self, name: str) -> str:
        """A URL for a web process started later (so that others can be told where it will be)."""
        if name not in self.urls:
            self.urls[name] = f"http://127.0.0.1:{free_port()}"
        return self.urls[name]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> str:
        """Run `python <args>` to completion (a migration, a seed); fail with its output."""
        result = subprocess.run([sys.executable, *args], cwd=REPO, env={**os.environ, **self.env, **(env or {})},
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"python {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def start_web(self, name: str, app: str, *, workers: int = 1, threads: int = 4,
                  env: dict[str, str] | None = None) -> Process:
        url = self.reserve(name)
        process_env = {**self.env, **(env or {}), "BIND": url.removeprefix("http://"),
                       "WEB_CONCURRENCY": str(workers), "WEB_THREADS": str(threads)}
        return self._start(Process(name, web_argv(app), process_env, self.log_dir / f"{name}.log",
                                   ready_url=f"{url}/healthz"))

    def start_worker(self, service: str, *, env: dict[str, str] | None = None) -> Process:
        name = f"{service}-worker"
        return self._start(Process(name, [sys.executable, "-m", service, "worker"], {**self.env, **(env or {})},
                                   self.log_dir / f"{name}.log"))

    def _start(self, process: Process) -> Process:
        if process.name in self.processes:
            raise ValueError(f"{process.name} already started")
        self.processes[process.name] = process.start()
        return process

    def wait_ready(self, timeout: float = 60.0) -> None:
        for process in self.processes.values():
            process.wait_ready(timeout)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def url(self, name: str) -> str:
        return self.urls[name]

    def log(self, name: str) -> str:
        return self.processes[name].log_text()
