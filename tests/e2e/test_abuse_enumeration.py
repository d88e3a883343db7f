"""Abuse (issue 10 part 5): user enumeration through the password reset, compared over many tries.

Four kinds of username: a user with a phone, a user without one (the code goes by e-mail), a user
Keycloak has locked, and a username nobody has. For each step of the reset (start, send a code,
verify a wrong code, a code over the hourly limit) the status, content type, header names and body
shape must be the same, and through the web UI the pages too.

Timing is a coarse guard, never a fine one (a loaded 2-core machine decides nothing to the
millisecond): tries of the four kinds are interleaved, each step's median per kind is compared,
and the spread must stay under max(20 ms, one Keycloak admin round trip measured alongside) — so
gross differences (Keycloak calls, mail or SMS sent in the request, a sleep) fail it, jitter does
not. That no step calls Keycloak at all is identity's design (service/password_reset.py) and its
own test (services/identity/tests/test_password_reset.py::test_no_user_enumeration).
"""
from __future__ import annotations

import json
import statistics
import time
import uuid

import requests

from .abuse_support import WebSession, invented_phone, lock_out, make_user

RESETS = "/api/identity/public/password-resets"
KINDS = ("known", "no phone", "blocked", "unknown")
USERS_PER_KIND = 3   # two for the API's 3 + 3 codes, one for the web UI (3 codes per username an hour)
VOLATILE_HEADERS = {"date", "x-request-id", "content-length"}


def shape(response: requests.Response, *, whole_body: bool = False):
    body = response.json()
    return (response.status_code, response.headers.get("Content-Type"),
            sorted(name.lower() for name in response.headers if name.lower() not in VOLATILE_HEADERS),
            json.dumps(body, sort_keys=True) if whole_body else sorted(body))


def timed(call):
    began = time.perf_counter()
    answer = call()
    return answer, time.perf_counter() - began


def test_the_reset_says_nothing_about_who_exists(stack, identity_runtime, user_directory, keycloak_realm):
    gateway = stack.url("gateway")
    usernames = {kind: [] for kind in KINDS}
    for _ in range(USERS_PER_KIND):
        usernames["known"].append(make_user(identity_runtime, user_directory, phone=invented_phone())[1])
        usernames["no phone"].append(make_user(identity_runtime, user_directory)[1])
        blocked = make_user(identity_runtime, user_directory, phone=invented_phone())[1]
        lock_out(keycloak_realm, blocked)
        usernames["blocked"].append(blocked)
        usernames["unknown"].append(f"findes-ikke-{uuid.uuid4().hex[:8]}")

    shapes: dict[tuple[str, str], set] = {}
    took: dict[tuple[str, str], list[float]] = {}
    keycloak_round_trips: list[float] = []

    def record(kind: str, step: str, response: requests.Response, seconds: float, *, whole_body=False, attempt=""):
        shapes.setdefault((kind, step + attempt), set()).add(repr(shape(response, whole_body=whole_body)))
        took.setdefault((kind, step), []).append(seconds)

    # Round robin over the kinds, so that whatever else loads the machine loads them all alike.
    for user_index in range(2):
        for _ in range(3):
            for kind in KINDS:
                username = usernames[kind][user_index]
                started, seconds = timed(lambda: requests.post(f"{gateway}{RESETS}", json={"username": username},
                                                               timeout=10))
                record(kind, "start", started, seconds)
                reset_id = started.json()["reset_id"]
                sent, seconds = timed(lambda: requests.post(f"{gateway}{RESETS}/{reset_id}/code", timeout=10))
                record(kind, "code", sent, seconds)
                for attempt in ("1", "2"):  # "4 tries left", then "3 tries left"
                    wrong, seconds = timed(lambda: requests.post(f"{gateway}{RESETS}/{reset_id}/verify",
                                                                 json={"code": "000000"}, timeout=10))
                    record(kind, "verify", wrong, seconds, whole_body=True, attempt=attempt)
                # what one Keycloak call costs right now (the difference the timing guard is for)
                _, seconds = timed(lambda: user_directory.find_user_id(usernames["known"][0]))
                keycloak_round_trips.append(seconds)
    for kind in KINDS:  # the 4th code within the hour, refused alike
        username = usernames[kind][0]
        reset_id = requests.post(f"{gateway}{RESETS}", json={"username": username}, timeout=10).json()["reset_id"]
        record(kind, "too many", requests.post(f"{gateway}{RESETS}/{reset_id}/code", timeout=10), 0.0,
               whole_body=True)

    for step in ("start", "code", "verify1", "verify2", "too many"):
        seen = {kind: shapes[(kind, step)] for kind in KINDS}
        assert all(len(answers) == 1 for answers in seen.values()), (step, seen)
        assert len({next(iter(answers)) for answers in seen.values()}) == 1, (step, seen)
    assert next(iter(shapes[("known", "too many")])).startswith("(429,")

    keycloak_call = statistics.median(keycloak_round_trips)
    # Coarse on purpose (idle: ~10 ms per step, spread between kinds ~3-4 ms; a loaded machine
    # multiplies both): a branch doing more than one extra network round trip fails, noise does not.
    bound = max(0.02, keycloak_call)
    medians = {}
    for step in ("start", "code", "verify"):
        medians[step] = {kind: round(statistics.median(took[(kind, step)]), 4) for kind in KINDS}
        spread = max(medians[step].values()) - min(medians[step].values())
        assert spread < bound, (step, medians[step], f"bound {bound:.3f} s, Keycloak call {keycloak_call:.3f} s")
    print(f"\nenumeration timing medians (s): {medians}; one Keycloak call: {keycloak_call:.4f} s")

    # The web UI, one try per kind: the same pages (the CSRF token aside).
    pages = {}
    for kind in KINDS:
        browser = WebSession(stack.url("web"))
        username = usernames[kind][2]
        started = browser.submit("/glemt-adgangskode", username=username)
        sent = browser.submit("/glemt-adgangskode/kode", "/glemt-adgangskode/send-kode")
        wrong = browser.submit("/glemt-adgangskode/kode", "/glemt-adgangskode/verificer", code="000000")
        pages[kind] = [(answer.status_code, answer.headers.get("Location"),
                        re_token(answer.text)) for answer in (started, sent, wrong)]
    assert all(pages[kind] == pages["known"] for kind in KINDS), pages
    assert "Du har 4 forsøg tilbage" in pages["known"][2][2]


def re_token(text: str) -> str:
    import re

    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', text)
