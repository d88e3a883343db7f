import json
import logging

import pytest
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from servicekit.config import ProcessSettings, load
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
    return thing


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
