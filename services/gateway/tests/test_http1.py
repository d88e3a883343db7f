"""The forwarding client, against a real TCP server that answers with exact bytes, so that each
framing (length, chunked, close-delimited, none) and each kind of failure can be produced."""
import socket
import threading
import time

import pytest

from gateway.http1 import BrokenAnswer, ConnectFailed, Http1Pool, TimedOut

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
ANSWERS = {
    "/ok": OK,
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    "/until-close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nread me to the end",
    "/head": b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Folded: a\r\n b\r\n\r\nok",
    "/no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "/garbage": b"SMTP ready\r\n\r\n",
    "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc",
}


class Server:
    """Reads each request (head and body), records it, answers from ANSWERS by path. A path
    ending in -then-close closes the connection after answering, without saying so."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = 0
        self.requests: list[tuple[bytes, bytes]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._connection, args=(connection,), daemon=True).start()

    def _connection(self, connection):
        reader = connection.makefile("rb")
        with connection:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                body = self._body(reader, head)
                self.requests.append((head, body))
                path = head.split(b" ")[1].decode().split("?")[0]
                if path == "/slow":
                    time.sleep(0.5)
                    path = "/ok"
                close = path.endswith("-then-close")
                connection.sendall(ANSWERS.get(path.removesuffix("-then-close"), OK))
                if close or path in ("/until-close", "/short"):
                    connection.shutdown(socket.SHUT_RDWR)
                    return

    @staticmethod
    def _body(reader, head: bytes) -> bytes:
        lowered = head.lower()
        if b"content-length:" in lowered:
            length = int(lowered.split(b"content-length:")[1].split(b"\r\n")[0])
            return reader.read(length)
        if b"transfer-encoding: chunked" in lowered:
            body = b""
            while True:
                size = int(reader.readline().strip(), 16)
                data = reader.read(size + 2)[:-2]
                if size == 0:
                    return body
                body += data
        return b""


@pytest.fixture
def server():
    server = Server()
    yield server
    server.listener.close()


def pool_for(url, **options):
    return Http1Pool(url, **{"maxsize": 4, "connect_timeout": 1.0, "read_timeout": 2.0, **options})


def body_of(answer) -> bytes:
    return answer.body if isinstance(answer.body, bytes) else b"".join(answer.body)


def test_kept_alive_connection_is_reused_and_headers_are_sent(server):
    pool = pool_for(server.url)
    for _ in range(3):
        answer = pool.request("GET", "/ok?x=1", [("X-Custom", "kept")])
        assert answer.status == 200 and answer.body == b"hello" and ("Content-Type", "text/plain") in answer.headers
    assert server.accepted == 1
    head = server.requests[0][0].decode()
    assert head.startswith("GET /ok?x=1 HTTP/1.1\r\n") and f"Host: {server.url[7:]}\r\n" in head
    assert "X-Custom: kept\r\n" in head


def test_chunked_answer_is_streamed_and_its_connection_reused(server):
    pool = pool_for(server.url)
    answer = pool.request("GET", "/chunked", [])
    assert not isinstance(answer.body, bytes)
    assert b"".join(answer.body) == b"hello world"
    assert pool.request("GET", "/ok", []).body == b"hello" and server.accepted == 1


def test_close_delimited_answer_is_read_to_the_end(server):
    pool = pool_for(server.url)
    assert body_of(pool.request("GET", "/until-close", [])) == b"read me to the end"
    assert pool.request("GET", "/ok", []).body == b"hello" and server.accepted == 2


def test_head_and_204_have_no_body(server):
    pool = pool_for(server.url)
    head = pool.request("HEAD", "/head", [])
    assert head.body == b"" and ("Content-Length", "1234") in head.headers
    assert pool.request("GET", "/no-content", []).status == 204
    assert pool.request("GET", "/ok", []).body == b"hello" and server.accepted == 1


def test_interim_answer_skipped_and_folded_header_joined(server):
    answer = pool_for(server.url).request("GET", "/continue", [])
    assert answer.status == 201 and answer.body == b"ok" and ("X-Folded", "a b") in answer.headers


def test_connection_closed_by_the_service_is_not_fatal(server):
    """The race with a service's keep-alive timeout: an idempotent request is retried on a new
    connection; a POST is given a connection that was seen open."""
    pool = pool_for(server.url)
    assert pool.request("GET", "/ok-then-close", []).body == b"hello"
    assert pool.request("GET", "/ok", []).body == b"hello"  # unpolled, failed, retried
    assert pool.request("GET", "/ok-then-close", []).body == b"hello"
    time.sleep(0.05)
    assert pool.request("POST", "/ok", [("Content-Length", "0")]).body == b"hello"  # polled: seen closed
    assert server.accepted == 3


def test_request_bodies_by_length_and_chunked(server):
    pool = pool_for(server.url)
    data = bytes(range(256)) * 500
    pool.request("POST", "/ok", [("Content-Length", str(len(data)))], body=iter([data[:1000], data[1000:]]))
    pool.request("POST", "/ok", [], body=iter([data[:70000], b"", data[70000:]]), chunked=True)
    assert [body for _, body in server.requests] == [data, data]
    assert b"Transfer-Encoding: chunked\r\n" in server.requests[1][0]


def test_failures_say_what_went_wrong(server):
    pool = pool_for(server.url, read_timeout=0.2)
    with pytest.raises(BrokenAnswer):
        pool.request("GET", "/garbage", [])
    with pytest.raises(BrokenAnswer):
        pool.request("GET", "/short", [])
    with pytest.raises(TimedOut):
        pool.request("GET", "/slow", [])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectFailed):
        pool_for(f"http://127.0.0.1:{port}").request("GET", "/ok", [])
