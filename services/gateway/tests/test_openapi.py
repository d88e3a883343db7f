from gateway.app import routed
from gateway.openapi import AggregatedOpenApi, merge


def service_document(name):
    return {
        "openapi": "3.0.3", "info": {"title": name, "version": "1"},
        "tags": [{"name": "departments"}],
        "paths": {
            "/departments": {"get": {"tags": ["departments"], "responses": {"200": {"content": {"application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Department"}}}}},
                "default": {"$ref": "#/components/responses/DEFAULT_ERROR"}}}},
            "/internal/principals/{subject}": {"get": {"responses": {}}},
            "/healthz": {"get": {"responses": {}}},
        },
        "components": {"schemas": {"Department": {"type": "object"}, "Error": {"type": "object"}},
                       "responses": {"DEFAULT_ERROR": {"content": {"application/json": {
                           "schema": {"$ref": "#/components/schemas/Error"}}}}}},
    }


def test_paths_move_under_the_service_and_names_do_not_collide():
    merged = merge({"identity": service_document("identity"), "patients": service_document("patients")},
                   routed=routed, title="t", version="1")
    assert sorted(merged["paths"]) == ["/api/identity/departments", "/api/patients/departments"]
    operation = merged["paths"]["/api/patients/departments"]["get"]
    assert operation["tags"] == ["patients: departments"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"] == \
        "#/components/schemas/patients.Department"
    assert operation["responses"]["default"]["$ref"] == "#/components/responses/patients.DEFAULT_ERROR"
    assert merged["components"]["responses"]["identity.DEFAULT_ERROR"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/identity.Error"}
    assert {"identity.Department", "patients.Department", "identity.Error"} <= set(merged["components"]["schemas"])
    assert merged["security"] == [{"bearer": []}]


def test_a_service_that_does_not_answer_is_listed_and_asked_again_soon():
    now = [0.0]
    calls = {"patients": 0}

    def patients():
        calls["patients"] += 1
        raise ConnectionError("down")

    aggregated = AggregatedOpenApi({"identity": lambda: service_document("identity"), "patients": patients},
                                   routed=routed, cache_seconds=60, clock=lambda: now[0])
    assert aggregated.document()["x-unavailable"] == ["patients"]
    aggregated.document()
    assert calls["patients"] == 1
    now[0] = 6
    aggregated.document()
    assert calls["patients"] == 2


def test_routed_paths():
    assert routed("/me") and routed("/departments") and routed("/internalize")
    assert not any(routed(path) for path in ("/internal", "/internal/principals/x", "/metrics", "/healthz",
                                             "/readyz", "/openapi.json", "/docs"))
