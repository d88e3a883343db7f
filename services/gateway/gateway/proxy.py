"""Forwarding one request to a service and its answer back: pooled keep-alive connections,
timeouts, bodies streamed both ways, hop-by-hop headers stripped, X-Forwarded-* set."""
from __future__ import annotations

import logging
from typing import Iterator

import urllib3
from flask import Request, Response
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

from servicekit.errors import DependencyUnavailable, ServiceError
from servicekit.principal import HEADER as PRINCIPAL_HEADER
from servicekit.web import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
# Not passed to services: the principal replaces the token; only the gateway may sign a principal;
# the X-Forwarded-* headers are set by the gateway, not believed from the caller.
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "cookie", "content-length", PRINCIPAL_HEADER.lower(),
                              "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                              "x-forwarded-prefix", "forwarded", "expect", REQUEST_ID_HEADER.lower()}
NOT_RETURNED = HOP_BY_HOP | {"server", "date"}

SMALL_BODY = 64 * 1024
CHUNK = 64 * 1024


class BadGateway(ServiceError):
    status, title = 502, "Bad gateway"


class GatewayTimeout(ServiceError):
    status, title = 504, "Gateway timeout"


def _connection_listed(headers) -> set[str]:
    """Headers named in Connection: hop-by-hop for this message too (RFC 9110 §7.6.1)."""
    values = headers.getlist("Connection")
    return {token.strip().lower() for value in values for token in value.split(",") if token.strip()}


class Upstream:
    """One service behind the gateway, with its own pool of kept-alive connections."""

    def __init__(self, name: str, base_url: str, *, pool_size: int, connect_timeout: float, read_timeout: float):
        self.name = name
        self.pool = urllib3.connection_from_url(base_url, maxsize=pool_size, block=False)
        self.timeout = Timeout(connect=connect_timeout, read=read_timeout)
        # A connection error is retried once (nothing reached the service); a read error only for
        # idempotent methods (urllib3's default list), as a kept-alive connection may have been closed.
        self.retries = Retry(total=1, redirect=0, status=0, raise_on_redirect=False, raise_on_status=False)

    def forward(self, request: Request, path: str, *, principal_header: str | None, request_id: str) -> Response:
        headers = self._request_headers(request, principal_header, request_id)
        body, chunked = self._request_body(request, headers)
        target = path + ("?" + request.query_string.decode("latin-1") if request.query_string else "")
        try:
            upstream = self.pool.urlopen(request.method, target, body=body, headers=headers, chunked=chunked,
                                         redirect=False, retries=self.retries if body is None else False,
                                         timeout=self.timeout, preload_content=False, decode_content=False,
                                         assert_same_host=False)
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._failure(exc.reason) from None
        except (ConnectTimeoutError, NewConnectionError, ReadTimeoutError, ProtocolError, OSError) as exc:
            raise self._failure(exc) from None
        return self._response(upstream, head=request.method == "HEAD")

    def _failure(self, exc) -> ServiceError:
        log.warning("service did not answer", extra={"upstream": self.name, "error": exc.__class__.__name__})
        if isinstance(exc, ReadTimeoutError):
            return GatewayTimeout(f"The {self.name} service did not answer in time.")
        if isinstance(exc, (ConnectTimeoutError, NewConnectionError, ConnectionRefusedError)):
            return DependencyUnavailable(f"The {self.name} service is not reachable right now.")
        return BadGateway(f"The {self.name} service broke off its answer.")

    @staticmethod
    def _request_headers(request: Request, principal_header: str | None, request_id: str) -> dict[str, str]:
        skip = NOT_FORWARDED | _connection_listed(request.headers)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in skip}
        if principal_header is not None:  # None: a public route, called by nobody in particular
            headers[PRINCIPAL_HEADER] = principal_header
        headers[REQUEST_ID_HEADER] = request_id
        headers["X-Forwarded-For"] = request.remote_addr or ""
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        return headers

    @staticmethod
    def _request_body(request: Request, headers: dict[str, str]):
        """(body, chunked): the request body as a stream, never read into memory here."""
        length = request.content_length
        if length:
            headers["Content-Length"] = str(length)
            return request.stream, False
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            stream = request.stream
            return iter(lambda: stream.read(CHUNK), b""), True
        return None, False

    def _response(self, upstream, *, head: bool) -> Response:
        skip = NOT_RETURNED | _connection_listed(upstream.headers)
        headers = [(name, value) for name, value in upstream.headers.items() if name.lower() not in skip]
        length = upstream.headers.get("Content-Length")
        if head or (length is not None and length.isdigit() and int(length) <= SMALL_BODY):
            # Small answers (most of them) are read whole: one write, connection back in the pool.
            try:
                data = b"" if head else upstream.read(decode_content=False)
            except (ReadTimeoutError, ProtocolError) as exc:
                upstream.release_conn()
                raise self._failure(exc) from None
            upstream.release_conn()
            return Response(data, status=upstream.status, headers=headers, direct_passthrough=True)
        return Response(self._stream(upstream), status=upstream.status, headers=headers, direct_passthrough=True)

    def _stream(self, upstream) -> Iterator[bytes]:
        try:
            yield from upstream.stream(CHUNK, decode_content=False)
        except (ReadTimeoutError, ProtocolError):
            # Headers are out already: all we can do is cut the connection, which the client sees.
            log.warning("service broke off a streamed answer", extra={"upstream": self.name})
            raise
        finally:
            upstream.release_conn()
