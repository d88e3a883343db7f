"""A small HTTP/1.1 client for the gateway's forwarding path, on plain sockets.

Why not urllib3 here: profiling the gateway under load (py-spy, bench/gateway.py) showed urllib3 and
http.client taking about 30 % of the gateway's CPU per request (retry and timeout objects, header
validation, the email parser for response headers). Forwarding needs much less: write the request
head in one piece, read the status line and headers, then a Content-Length, chunked or
close-delimited body. Kept-alive connections wait in a LIFO pool; one that became readable while
idle (the service closed it) is discarded before use. urllib3 stays for the gateway's own
low-rate calls (principal look-ups, OpenAPI documents, JWKS).
"""
from __future__ import annotations

import select
import socket
import ssl
from collections import deque
from time import monotonic
from typing import Iterable, Iterator
from urllib.parse import urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class UpstreamError(Exception):
    """The exchange with the service failed; the subclass says how."""


class ConnectFailed(UpstreamError):
    """No connection could be made: nothing reached the service."""


class TimedOut(UpstreamError):
    """The service took longer than the read timeout."""


class BrokenAnswer(UpstreamError):
    """The connection broke, or the answer was not valid HTTP/1.x."""


class Unanswered(BrokenAnswer):
    """A kept-alive connection closed before any byte of an answer: the usual race with the
    service's keep-alive timeout, safe to retry for idempotent requests."""


# A kept-alive connection idle for less than this is reused for an idempotent request without
# first polling it: the services close idle connections after seconds (gunicorn's keepalive is
# 5 s), and should one have closed it anyway, the request is retried on a new connection. A
# request that is not idempotent always gets a connection that was seen open.
TRUST_IDLE_SECONDS = 1.0


class Connection:
    __slots__ = ("sock", "reader", "reused", "idle_since")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=65536)
        self.reused = False
        self.idle_since = 0.0

    def dropped(self) -> bool:
        """Readable while idle means closed by the service (or unasked-for bytes): unusable."""
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


class Answer:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes | Iterator[bytes]):
        self.status, self.headers, self.body = status, headers, body


class Http1Pool:
    """Connections to one origin (http or https), at most ``maxsize`` kept idle."""

    def __init__(self, base_url: str, *, maxsize: int, connect_timeout: float, read_timeout: float,
                 small_body: int = 64 * 1024, chunk: int = 64 * 1024):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s) URL, got {base_url!r}")
        default_port = 443 if parts.scheme == "https" else 80
        self.address = (parts.hostname, parts.port or default_port)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self.host_header = host if self.address[1] == default_port else f"{host}:{self.address[1]}"
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.maxsize, self.connect_timeout, self.read_timeout = maxsize, connect_timeout, read_timeout
        self.small_body, self.chunk = small_body, chunk
        self._idle: deque[Connection] = deque()

    # --- connections -------------------------------------------------------------------------

    def _connect(self) -> Connection:
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except OSError as exc:  # refused, unreachable, connect timeout
            raise ConnectFailed(f"{exc.__class__.__name__}: {exc}") from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.address[0])
            sock.settimeout(self.read_timeout)
        except OSError as exc:
            sock.close()
            raise ConnectFailed(f"{exc.__class__.__name__}: {exc}") from None
        return Connection(sock)

    def _get(self, idempotent: bool) -> Connection:
        while True:
            try:
                connection = self._idle.pop()  # LIFO: the warmest connection
            except IndexError:
                return self._connect()
            if not (idempotent and monotonic() - connection.idle_since < TRUST_IDLE_SECONDS) and connection.dropped():
                connection.close()
                continue
            connection.reused = True
            return connection

    def _put(self, connection: Connection) -> None:
        if len(self._idle) < self.maxsize:
            connection.idle_since = monotonic()
            self._idle.append(connection)
        else:
            connection.close()

    def clear(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # --- one exchange --------------------------------------------------------------------------

    def request(self, method: str, target: str, headers: list[tuple[str, str]], *,
                body: Iterable[bytes] | None = None, chunked: bool = False) -> Answer:
        """Send the request and read the answer's head; the body is bytes when small and
        Content-Length framed, else an iterator that gives the connection back when exhausted.
        Without a body, a failed connect is retried once, and so is an idempotent request whose
        kept-alive connection closed unanswered."""
        head = "".join([f"{method} {target} HTTP/1.1\r\nHost: {self.host_header}\r\n",
                        *[f"{name}: {value}\r\n" for name, value in headers],
                        "Transfer-Encoding: chunked\r\n\r\n" if chunked else "\r\n"]).encode("latin-1")
        attempts = 2 if body is None else 1
        idempotent = method in IDEMPOTENT
        while True:
            attempts -= 1
            try:
                connection = self._get(idempotent)
            except ConnectFailed:
                if attempts > 0:
                    continue
                raise
            try:
                return self._exchange(connection, method, head, body, chunked)
            except Unanswered:
                connection.close()
                if attempts > 0 and connection.reused and idempotent:
                    continue
                raise
            except BaseException:
                connection.close()
                raise

    def _exchange(self, connection: Connection, method: str, head: bytes, body, chunked: bool) -> Answer:
        sock = connection.sock
        try:
            if body is None:
                sock.sendall(head)
            else:
                sock.sendall(head)
                for part in body:
                    if not part:
                        continue
                    if chunked:
                        sock.sendall(b"%X\r\n%b\r\n" % (len(part), part))
                    else:
                        sock.sendall(part)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except socket.timeout:
            raise TimedOut("sending the request") from None
        except OSError as exc:
            # A kept-alive connection the service has just closed fails here or at the first read.
            raise (Unanswered if connection.reused else BrokenAnswer)(str(exc)) from None
        try:
            version, status, headers, framing = self._read_head(connection, method)
        except socket.timeout:
            raise TimedOut("waiting for the answer") from None
        except OSError as exc:
            raise (Unanswered if connection.reused else BrokenAnswer)(str(exc)) from None
        kind, length, keep_alive = framing
        if kind == "none":
            self._release(connection, keep_alive)
            return Answer(status, headers, b"")
        if kind == "length" and length <= self.small_body:
            try:
                data = connection.reader.read(length) if length else b""
            except socket.timeout:
                raise TimedOut("reading the answer") from None
            except OSError as exc:
                raise BrokenAnswer(str(exc)) from None
            if len(data) != length:
                raise BrokenAnswer(f"answer ended after {len(data)} of {length} bytes")
            self._release(connection, keep_alive)
            return Answer(status, headers, data)
        return Answer(status, headers, self._stream(connection, kind, length, keep_alive))

    def _release(self, connection: Connection, keep_alive: bool) -> None:
        if keep_alive:
            self._put(connection)
        else:
            connection.close()

    @staticmethod
    def _read_head(connection: Connection, method: str):
        reader = connection.reader
        while True:
            line = reader.readline(MAX_LINE + 1)
            if not line:
                raise Unanswered("connection closed before an answer")
            parts = line.split(None, 2)
            if len(line) > MAX_LINE or len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise BrokenAnswer("not an HTTP/1.x status line")
            version, status = parts[0], int(parts[1])
            headers: list[tuple[str, str]] = []
            while True:
                line = reader.readline(MAX_LINE + 1)
                if line in (b"\r\n", b"\n"):
                    break
                if not line or len(line) > MAX_LINE or len(headers) >= MAX_HEADERS:
                    raise BrokenAnswer("answer headers broken off or too long")
                if line[0] in b" \t" and headers:  # obsolete line folding: continues the last value
                    name, value = headers[-1]
                    headers[-1] = (name, value + " " + line.strip().decode("latin-1"))
                    continue
                name, colon, value = line.partition(b":")
                if not colon or not name or name != name.strip():
                    raise BrokenAnswer("malformed answer header")
                headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            return version, status, headers, Http1Pool._framing(version, status, headers, method)

    @staticmethod
    def _framing(version: bytes, status: int, headers: list[tuple[str, str]], method: str):
        """(kind, length, keep_alive): how the body is delimited (RFC 9112 §6.3)."""
        connection_tokens: set[str] = set()
        transfer_encoding = None
        lengths = set()
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                lengths.add(value.strip())
            elif lowered == "transfer-encoding":
                transfer_encoding = value.lower()
            elif lowered == "connection":
                connection_tokens.update(token.strip().lower() for token in value.split(","))
        if version == b"HTTP/1.1":
            keep_alive = "close" not in connection_tokens
        else:
            keep_alive = "keep-alive" in connection_tokens
        if method == "HEAD" or status in (204, 304) or status < 200:
            return "none", 0, keep_alive and status != 101
        if transfer_encoding is not None:
            if transfer_encoding.rsplit(",", 1)[-1].strip() == "chunked":
                return "chunked", 0, keep_alive
            return "close", 0, False
        if lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise BrokenAnswer("invalid Content-Length in the answer")
            return "length", int(next(iter(lengths))), keep_alive
        return "close", 0, False

    def _stream(self, connection: Connection, kind: str, length: int, keep_alive: bool) -> Iterator[bytes]:
        reader, chunk, complete = connection.reader, self.chunk, False
        try:
            if kind == "length":
                left = length
                while left:
                    data = reader.read1(min(left, chunk))
                    if not data:
                        raise BrokenAnswer(f"answer ended {left} bytes short")
                    left -= len(data)
                    yield data
            elif kind == "chunked":
                while True:
                    line = reader.readline(MAX_LINE + 1)
                    try:
                        size = int(line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise BrokenAnswer("malformed chunk size") from None
                    if size == 0:
                        while True:  # trailers, not passed on
                            line = reader.readline(MAX_LINE + 1)
                            if line in (b"\r\n", b"\n"):
                                break
                            if not line:
                                raise BrokenAnswer("answer ended in its trailers")
                        break
                    data = reader.read(size)
                    if len(data) != size or reader.read(2) not in (b"\r\n",):
                        raise BrokenAnswer("answer ended inside a chunk")
                    yield data
            else:
                while True:
                    data = reader.read1(chunk)
                    if not data:
                        break
                    yield data
            complete = True
        except socket.timeout:
            raise TimedOut("reading the answer") from None
        except OSError as exc:
            raise BrokenAnswer(str(exc)) from None
        finally:
            if complete and keep_alive:
                self._put(connection)
            else:
                connection.close()
