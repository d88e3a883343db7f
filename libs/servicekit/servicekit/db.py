"""The database: engine, sessions, and the naming convention every service's metadata uses.

PostgreSQL (psycopg 3) in tests and production; SQLite files for `make run` without servers.
"""
from __future__ import annotations

import time

import psycopg
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    # hide_parameters: a logged database error must not carry the row's personal data.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True, **({} if pooled else {"poolclass": NullPool}))
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if not pooled:
        return create_engine(url, poolclass=NullPool, hide_parameters=True)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800,
                         hide_parameters=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web and worker processes read while the other writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One service's database: an engine and a session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


class ChannelListener:
    """A dedicated PostgreSQL connection LISTENing on one channel: a loop that would otherwise
    poll waits here and wakes as soon as a committing transaction NOTIFYs the channel."""

    def __init__(self, db: Database, channel: str):
        self._conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._channel = channel
        self._connection: psycopg.Connection | None = None

    def wait(self, timeout: float) -> None:
        """Return on the next notification, or after ``timeout`` seconds."""
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._conninfo, autocommit=True)
                self._connection.execute(f"LISTEN {self._channel}")
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            self.close()
            time.sleep(min(timeout, 1.0))

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg.Error:
                pass
            self._connection = None
