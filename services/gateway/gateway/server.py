"""`python -m gateway serve`: the gateway's web process, on Granian instead of gunicorn.

Why the gateway differs from the other services: every API request passes through it, so its CPU
per request caps what the services behind it can deliver. Under gunicorn's gthread worker the
server's own hand-offs (poller -> thread pool -> poller, per request) cost about 0.28 ms of CPU per
request, more than the gateway's own code; Granian parses HTTP and does the socket I/O in Rust
and runs only the WSGI app on Python threads. Measured with bench/gateway.py --compare-gunicorn
(README, "Benchmarks"): the gateway's CPU per forwarded request about halves (≈ 0.3 against
≈ 0.6 ms), which is what its share of the direct throughput at concurrency 16 turns on when the
machine is CPU-bound (≈ 77 % against ≈ 70 %).

The environment is read as servicekit/gunicorn_conf.py reads it for the other services: BIND
(host:port), WEB_CONCURRENCY (processes; keep 1: the principal cache and the rate-limit windows
live in the process), WEB_THREADS (Python threads serving requests), DANBIO_LOG_LEVEL. There is no
WEB_TIMEOUT: nothing kills a busy worker, and the gateway's own upstream timeouts bound a request.
FORWARDED_ALLOW_IPS is not read: X-Forwarded-* are believed only through GATEWAY_TRUSTED_PROXY_HOPS.
SIGTERM or SIGINT: stop accepting, let the requests in progress finish (at most
GRACEFUL_TIMEOUT_SECONDS), stop the access-change consumer, exit.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
from multiprocessing.util import Finalize
from typing import Callable, Iterable, Mapping

GRACEFUL_TIMEOUT_SECONDS = 20  # as gunicorn's graceful_timeout for the other services
BACKLOG = 2048  # gunicorn's default listen backlog

# What Granian itself puts in a request's environ; a process variable of such a name would be
# mistaken for (or hide) a part of the request, so it is taken out of the environment at start.
_REQUEST_KEYS = re.compile(r"(HTTP_.*|wsgi\..*|REQUEST_METHOD|PATH_INFO|QUERY_STRING|SCRIPT_NAME|REMOTE_ADDR|"
                           r"REMOTE_PORT|SERVER_NAME|SERVER_PORT|SERVER_PROTOCOL|SERVER_SOFTWARE|CONTENT_TYPE|"
                           r"CONTENT_LENGTH|GATEWAY_INTERFACE|RAW_URI|REQUEST_URI)\Z", re.DOTALL)

log = logging.getLogger("gateway.server")


def parse_bind(bind: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' as gunicorn's BIND; a bare host listens on 8000."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?", bind.strip())
    if match is None:
        raise ValueError(f"BIND: expected host:port, got {bind!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or 8000)
    if not 0 < port < 65536:
        raise ValueError(f"BIND: port {port} out of range")
    return host, port


def positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "")
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name}: must be at least 1, got {value}")
    return value


class WithoutProcessEnvironment:
    """Granian starts every request's environ from a copy of the process environment
    (granian/wsgi.py). That would hand the principal signing key to every request's code, and the
    forwarding path passes every HTTP_* key on as a header. This takes those keys out again
    (a few dict pops; the names cannot be request keys, see serve())."""

    def __init__(self, app: Callable, names: Iterable[str]):
        self.app = app
        self.names = tuple(names)

    def __call__(self, environ: dict, start_response: Callable):
        pop = environ.pop
        for name in self.names:
            pop(name, None)
        return self.app(environ, start_response)


def wsgi_app() -> WithoutProcessEnvironment:
    """Granian's factory: runs in the worker process, after the fork, like gunicorn's."""
    from .app import create_app

    app = create_app()
    # Granian's worker process ends without running atexit handlers; multiprocessing's exit
    # finalizers do run, and let the access-change consumer say goodbye to the broker.
    gateway = app.extensions["gateway"]

    def stop() -> None:
        gateway.stop()
        log.info("access-change consumer stopped")

    atexit.unregister(gateway.stop)
    Finalize(gateway, stop, exitpriority=10)
    return WithoutProcessEnvironment(app, list(os.environ))


def server_options(environ: Mapping[str, str]) -> dict:
    host, port = parse_bind(environ.get("BIND", "127.0.0.1:8000"))
    level = environ.get("DANBIO_LOG_LEVEL", "info").lower()
    return {
        "address": host, "port": port,
        "workers": positive_int(environ, "WEB_CONCURRENCY", 1),
        "blocking_threads": positive_int(environ, "WEB_THREADS", 16),
        # One Rust thread for sockets and HTTP: the Python threads are where the CPU goes.
        "runtime_threads": 1,
        "backlog": BACKLOG,
        "workers_kill_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "log_level": level if level in ("critical", "error", "warning", "info", "debug") else "info",
    }


def serve() -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.server import Server

    from servicekit.logs import configure_logging

    options = server_options(os.environ)
    configure_logging("gateway", options["log_level"].upper())
    # Granian warns at every start when there are more Python threads than twice the cores; the
    # gateway's threads spend their time waiting for the services, so more are meant.
    logging.getLogger("_granian").addFilter(lambda record: "Python threads" not in record.getMessage())
    for name in [name for name in os.environ if _REQUEST_KEYS.fullmatch(name)]:
        log.warning("environment variable left out: its name is that of a request key", extra={"variable": name})
        del os.environ[name]
    Server(
        "gateway.server:wsgi_app", factory=True, interface=Interfaces.WSGI,
        http=HTTPModes.http1,  # as gunicorn: HTTP/1.1 only, TLS ends before the gateway
        websockets=False,
        # Granian's own lines (start, stop, worker deaths) into the services' JSON log on stderr;
        # request lines come from the app (servicekit.web, fastpath), with the request id.
        log_dictconfig={"loggers": {"_granian": {"handlers": [], "propagate": True},
                                    "granian.access": {"handlers": [], "propagate": True}}},
        log_access=False,
        **options,
    ).serve()
