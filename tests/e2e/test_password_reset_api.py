"""Password reset through the gateway (issue 7): the public routes need no token, the gateway limits
them per IP, and the answers say nothing about whether a username exists.

The per-user and per-request limits, expiry and reuse are tested against identity itself in
services/identity/tests/test_password_reset.py; here is what only the whole stack shows.
"""
from __future__ import annotations

import re
import statistics
import time
import uuid

import pytest
import requests

from .conftest import wait_until_gateway_ready

PER_IP = "POST /api/identity/public/** 4/60 ip"


@pytest.fixture(scope="module")
def limited_gateway(stack):
    """A gateway beside the stack's own with the production shape of the public routes' limit, behind
    one trusted proxy (as in deploy/k8s: the ingress, or the web UI for the pages before login)."""
    env = {**stack.gateway_env, "GATEWAY_RATE_LIMITS": PER_IP, "GATEWAY_TRUSTED_PROXY_HOPS": "1"}
    process = stack.start_web("gateway-reset", "gateway.app:create_app()", workers=1, threads=4, env=env)
    process.wait_ready()
    wait_until_gateway_ready(stack.url("gateway-reset"))
    yield stack.url("gateway-reset")
    process.stop()
    del stack.processes["gateway-reset"]


@pytest.fixture(scope="module")
def web_behind_ingress(stack, limited_gateway):
    """A web UI that believes one proxy's X-Forwarded-For (the ingress), calling that gateway."""
    env = {**stack.web_env, "WEB_GATEWAY_URL": limited_gateway, "WEB_TRUSTED_PROXY_HOPS": "1"}
    process = stack.start_web("web-reset", "web.app:create_app()", workers=1, threads=4, env=env)
    process.wait_ready()
    yield stack.url("web-reset")
    process.stop()
    del stack.processes["web-reset"]


class Browser:
    """A browser at ``address`` (as the ingress would report it) on the forgotten-password page."""

    def __init__(self, web: str, address: str):
        self.web, self.http = web, requests.Session()
        self.http.headers["X-Forwarded-For"] = address

    def ask(self, username: str) -> requests.Response:
        page = self.http.get(f"{self.web}/glemt-adgangskode", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self.http.post(f"{self.web}/glemt-adgangskode", data={"csrf_token": csrf, "username": username},
                              allow_redirects=False, timeout=10)


def test_the_web_ui_passes_each_browsers_address_to_the_per_ip_limit(web_behind_ingress):
    first, second = Browser(web_behind_ingress, "198.51.100.7"), Browser(web_behind_ingress, "198.51.100.8")
    answers = [first.ask(f"web-{uuid.uuid4().hex[:6]}").status_code for _ in range(5)]
    assert answers == [302] * 4 + [429], answers
    refused = first.ask("x")
    assert "For mange forsøg" in refused.text or "for mange forsøg" in refused.text
    # another browser has its own count: the web UI's own address is not what is limited
    assert second.ask("y").status_code == 302


def start(gateway: str, username: str) -> requests.Response:
    return requests.post(f"{gateway}/api/identity/public/password-resets", json={"username": username}, timeout=10)


def test_the_public_routes_are_limited_per_ip(limited_gateway):
    def ask(username: str, address: str) -> requests.Response:
        return requests.post(f"{limited_gateway}/api/identity/public/password-resets", json={"username": username},
                             headers={"X-Forwarded-For": address}, timeout=10)

    answers = [ask(f"ip-{uuid.uuid4().hex[:6]}", "203.0.113.5").status_code for _ in range(5)]
    assert answers[:4] == [202] * 4 and answers[4] == 429, answers
    refused = ask("x", "203.0.113.5")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert ask("x", "203.0.113.6").status_code == 202  # another address, its own count


def test_same_answer_through_the_gateway_whoever_asks(stack, new_user):
    gateway = stack.url("gateway")
    _, known = new_user()
    shapes, took = {}, {}
    for label, username in (("known", known.username), ("unknown", f"findes-ikke-{uuid.uuid4().hex[:6]}")):
        samples = []
        for _ in range(3):  # the 3 codes a username may have in an hour
            started = start(gateway, username)
            reset_id = started.json()["reset_id"]
            began = time.perf_counter()
            code = requests.post(f"{gateway}/api/identity/public/password-resets/{reset_id}/code", timeout=10)
            samples.append(time.perf_counter() - began)
            verify = requests.post(f"{gateway}/api/identity/public/password-resets/{reset_id}/verify",
                                   json={"code": "000000"}, timeout=10)
            shape = [(started.status_code, sorted(started.json()), started.headers["Content-Type"]),
                     (code.status_code, sorted(code.json())), (verify.status_code, verify.json())]
            assert shapes.setdefault(label, shape) == shape
        took[label] = statistics.median(samples)
    assert shapes["known"] == shapes["unknown"], shapes
    assert abs(took["known"] - took["unknown"]) < 0.1, took
