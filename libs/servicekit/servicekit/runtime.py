"""One service process's wiring: settings, database, outbox/inbox tables and migrations.

Built lazily by whichever process needs it (gunicorn worker, event worker, CLI), so nothing
connects at import time.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .config import ConfigError, ServiceSettings
from .db import Database
from .logs import configure_logging
from .messaging.consumer import Handler
from .messaging.tables import MessagingTables
from .migrations import upgrade
from .uow import UnitOfWork
from .web import broker_check


class Runtime:
    def __init__(self, settings: ServiceSettings, messaging: MessagingTables, migrations_dir: Path):
        self.settings = settings
        self.messaging = messaging
        self.migrations_dir = migrations_dir
        self.db = Database(settings.database_url)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.messaging, producer=self.settings.service)

    def migrate(self) -> None:
        upgrade(self.migrations_dir, self.settings.database_url)

    def readiness(self) -> dict[str, Callable[[], None]]:
        return {"database": self.db.ping, "broker": broker_check(self.settings.broker_url)}


def command_line(build_runtime: Callable[[], Runtime], *, handlers: dict[str, dict[str, Handler]],
                 commands: dict[str, Callable[[Runtime, list[str]], int]] | None = None,
                 argv: list[str] | None = None) -> int:
    """``python -m <service> migrate|worker|<command>``: the service's operational commands."""
    commands = dict(commands or {})
    parser = argparse.ArgumentParser(prog=None)
    parser.add_argument("command", choices=["migrate", "worker", *commands])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(argv)
    try:
        runtime = build_runtime()
    except ConfigError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    configure_logging(runtime.settings.service, runtime.settings.log_level)
    if parsed.command == "migrate":
        runtime.migrate()
        return 0
    if parsed.command == "worker":
        from .worker import run_worker

        run_worker(runtime.settings, runtime.db, runtime.messaging, handlers)
        return 0
    return commands[parsed.command](runtime, parsed.args)
