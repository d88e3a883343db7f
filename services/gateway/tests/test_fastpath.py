"""The forwarding route as plain WSGI: the answers Flask's hooks used to shape (request id,
security headers, problem+json errors) come out the same, and what it does not serve reaches Flask."""
import json
import re
import threading

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from gateway.app import HSTS, SECURITY_HEADERS
from gateway.fastpath import FastForward
from gateway.proxy import Upstream
from gateway.tokens import InvalidToken
from servicekit.errors import NotFound, TooManyRequests


@Request.application
def service(req: Request) -> Response:
    headers = {"X-Frame-Options": "SAMEORIGIN"} if req.path == "/framed" else {}
    return Response(json.dumps({"path": req.full_path, "headers": dict(req.headers)}), mimetype="application/json",
                    headers={**headers, "X-Request-ID": "the-service's-own", "Server": "hidden"})


@pytest.fixture(scope="module")
def service_url():
    server = make_server("127.0.0.1", 0, service, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Gateway:
    """Admits like the real one decides, by the token text, so each outcome can be asked for."""

    def __init__(self, url):
        self.upstream = Upstream("patients", url, pool_size=2, connect_timeout=1.0, read_timeout=5.0)
        self.admitted = []

    def admit(self, method, request_path, service, rest, client_ip, authorization):
        self.admitted.append((method, request_path, service, rest, client_ip))
        if service != "patients":
            raise NotFound(f"The gateway has no route for {request_path}.")
        if authorization == "Bearer bad":
            raise InvalidToken('The access token has "expired".')
        if authorization == "Bearer busy":
            error = TooManyRequests("Too many requests of this kind; try again later.")
            error.retry_after = 7
            raise error
        if authorization == "Bearer boom":
            raise RuntimeError("a bug")
        return self.upstream, "/" + rest, "signed"


@pytest.fixture
def setup(service_url):
    flask_app = Flask("rest")

    @flask_app.route("/<path:anything>")
    def rest(anything):
        return "flask"

    gateway = Gateway(service_url)
    app = FastForward(flask_app.wsgi_app, gateway, methods=frozenset({"GET", "HEAD", "POST"}), max_body=100,
                      security_headers=SECURITY_HEADERS, hsts=HSTS)
    return Client(app), gateway


def test_forwarded_answer_carries_request_id_and_security_headers(setup):
    client, gateway = setup
    response = client.get("/api/patients/regions?q=1", headers={"X-Request-ID": "abc-123", "Authorization": "Bearer ok"},
                          environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 200
    assert response.json["path"] == "/regions?q=1" and response.json["headers"]["X-Danbio-Principal"] == "signed"
    assert response.json["headers"]["X-Request-Id"] == "abc-123"
    assert response.json["headers"]["X-Forwarded-For"] == "192.0.2.7"
    assert response.headers.getlist("X-Request-ID") == ["abc-123"]  # the service's own is replaced
    assert "Server" not in response.headers or response.headers["Server"] != "hidden"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Cache-Control"] == "no-store" and "Strict-Transport-Security" not in response.headers
    assert gateway.admitted == [("GET", "/api/patients/regions", "patients", "regions", "192.0.2.7")]
    generated = client.get("/api/patients/regions", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_the_service_may_set_its_own_security_header_and_https_gets_hsts(setup):
    client, _ = setup
    response = client.get("/api/patients/framed", base_url="https://gateway.example.org")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert response.json["headers"]["X-Forwarded-Proto"] == "https"
    assert response.json["headers"]["X-Forwarded-Host"] == "gateway.example.org"


def test_refusals_are_problem_json(setup):
    client, _ = setup
    refused = client.get("/api/patients/regions", headers={"Authorization": "Bearer bad"})
    assert refused.status_code == 401 and refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json == {"status": 401, "title": "Not authenticated", "detail": 'The access token has "expired".'}
    assert refused.headers["WWW-Authenticate"] == \
        "Bearer error=\"invalid_token\", error_description=\"The access token has 'expired'.\""
    assert refused.headers["X-Content-Type-Options"] == "nosniff" and refused.headers["X-Request-ID"]
    busy = client.get("/api/patients/regions", headers={"Authorization": "Bearer busy"})
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "7"
    missing = client.get("/api/nowhere/x")
    assert missing.status_code == 404 and missing.json["detail"] == "The gateway has no route for /api/nowhere/x."
    broken = client.get("/api/patients/regions", headers={"Authorization": "Bearer boom", "X-Request-ID": "r-9"})
    assert broken.status_code == 500 and "Quote request id r-9" in broken.json["detail"]
    too_big = client.post("/api/patients/regions", data=b"x" * 101)
    assert too_big.status_code == 413 and too_big.headers["Content-Type"] == "application/problem+json"


def test_head_has_no_body_but_the_services_length(setup):
    client, _ = setup
    response = client.head("/api/patients/regions")
    assert response.status_code == 200 and response.data == b"" and int(response.headers["Content-Length"]) > 0


def test_what_it_does_not_serve_reaches_flask(setup):
    client, gateway = setup
    for path in ("/openapi.json", "/api/patients//regions", "/api/patients/", "/apis/x"):
        assert client.get(path).data == b"flask", path
    assert client.delete("/api/patients/regions").status_code == 405  # not in methods: Flask's answer
    assert gateway.admitted == []


def test_one_log_line_per_request_without_query_or_secret(service_url, caplog):
    app = FastForward(lambda environ, start_response: [], Gateway(service_url), methods=frozenset({"GET"}),
                      max_body=None, security_headers=SECURITY_HEADERS, hsts=HSTS,
                      secret_path_prefixes=("/api/patients/secret/",))
    with caplog.at_level("INFO", logger="servicekit.web"):
        Client(app).get("/api/patients/regions?name=Hansen")
        Client(app).get("/api/patients/secret/s3cr3t")
    lines = [(record.path, record.status) for record in caplog.records if record.getMessage() == "request"]
    assert lines == [("/api/patients/regions", 200), ("/api/patients/secret/<redacted>", 200)]
