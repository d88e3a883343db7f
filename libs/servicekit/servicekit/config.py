"""Typed settings read from the environment: one frozen dataclass per service.

A setting names its variable (``{SERVICE}`` is replaced by the service's name in upper case), a
parser and a default. A missing required or malformed variable stops start-up with one message
naming every offending variable; values are never echoed, since some are secrets.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from sqlalchemy.engine import make_url

REQUIRED = object()

T = TypeVar("T")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable service."""


def setting(env: str, *, default: Any = REQUIRED, parse: Callable[[str], Any] = str, doc: str = "") -> Any:
    """Declare a dataclass field read from ``env``.

    A callable default is called with the service name and the environment being read.
    """
    return dataclasses.field(metadata={"env": env, "default": default, "parse": parse, "doc": doc})


def env_name(field: dataclasses.Field, service: str) -> str:
    return field.metadata["env"].replace("{SERVICE}", service.upper())


def load(cls: type[T], service: str, environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from the environment, or raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in dataclasses.fields(cls):
        if field.name == "service":
            values["service"] = service
            continue
        meta, name = field.metadata, env_name(field, service)
        raw = environ.get(name, "").strip()
        if not raw:
            default = meta["default"]
            if default is REQUIRED:
                problems.append(f"{name} is required: {meta['doc']}")
                continue
            try:
                values[field.name] = default(service, environ) if callable(default) else default
            except ValueError as exc:  # a computed default that does not apply here
                problems.append(f"{name} is {exc}")
            continue
        try:
            values[field.name] = meta["parse"](raw)
        except (ValueError, TypeError) as exc:
            problems.append(f"{name} is malformed: {exc}")
    if problems:
        raise ConfigError("invalid settings: " + "; ".join(problems))
    return cls(**values)


def describe(cls: type, service: str = "<service>") -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting: the README's settings table."""
    rows = []
    for field in dataclasses.fields(cls):
        if "env" not in field.metadata:
            continue
        default = field.metadata["default"]
        shown = "required" if default is REQUIRED else ("computed" if callable(default) else repr(default))
        rows.append((env_name(field, service), shown, field.metadata["doc"]))
    return rows


# --- parsers -------------------------------------------------------------------------------------

def parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("expected a whole number above 0")
    return value


def parse_positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("expected a number above 0")
    return value


def parse_millis_list(raw: str) -> tuple[int, ...]:
    """'100,500,2000' -> (100, 500, 2000): retry back-off steps in milliseconds."""
    steps = tuple(parse_positive_int(part.strip()) for part in raw.split(",") if part.strip())
    if not steps:
        raise ValueError("expected comma-separated milliseconds")
    return steps


def parse_log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def parse_database_url(raw: str) -> str:
    url = make_url_or_fail(raw)
    if url.get_backend_name() not in {"postgresql", "sqlite"}:
        raise ValueError("expected a postgresql:// or sqlite:// URL")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def make_url_or_fail(raw: str):
    try:
        return make_url(raw)
    except Exception as exc:  # sqlalchemy raises ArgumentError for anything unparsable
        raise ValueError("not a URL") from exc


def parse_broker_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in {"amqp", "amqps", "pyamqp", "sqla+sqlite", "sqla+postgresql", "memory"}:
        raise ValueError("expected amqp://, amqps:// or sqla+sqlite:// URL")
    return raw


# --- shared defaults -----------------------------------------------------------------------------

def data_dir(environ: Mapping[str, str]) -> Path:
    """Where embedded defaults keep their files (`make run` without servers)."""
    return Path(environ.get("DANBIO_DATA_DIR") or ".data").resolve()


def embedded_database_url(service: str, environ: Mapping[str, str]) -> str:
    return f"sqlite:///{data_dir(environ) / (service + '.db')}"


def embedded_broker_url(_service: str, environ: Mapping[str, str]) -> str:
    return f"sqla+sqlite:///{data_dir(environ) / 'bus.db'}"


@dataclasses.dataclass(frozen=True)
class ProcessSettings:
    """What every process needs, including those that own no data (gateway, web)."""

    service: str
    broker_url: str = setting(
        "DANBIO_BROKER_URL", default=embedded_broker_url, parse=parse_broker_url,
        doc="RabbitMQ (amqp://user:pass@host:5672/vhost); default: broker-less kombu transport on SQLite",
    )
    log_level: str = setting("DANBIO_LOG_LEVEL", default="INFO", parse=parse_log_level,
                             doc="DEBUG, INFO, WARNING or ERROR")
    # Every process that consumes (the gateway too) declares the whole topology with these.
    consumer_retry_delays_ms: tuple[int, ...] = setting(
        "DANBIO_RETRY_DELAYS_MS", default=(1000, 10000, 60000), parse=parse_millis_list,
        doc="back-off before each retry of a failing event handler; their count bounds the retries",
    )
    consumer_prefetch: int = setting(
        "DANBIO_CONSUMER_PREFETCH", default=20, parse=parse_positive_int,
        doc="unacknowledged messages a consumer may hold",
    )


def parse_public_key(raw: str):
    from .principal import load_public_key

    try:
        return load_public_key(raw.replace("\\n", "\n"))
    except Exception as exc:
        raise ValueError("expected an Ed25519 public key in PEM form") from exc


@dataclasses.dataclass(frozen=True)
class ServiceSettings(ProcessSettings):
    """What a service that owns data needs. Services subclass it to add their own settings."""

    principal_public_key: Any = setting(
        "DANBIO_PRINCIPAL_PUBLIC_KEY", parse=parse_public_key,
        doc="the gateway's Ed25519 public key (PEM) that signs the principal on every request",
    )

    database_url: str = setting(
        "{SERVICE}_DATABASE_URL", default=embedded_database_url, parse=parse_database_url,
        doc="the service's own database; default: an SQLite file under DANBIO_DATA_DIR",
    )
    relay_batch_size: int = setting(
        "DANBIO_RELAY_BATCH_SIZE", default=200, parse=parse_positive_int,
        doc="outbox rows published per broker confirm round",
    )
    relay_idle_wait: float = setting(
        "DANBIO_RELAY_IDLE_WAIT", default=1.0, parse=parse_positive_float,
        doc="seconds the relay waits for a commit notification before polling the outbox again",
    )
