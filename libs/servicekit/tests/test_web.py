import json
import logging

import socket

import pytest
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from servicekit.config import ProcessSettings, load
from servicekit.db import make_engine
from servicekit.errors import Conflict
from servicekit.web import create_service_app

blp = Blueprint("things", __name__, url_prefix="/things")


class ThingSchema(Schema):
    name = fields.String(required=True)


@blp.route("", methods=["POST"])
@blp.arguments(ThingSchema)
@blp.response(201, ThingSchema)
def create(thing):
    if thing["name"] == "taken":
        raise Conflict("That name is taken.", errors={"name": ["already taken"]}, codes={"name": "name_taken"})
    if thing["name"] == "crash":
        raise RuntimeError("secret internals /etc/passwd")
    if thing["name"] == "database down":  # a PostgreSQL that does not answer (nothing listens there)
        with make_engine(f"postgresql+psycopg://nobody:secret@127.0.0.1:{closed_port()}/none",
                         pooled=False).connect():
            pass
    return thing


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def failing_check():
    raise ConnectionError("down")


@pytest.fixture
def client():
    app = create_service_app(load(ProcessSettings, "things", {}), title="things", blueprints=[blp],
                             readiness={"ok": lambda: None})
    return app.test_client()


def test_validation_errors_are_problem_json_naming_the_field(client):
    response = client.post("/things", json={})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"]["json"]["name"]


def test_service_errors_keep_their_status_and_words(client):
    response = client.post("/things", json={"name": "taken"})
    assert (response.status_code, response.json["detail"]) == (409, "That name is taken.")
    assert response.json["errors"] == {"name": ["already taken"]}
    assert response.json["codes"] == {"name": "name_taken"}  # what the web UI words in Danish


def test_unexpected_errors_hide_internals_but_log_them_with_the_request_id(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.post("/things", json={"name": "crash"}, headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 500
    assert "passwd" not in response.get_data(as_text=True)
    assert "abc-123" in response.json["detail"]
    assert response.headers["X-Request-ID"] == "abc-123"
    assert any("secret internals" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_an_unreachable_database_is_a_503_not_a_500(client):
    """issue 10 (outages): while PostgreSQL restarts, requests failed with 500 "Internal error"."""
    response = client.post("/things", json={"name": "database down"})
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "database" in response.json["detail"] and "secret" not in response.get_data(as_text=True)


def test_bad_request_ids_are_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert response.headers["X-Request-ID"] != "<script>" and len(response.headers["X-Request-ID"]) == 32


def test_unknown_route_is_problem_json(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404 and response.json["title"] == "Not Found"


def test_health_metrics_and_openapi(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json["checks"] == {"ok": "ok"}
    client.post("/things", json={"name": "a"})
    assert b'danbio_http_requests_total{endpoint="/things",method="POST",status="201"}' in client.get("/metrics").data
    spec = client.get("/openapi.json").json
    assert "/things" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_readiness_reports_what_is_down():
    app = create_service_app(load(ProcessSettings, "things", {}), title="t", blueprints=[],
                             readiness={"database": failing_check})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unavailable: ConnectionError"


public_blp = Blueprint("public_things", __name__, url_prefix="/public/things")


@public_blp.route("")
def public_things():
    return {"hello": "anyone"}


def test_public_routes_need_no_principal_but_the_others_do():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    app = create_service_app(load(ProcessSettings, "things", {}), title="things", blueprints=[blp, public_blp],
                             readiness={}, principal_key=Ed25519PrivateKey.generate().public_key())
    client = app.test_client()
    assert client.get("/public/things").get_json() == {"hello": "anyone"}
    assert client.post("/things", json={"name": "x"}).status_code == 401


# issue 10 (abuse): input that reached PostgreSQL, Keycloak or the JSON decoder and came back as a 500.
@pytest.mark.parametrize("body", [
    '{"name": "A\\u0000B"}',                 # PostgreSQL refuses NUL in text
    '{"name": "\\ud800x"}',                  # an unpaired surrogate has no UTF-8
    '{"name": "ok", "\\u0000": 1}',          # in a key too
    '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}",  # RecursionError in the decoder
])
def test_json_that_no_service_can_take_is_a_400(client, body):
    response = client.post("/things", data=body, content_type="application/json")
    assert response.status_code == 400, response.json
    assert response.mimetype == "application/problem+json"


def test_nul_in_the_query_string_is_a_400(client):
    assert client.get("/healthz?q=%00").status_code == 400
    assert client.post("/things", json={"name": "fine ÆØÅ 😀 \u202e"}).status_code == 201


def chunked_post(app, body: bytes):
    """A POST as gunicorn hands a chunked one over: no CONTENT_LENGTH, the input terminated."""
    import io

    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(path="/things", method="POST", input_stream=io.BytesIO(body),
                             content_type="application/json", headers={"Transfer-Encoding": "chunked"}).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    answer, status, _ = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    return int(status.split()[0]), b"".join(answer)


def test_a_chunked_body_over_the_limit_is_a_413_not_silently_cut(client):
    """Werkzeug cut a chunked body at MAX_CONTENT_LENGTH without a word; the view saw a truncated body."""
    app = client.application
    status, _ = chunked_post(app, b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert status == 413
    status, body = chunked_post(app, b'{"name": "small"}')
    assert status == 201 and json.loads(body) == {"name": "small"}
