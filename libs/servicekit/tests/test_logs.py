import json
import logging

from servicekit.logs import JsonFormatter, correlation_id, mask_cpr


def test_cpr_shaped_numbers_are_masked():
    assert mask_cpr("patient 010203-1234 and 0102031234 seen") == "patient 010203-xxxx and 010203-xxxx seen"
    # Longer digit runs (phone numbers with country code, ids) are not CPR numbers.
    assert mask_cpr("+4512345678 and 123456789012") == "+4512345678 and 123456789012"
    assert mask_cpr("request 4f1234567890ab done") == "request 4f1234567890ab done"
    assert mask_cpr("cpr=0101011234;") == "cpr=010101-xxxx;"


def test_json_line_carries_service_correlation_id_and_extras():
    token = correlation_id.set("req-42")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "looked up %s", ("0101011234",), None)
        record.queue = "identity.departments"
        line = json.loads(JsonFormatter("identity").format(record))
    finally:
        correlation_id.reset(token)
    assert line["service"] == "identity"
    assert line["correlation_id"] == "req-42"
    assert line["queue"] == "identity.departments"
    assert line["msg"] == "looked up 010101-xxxx"
