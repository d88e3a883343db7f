"""Forwarding, against a real HTTP server standing in for any service (the proxy is plain HTTP:
what the service is does not matter here)."""
import json
import threading
import time

import pytest
from flask import Flask, request
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from gateway.proxy import Upstream
from servicekit.errors import ServiceError
from servicekit.web import problem

BIG = bytes(range(256)) * 4096  # 1 MiB


@Request.application
def upstream_app(req: Request) -> Response:
    if req.path == "/slow":
        time.sleep(1.5)
        return Response("late")
    if req.path == "/big":
        return Response((BIG[i:i + 65536] for i in range(0, len(BIG), 65536)), mimetype="application/octet-stream")
    body = req.get_data()
    return Response(json.dumps({"method": req.method, "path": req.path, "query": req.query_string.decode(),
                                "headers": dict(req.headers), "body_length": len(body),
                                "body_sum": sum(body) % 65536}), mimetype="application/json",
                    headers={"X-Upstream": "yes"})


@pytest.fixture(scope="module")
def upstream_url():
    server = make_server("127.0.0.1", 0, upstream_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def gateway_for(url: str, *, read_timeout: float = 5.0) -> Flask:
    upstream = Upstream("echo", url, pool_size=4, connect_timeout=1.0, read_timeout=read_timeout)
    app = Flask("test")

    @app.route("/<path:rest>", methods=["GET", "POST", "PUT", "HEAD"])
    def forward(rest):
        return upstream.forward(request, "/" + rest, principal_header="signed-principal", request_id="req-1")

    @app.errorhandler(ServiceError)
    def failed(error):
        return problem(error.status, error.title, error.detail)

    return app


def test_headers_are_cleaned_and_forwarded_headers_set(upstream_url):
    client = gateway_for(upstream_url).test_client()
    response = client.get("/echo?q=%C3%A6&x=1", environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers={
        "Authorization": "Bearer secret-token", "Cookie": "a=b", "X-Danbio-Principal": "forged",
        "Connection": "keep-alive, X-Private", "X-Private": "hop", "Keep-Alive": "timeout=5", "TE": "trailers",
        "Proxy-Authorization": "Basic x", "X-Forwarded-For": "10.9.9.9", "X-Request-ID": "from-caller",
        "X-Custom": "kept", "Accept-Language": "da"})
    seen = response.json
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert seen["query"] == "q=%C3%A6&x=1" and seen["path"] == "/echo"
    for name in ("authorization", "cookie", "x-private", "keep-alive", "te", "proxy-authorization"):
        assert name not in headers, name
    assert headers["x-danbio-principal"] == "signed-principal"
    assert headers["x-request-id"] == "req-1"
    assert headers["x-forwarded-for"] == "192.0.2.7"  # the caller's own X-Forwarded-For is not believed
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-host"] == "localhost"
    assert headers["x-custom"] == "kept" and headers["accept-language"] == "da"
    assert response.headers["X-Upstream"] == "yes"


def test_request_body_is_streamed_through(upstream_url):
    body = BIG[:300_000]
    response = gateway_for(upstream_url).test_client().post("/echo", data=body,
                                                            headers={"Content-Type": "application/octet-stream"})
    assert response.json["body_length"] == len(body) and response.json["body_sum"] == sum(body) % 65536


def test_large_answer_is_streamed_back_whole(upstream_url):
    response = gateway_for(upstream_url).test_client().get("/big", buffered=False)
    assert response.is_streamed
    assert b"".join(response.response) == BIG


def test_slow_service_is_504(upstream_url):
    response = gateway_for(upstream_url, read_timeout=0.3).test_client().get("/slow")
    assert response.status_code == 504 and "did not answer in time" in response.json["detail"]


def test_service_down_is_503():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    response = gateway_for(f"http://127.0.0.1:{port}").test_client().get("/echo")
    assert response.status_code == 503 and "not reachable" in response.json["detail"]
    assert time.monotonic() - started < 3
