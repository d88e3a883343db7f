"""The forwarding route as plain WSGI, in front of Flask.

Every request to /api/<service>/... goes through the gateway, so its cost per request caps what
the services behind it can deliver on a shared machine. Flask's request machinery (request
context, URL map, before/after hooks, a Response object) cost about a fifth of the gateway's CPU
per forwarded request (py-spy, bench/gateway.py). FastForward serves those requests itself with
the very same steps (Gateway.admit, Upstream.exchange) and the same answers as the Flask app: the
request id (the caller's if well-formed, else a new one; in the log context and on the answer),
problem+json errors with WWW-Authenticate / Retry-After, the security headers, the request
metrics and log line. Anything it does not recognise (other paths, an /api/ path of an unusual
shape, an unknown method) goes on to Flask untouched.
"""
from __future__ import annotations

import json
import logging
import re
import time
from typing import Callable, Iterable

from werkzeug.http import HTTP_STATUS_CODES

from servicekit.errors import ServiceError, TooManyRequests
from servicekit.logs import correlation_id, new_correlation_id
from servicekit.metrics import HTTP_REQUESTS, HTTP_SECONDS
from servicekit.web import PROBLEM_JSON, REQUEST_ID_HEADER

from .tokens import InvalidToken

# The access log line and "unhandled error" come from the same logger as the Flask app's.
log = logging.getLogger("servicekit.web")

# What Flask's rules /api/<service> and /api/<service>/<path:rest> match; "//" is left to Flask,
# whose URL map redirects it to the merged path.
API_PATH = re.compile(r"/api/([^/]+)(?:/([^/].*))?\Z", re.DOTALL)
RULE_WITH_REST, RULE_WITHOUT_REST = "/api/<service>/<path:rest>", "/api/<service>"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")  # as servicekit.web accepts one


class FastForward:
    def __init__(self, app: Callable, gateway, *, methods: frozenset[str], max_body: int | None,
                 security_headers: dict[str, str], hsts: str, secret_path_prefixes: Iterable[str] = ()):
        self.app, self.gateway, self.methods, self.max_body = app, gateway, methods, max_body
        self.secret_path_prefixes = tuple(secret_path_prefixes)  # logged up to the prefix, as servicekit.web does
        self.defaults = [*security_headers.items(), ("Cache-Control", "no-store")]
        self.default_names = frozenset(name.lower() for name, _ in self.defaults)
        self.hsts = hsts
        self._metrics: dict[tuple[str, str, int], tuple] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/api/"):
            return self.app(environ, start_response)
        if not path.isascii():  # WSGI carries the path as latin-1; werkzeug decodes it as UTF-8
            path = path.encode("latin-1").decode("utf-8", "replace")
        match = API_PATH.match(path)
        method = environ.get("REQUEST_METHOD", "")
        if match is None or "//" in path or method not in self.methods:
            return self.app(environ, start_response)
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else new_correlation_id()
        context = correlation_id.set(request_id)
        try:
            service, rest = match.group(1), match.group(2)
            try:
                upstream, target, principal_header = self.gateway.admit(
                    method, path, service, rest or "", environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION"))
                answer = upstream.exchange(environ, target, principal_header=principal_header,
                                           request_id=request_id, max_body=self.max_body)
                status, headers, body = answer.status, answer.headers, answer.body
            except ServiceError as error:
                status, headers, body = _problem(error)
            except Exception:
                log.exception("unhandled error")
                status, headers, body = _problem(ServiceError(
                    f"Something went wrong on our side. Quote request id {request_id} to support."), status=500,
                    title="Internal error")
            self._finish(environ, headers, request_id)
            rule = RULE_WITH_REST if rest is not None else RULE_WITHOUT_REST
            self._record(method, rule, status, path, time.perf_counter() - started)
            start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN')}", headers)
            if isinstance(body, bytes):
                return [] if method == "HEAD" else [body]
            return body
        finally:
            correlation_id.reset(context)

    def _finish(self, environ: dict, headers: list[tuple[str, str]], request_id: str) -> None:
        """What the Flask app's after-request hooks add: request id, security headers unless the
        service set its own, HSTS over https."""
        present = {name.lower() for name, _ in headers}
        headers.extend(pair for pair in self.defaults if pair[0].lower() not in present)
        if environ.get("wsgi.url_scheme") == "https" and "strict-transport-security" not in present:
            headers.append(("Strict-Transport-Security", self.hsts))
        headers.append((REQUEST_ID_HEADER, request_id))

    def _record(self, method: str, rule: str, status: int, path: str, elapsed: float) -> None:
        slot = (method, rule, status)
        children = self._metrics.get(slot)
        if children is None:  # prometheus' labels() costs a lock and a lookup: done once per slot
            children = self._metrics[slot] = (HTTP_REQUESTS.labels(method, rule, status),
                                              HTTP_SECONDS.labels(method, rule))
        children[0].inc()
        children[1].observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            # The path only: query strings may carry search terms, and are not for the log.
            secret = next((prefix for prefix in self.secret_path_prefixes if path.startswith(prefix)), None)
            log.info("request", extra={"method": method, "path": path if secret is None else secret + "<redacted>",
                                       "status": status, "ms": round(elapsed * 1000, 1)})


def _problem(error: ServiceError, *, status: int | None = None, title: str | None = None):
    """(status, headers, body) of a problem+json answer, as servicekit.web.problem() writes it."""
    status = status or error.status
    body = {"status": status, "title": title or error.title, "detail": error.detail}
    if error.errors:
        body["errors"] = error.errors
    if error.codes:
        body["codes"] = error.codes
    data = (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()
    headers = [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(data)))]
    if isinstance(error, InvalidToken):
        description = error.detail.replace('"', "'")
        headers.append(("WWW-Authenticate", f'Bearer error="{error.error}", error_description="{description}"'))
    elif isinstance(error, TooManyRequests):
        headers.append(("Retry-After", str(getattr(error, "retry_after", 1))))
    return status, headers, data
