"""CPR numbers stay out of URLs, log lines and error texts.

The log scan itself runs after every patients test (conftest.no_cpr_in_logs) over each line the
test produced; here it is shown to catch a CPR wherever a line may carry one, and run once more
over every line the session's patients tests have produced so far.
"""
import logging

from services.patients.tests.support import CAPTURED, CPR_A, CPR_B, ODENSE, cpr_leaks, new_patient, render


def test_no_cpr_parameter_in_any_path_or_query(app):
    document = app.test_client().get("/openapi.json").json
    components = document["components"]["schemas"]

    def properties(schema: dict) -> dict:
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        return schema.get("properties", {})

    cpr_in_body = []
    for path, operations in document["paths"].items():
        assert "cpr" not in path.lower()
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                assert "cpr" not in parameter["name"].lower(), (path, method, parameter)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "cpr" in properties(body):
                assert method == "post", (path, method)
                cpr_in_body.append(path)
    assert sorted(cpr_in_body) == ["/patients", "/patients/lookup", "/patients/search", "/platform/status", "/transfers"]


def test_the_scan_finds_a_cpr_wherever_a_line_carries_it():
    def line(message, *args, extra=None, exc=None):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, message, args, exc)
        for key, value in (extra or {}).items():
            setattr(record, key, value)
        return render(record)

    try:
        raise ValueError("bad 1508752004")
    except ValueError as error:
        exc_info = (type(error), error, error.__traceback__)
    caught = [line("cpr %s", CPR_A), line("ok", extra={"body": {"cpr": CPR_B}}), line("failed", exc=exc_info),
              line("digits 0101901009 in a row")]
    clean = [line("request", extra={"path": "/patients/9b2f6a0e-1234-4567-8901-234567890123"}),
             line("masked 010190-xxxx"), line("correlation 12345678901234567890123456789012"),
             line("phone +4512345678"), line("at 2026-03-01T12:00:00.123456+00:00")]
    assert cpr_leaks(caught) == caught
    assert cpr_leaks(clean) == []


def test_no_log_line_of_the_patients_tests_holds_a_cpr(caller, no_cpr_in_logs):
    # Some traffic of our own, the awkward cases included, then every line so far.
    odense = caller(ODENSE)
    new_patient(odense, ODENSE, CPR_A)
    odense.post("/patients", {"cpr": CPR_A, "name": "X Y", "diagnosis_group": "RA", "department_id": str(ODENSE)})
    odense.post("/patients/lookup", {"cpr": "310299-1234"})
    odense.post("/patients/search", {"cpr": CPR_A})
    caller(platform=True).post("/platform/status", {"cpr": CPR_B, "status": "active",
                                                    "reported_at": "2026-03-01T12:00:00+00:00"})
    every_line = CAPTURED + no_cpr_in_logs.lines
    assert any(line.startswith("request ") and "path='/patients/lookup'" in line for line in every_line), \
        "the scan saw no request lines"
    assert cpr_leaks(every_line) == []


def test_error_texts_never_repeat_the_number(caller):
    odense = caller(ODENSE)
    for body in ({"cpr": "310299-1234"}, {"cpr": "3102991234"}, {"cpr": "31029912345"}):
        response = odense.post("/patients/lookup", body)
        assert response.status_code == 422
        assert "310299" not in response.get_data(as_text=True)
