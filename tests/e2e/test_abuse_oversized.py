"""Abuse (issue 10 part 5): oversized bodies, headers, URLs and JSON nested without end, at the
gateway and at the web UI. Each must get a clear 4xx (413, 431, 414 or 400) — never a 5xx, never a
hang — and must change nothing (no password reset started from a body that was too big).
"""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, text

from .abuse_support import WebSession

MB = 1024 * 1024
CLEAR = {400, 413, 414, 431}


def chunks(total: int, prefix: bytes = b""):
    """A body sent chunked (no Content-Length): the server cannot refuse it by its declared size."""
    if prefix:
        yield prefix
    sent = 0
    while sent < total:
        yield b"x" * 65536
        sent += 65536


def resets_started(e2e_databases) -> int:
    engine = create_engine(e2e_databases["identity"])
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM password_reset_requests")).scalar_one()
    finally:
        engine.dispose()


def oversized_requests(base: str, path: str) -> dict[str, requests.Response]:
    """Each on a connection of its own: a server may close one whose body it did not read."""
    url = base + path
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return {
        "2 MB body": requests.post(url, data=b"x" * (2 * MB), headers=form_type, timeout=60),
        "2 MB chunked body": requests.post(url, data=chunks(2 * MB), headers=form_type, timeout=60),
        "2 MB JSON": requests.post(url, data=b'{"username": "' + b"x" * (2 * MB) + b'"}', headers=json_type,
                                   timeout=60),
        "2 MB multipart": requests.post(url, files={"f": ("a.bin", b"x" * (2 * MB))}, timeout=60),
        "deep JSON": requests.post(url, data=b"[" * 100_000 + b"]" * 100_000, headers=json_type, timeout=60),
        "deep JSON in a field": requests.post(url, data=b'{"username": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                                              headers=json_type, timeout=60),
        "9 KB header": requests.get(url, headers={"X-Filler": "a" * 9000}, timeout=60),
        "9 KB Authorization": requests.get(url, headers={"Authorization": "Bearer " + "a" * 9000}, timeout=60),
        "200 headers": requests.get(url, headers={f"X-Filler-{n}": "a" for n in range(200)}, timeout=60),
        "9 KB URL": requests.get(url + "?q=" + "a" * 9000, timeout=60),
        "9 KB cookie": requests.get(url, headers={"Cookie": "c=" + "a" * 9000}, timeout=60),
        "5,000 form fields": requests.post(url, data="&".join(f"f{n}=a" for n in range(5000)), headers=form_type,
                                           timeout=60),
    }


def test_the_gateway_refuses_oversized_requests_clearly(stack, e2e_databases):
    before = resets_started(e2e_databases)
    answers = oversized_requests(stack.url("gateway"), "/api/identity/public/password-resets")
    statuses = {label: answer.status_code for label, answer in answers.items()}
    assert all(status < 500 for status in statuses.values()), statuses
    for label in ("2 MB body", "2 MB chunked body", "2 MB JSON", "2 MB multipart"):
        assert statuses[label] == 413, (label, statuses)
        assert answers[label].headers["Content-Type"].startswith("application/problem+json")
    for label in ("deep JSON", "deep JSON in a field"):
        assert statuses[label] == 400, (label, statuses, answers[label].text[:300])
    for label in ("9 KB header", "200 headers"):
        assert statuses[label] == 431, (label, statuses)
    assert statuses["9 KB URL"] == 414
    assert resets_started(e2e_databases) == before  # nothing of it started a reset
    print(f"\ngateway, oversized: {statuses}")


@pytest.fixture
def reset_form_prefix(stack):
    browser = WebSession(stack.url("web"))
    return browser, f"csrf_token={browser.token('/glemt-adgangskode')}&username=".encode()


def test_the_web_ui_refuses_oversized_requests_clearly_in_danish(stack, e2e_databases, reset_form_prefix):
    browser, prefix = reset_form_prefix
    before = resets_started(e2e_databases)
    answers = {}
    # with a valid CSRF token and session: what is refused is the size, not the form
    for label, body in (("2 MB form", prefix + b"x" * (2 * MB)), ("2 MB chunked form", chunks(2 * MB, prefix))):
        answer = browser.http.post(f"{stack.url('web')}/glemt-adgangskode", data=body, allow_redirects=False,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
        assert answer.status_code == 413 and "For stor forespørgsel" in answer.text, (label, answer.status_code)
        answers[label] = answer
        browser.http.close()  # the server may close a connection it did not read to the end
    answers.update(oversized_requests(stack.url("web"), "/glemt-adgangskode"))
    statuses = {label: answer.status_code for label, answer in answers.items()}
    assert all(status < 500 for status in statuses.values()), statuses
    assert all(status in CLEAR or status in (200, 302, 422) for status in statuses.values()), statuses
    for label in ("9 KB header", "200 headers"):
        assert statuses[label] == 431, (label, statuses)
    assert resets_started(e2e_databases) == before  # the 2 MB forms started no reset
    # a form with a sane size still works (the control)
    assert browser.submit("/glemt-adgangskode", username="x" * 300).status_code == 302
    print(f"\nweb, oversized: {statuses}")
