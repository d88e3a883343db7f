"""Helpers for tests against the real servers `make test` starts: throwaway databases, a clean
bus, polling. Test support only; no service imports it."""
from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import uuid
from typing import Callable, TypeVar
from urllib.parse import urlsplit

import psycopg
from kombu import Connection
from sqlalchemy.engine import make_url

from .messaging import topology

T = TypeVar("T")


class ServerMissing(RuntimeError):
    """A server the tests need is not there. Tests fail on it; they never skip."""


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ServerMissing(f"{name} is not set: run the tests with `make test`, which starts the servers")
    return value


def _conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def create_database(admin_url: str, prefix: str = "t") -> str:
    """A new empty PostgreSQL database; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_postgres(admin_url: str) -> None:
    try:
        with psycopg.connect(_conninfo(admin_url), connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        raise ServerMissing(f"PostgreSQL at {make_url(admin_url).host}:{make_url(admin_url).port} "
                            f"is not reachable: {exc}") from exc


def check_broker(url: str) -> None:
    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        raise ServerMissing(f"RabbitMQ is not reachable: {exc}") from exc


@contextlib.contextmanager
def private_vhost(url: str, ctl: str):
    """A fresh RabbitMQ virtual host for the duration of the block; yields its URL."""
    vhost = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    user = urlsplit(url).username

    def rabbitmqctl(*args: str) -> None:
        subprocess.run([ctl, "ctl", *args], check=True, capture_output=True, timeout=60)

    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield urlsplit(url)._replace(path="/" + vhost).geturl()
    finally:
        subprocess.run([ctl, "ctl", "delete_vhost", vhost], capture_output=True, timeout=60)


def topology_queue_names(retry_delays_ms: tuple[int, ...]) -> list[str]:
    names = []
    for spec in topology.CONSUMERS:
        names += [spec.queue, f"{spec.queue}.dead"]
        names += [topology.retry_queue_name(spec.queue, delay) for delay in retry_delays_ms]
    return names


def reset_bus(url: str, retry_delays_ms: tuple[int, ...]) -> None:
    """Delete every queue of the topology and declare it afresh: each test starts empty."""
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        for name in topology_queue_names(retry_delays_ms):
            channel.queue_delete(name)
        topology.declare(connection, retry_delays_ms)


def queue_depth(url: str, name: str) -> int:
    with Connection(url, connect_timeout=5) as connection:
        _, count, _ = connection.default_channel.queue_declare(name, passive=True)
        return count


def wait_for(predicate: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition") -> T:
    """Poll until ``predicate()`` is truthy; return it, or fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {value!r})")
        time.sleep(interval)


def all_at_once(calls: list[Callable[[], T]], *, timeout: float = 120.0) -> list[T]:
    """Run the calls in threads released together by a barrier (race tests); their results, in order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index: int, call: Callable[[], T]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def migration_drift(migrations_dir, metadata, database_url: str, *,
                    unmanaged_indexes: tuple[str, ...] = ()) -> list[str]:
    """Walk a service's Alembic migrations on an empty database: upgrade to head, downgrade to base,
    upgrade to head again. Returns what went wrong, one line each (empty: nothing did):

    - after each upgrade, every difference Alembic's autogenerate finds between the database and
      ``metadata`` (the tables the code declares), i.e. what ``alembic revision --autogenerate``
      would write;
    - after the downgrade, every table, sequence or enum type left behind (only Alembic's own
      ``alembic_version`` may stay).

    ``unmanaged_indexes``: indexes a migration makes on purpose with raw SQL that the metadata does
    not declare (autogenerate would drop them). Each must exist after each upgrade; only its
    ``remove_index`` difference is then not reported.

    A migration that fails to run raises. ``database_url`` must be a database of its own (see
    ``create_database``): the walk drops everything the migrations made.
    """
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from .db import make_engine
    from .migrations import alembic_config

    config = alembic_config(migrations_dir, database_url)
    problems: list[str] = []
    engine = make_engine(database_url, pooled=False)

    def compare(stage: str) -> None:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
            inspector = inspect(connection)
            indexes = {index["name"] for table in inspector.get_table_names()
                       for index in inspector.get_indexes(table)}
        problems.extend(f"{stage}: unmanaged index {name} missing"
                        for name in unmanaged_indexes if name not in indexes)
        problems.extend(f"{stage}: {difference!r}" for difference in differences
                        if not (isinstance(difference, tuple) and difference[0] == "remove_index"
                                and difference[1].name in unmanaged_indexes))

    def leftovers(stage: str) -> list[str]:
        with engine.connect() as connection:
            inspector = inspect(connection)
            left = [f"table {name}" for name in inspector.get_table_names() if name != "alembic_version"]
            if connection.dialect.name == "postgresql":
                left += [f"sequence {name}" for name in inspector.get_sequence_names()]
                left += [f"enum type {enum['name']}" for enum in inspector.get_enums()]
        return [f"{stage}: {item} left behind" for item in left]

    try:
        command.upgrade(config, "head")
        compare("after upgrade to head")
        command.downgrade(config, "base")
        left = leftovers("after downgrade to base")
        if left:  # upgrading again would only fail on what is still there
            return problems + left
        command.upgrade(config, "head")
        compare("after downgrade to base and upgrade to head again")
    finally:
        engine.dispose()
    return problems
