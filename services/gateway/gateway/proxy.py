"""Forwarding one request to a service and its answer back: pooled keep-alive connections,
timeouts, bodies streamed both ways, hop-by-hop headers stripped, X-Forwarded-* set."""
from __future__ import annotations

import logging
import re
from typing import Iterator

import urllib3
from flask import Request, Response

from servicekit.errors import DependencyUnavailable, ServiceError
from servicekit.principal import HEADER as PRINCIPAL_HEADER
from servicekit.web import REQUEST_ID_HEADER

from .http1 import Answer, ConnectFailed, Http1Pool, TimedOut, UpstreamError

log = logging.getLogger(__name__)

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
# Not passed to services: the principal replaces the token; only the gateway may sign a principal;
# the X-Forwarded-* headers are set by the gateway, not believed from the caller.
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "cookie", "content-length", PRINCIPAL_HEADER.lower(),
                              "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                              "x-forwarded-prefix", "forwarded", "expect", REQUEST_ID_HEADER.lower()}
# The gateway sets its own X-Request-ID on every answer.
NOT_RETURNED = HOP_BY_HOP | {"server", "date", REQUEST_ID_HEADER.lower()}

SMALL_BODY = 64 * 1024
CHUNK = 64 * 1024


class BadGateway(ServiceError):
    status, title = 502, "Bad gateway"


class GatewayTimeout(ServiceError):
    status, title = 504, "Gateway timeout"


def _connection_listed(value: str | None) -> set[str]:
    """Headers named in Connection: hop-by-hop for this message too (RFC 9110 §7.6.1)."""
    if not value:
        return set()
    return {token.strip().lower() for token in value.split(",") if token.strip()}


class PayloadTooLarge(ServiceError):
    status, title = 413, "Request Entity Too Large"


class Upstream:
    """One service behind the gateway. Forwarded requests go over ``http`` (gateway.http1, a lean
    HTTP/1.1 client with its own pool of kept-alive connections); ``pool`` (urllib3) serves the
    gateway's own few calls to the service (principal look-ups, its OpenAPI document)."""

    def __init__(self, name: str, base_url: str, *, pool_size: int, connect_timeout: float, read_timeout: float):
        self.name = name
        self.pool = urllib3.connection_from_url(base_url, maxsize=pool_size, block=False)
        self.http = Http1Pool(base_url, maxsize=pool_size, connect_timeout=connect_timeout,
                              read_timeout=read_timeout, small_body=SMALL_BODY, chunk=CHUNK)

    def exchange(self, environ: dict, path: str, *, principal_header: str | None, request_id: str,
                 max_body: int | None = None) -> Answer:
        """Forward the WSGI request in ``environ`` to ``path`` (already checked and quoted): the
        answer's status, the headers to return and its body (bytes, or an iterator when large)."""
        method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING", "")
        target = path + "?" + query if query else path
        if _UNSAFE_TARGET.search(target):
            raise ServiceError("The request's query string holds characters that are not allowed in a URL.")
        headers = self._request_headers(environ, principal_header, request_id)
        body, chunked = self._request_body(environ, headers, max_body)
        try:
            answer = self.http.request(method, target, headers, body=body, chunked=chunked)
        except UpstreamError as exc:
            raise self._failure(exc) from None
        skip = NOT_RETURNED
        listed = [value for name, value in answer.headers if name.lower() == "connection"]
        if listed:
            skip = skip | _connection_listed(",".join(listed))
        answer.headers = [(name, value) for name, value in answer.headers if name.lower() not in skip]
        if not isinstance(answer.body, bytes):
            answer.body = self._guarded(answer.body)
        return answer

    def forward(self, request: Request, path: str, *, principal_header: str | None, request_id: str) -> Response:
        """exchange() for a Flask request, as a Flask response."""
        answer = self.exchange(request.environ, path, principal_header=principal_header, request_id=request_id,
                               max_body=request.max_content_length)
        response = Response(answer.body, status=answer.status, headers=answer.headers, direct_passthrough=True)
        if isinstance(answer.body, bytes) and request.method == "HEAD":
            # The service's own Content-Length for the GET, not that of the empty body here.
            length = [value for name, value in answer.headers if name.lower() == "content-length"]
            if length:
                response.headers["Content-Length"] = length[0]
        return response

    def _failure(self, exc: Exception) -> ServiceError:
        log.warning("service did not answer", extra={"upstream": self.name, "error": exc.__class__.__name__})
        if isinstance(exc, TimedOut):
            return GatewayTimeout(f"The {self.name} service did not answer in time.")
        if isinstance(exc, ConnectFailed):
            return DependencyUnavailable(f"The {self.name} service is not reachable right now.")
        return BadGateway(f"The {self.name} service broke off its answer.")

    @staticmethod
    def _request_headers(environ: dict, principal_header: str | None, request_id: str) -> list[tuple[str, str]]:
        skip = NOT_FORWARDED
        connection = environ.get("HTTP_CONNECTION")
        if connection:
            skip = skip | _connection_listed(connection)
        headers = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                    continue  # a WSGI server's copies; CONTENT_TYPE below is the one
                name = _header_name(key)
                if name.lower() not in skip:
                    headers.append((name, value))
        content_type = environ.get("CONTENT_TYPE")
        if content_type:
            headers.append(("Content-Type", content_type))
        if principal_header is not None:  # None: a public route, called by nobody in particular
            headers.append((PRINCIPAL_HEADER, principal_header))
        headers.append((REQUEST_ID_HEADER, request_id))
        headers.append(("X-Forwarded-For", environ.get("REMOTE_ADDR") or ""))
        headers.append(("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")))
        headers.append(("X-Forwarded-Host", _host(environ)))
        return headers

    def _request_body(self, environ: dict, headers: list, max_body: int | None):
        """(body, chunked): the request body as a stream of parts, never read into memory whole."""
        raw_length = environ.get("CONTENT_LENGTH")
        stream = environ.get("wsgi.input")
        if raw_length:
            if not raw_length.isdigit():
                raise ServiceError("The Content-Length header is not a number.")
            length = int(raw_length)
            if length:
                if max_body is not None and length > max_body:
                    raise PayloadTooLarge("The data value transmitted exceeds the capacity limit.")
                headers.append(("Content-Length", str(length)))
                return _read_exactly(stream, length), False
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            return _read_to_end(stream, max_body), True
        return None, False

    def _guarded(self, parts: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from parts
        except UpstreamError:
            # Headers are out already: all we can do is cut the connection, which the client sees.
            log.warning("service broke off a streamed answer", extra={"upstream": self.name})
            raise


# Control characters and spaces would break the request line (http.client refused them too).
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")
_HEADER_NAMES: dict[str, str] = {}


def _header_name(key: str) -> str:
    """HTTP_X_CUSTOM -> X-Custom, as werkzeug spells it (memoised: the same few keys recur)."""
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").title()
        if len(_HEADER_NAMES) < 1000:
            _HEADER_NAMES[key] = name
    return name


def _host(environ: dict) -> str:
    """The Host the caller used, spelled as werkzeug's request.host (default port left out)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    default = ":443" if scheme == "https" else ":80"
    if host.endswith(default):
        host = host[:-len(default)]
    return host.rstrip(":")


def _read_exactly(stream, length: int) -> Iterator[bytes]:
    left = length
    while left:
        data = stream.read(min(left, CHUNK))
        if not data:
            raise ServiceError("The request body ended before its Content-Length.")
        left -= len(data)
        yield data


def _read_to_end(stream, limit: int | None) -> Iterator[bytes]:
    total = 0
    while True:
        data = stream.read(CHUNK)
        if not data:
            return
        total += len(data)
        if limit is not None and total > limit:
            raise PayloadTooLarge("The data value transmitted exceeds the capacity limit.")
        yield data
