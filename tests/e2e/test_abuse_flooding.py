"""Abuse (issue 10 part 5): SMS flooding per user and per IP address, and brute force of reset
codes, through the real gateway, identity, notifications worker and the SMS server the stack's SMS
reach. What is counted is what the SMS server received, not what the API said.

Limits (issue 7): at most 3 codes per username per hour, whoever asks and from wherever; the
gateway's per-IP limit on the public routes; at most 5 wrong codes per reset request, after which
it is dead even for the right code.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .abuse_support import WebSession, code_sent_to, invented_phone, make_user, sms_to
from .conftest import wait_until_gateway_ready

PER_IP_LIMIT = 6
RESETS = "/api/identity/public/password-resets"


@pytest.fixture(scope="module")
def limited_gateway(stack):
    """A gateway beside the stack's own with a per-IP limit on the public routes, behind one trusted
    proxy (as deployed): each test plays clients at addresses of its own."""
    env = {**stack.gateway_env, "GATEWAY_RATE_LIMITS": f"POST /api/identity/public/** {PER_IP_LIMIT}/60 ip",
           "GATEWAY_TRUSTED_PROXY_HOPS": "1"}
    process = stack.start_web("gateway-abuse", "gateway.app:create_app()", workers=1, threads=8, env=env)
    process.wait_ready()
    wait_until_gateway_ready(stack.url("gateway-abuse"))
    yield stack.url("gateway-abuse")
    process.stop()
    del stack.processes["gateway-abuse"]


def ask_for_code(gateway: str, username: str, address: str) -> tuple[int, int]:
    """Start a reset and ask for its code, as a client at ``address``: the two statuses."""
    headers = {"X-Forwarded-For": address}
    started = requests.post(f"{gateway}{RESETS}", json={"username": username}, headers=headers, timeout=10)
    if started.status_code != 202:
        return started.status_code, 0
    sent = requests.post(f"{gateway}{RESETS}/{started.json()['reset_id']}/code", headers=headers, timeout=10)
    return started.status_code, sent.status_code


def settled_count(stack_sms, msisdn: str, at_least: int) -> int:
    """The SMS to ``msisdn`` once the worker had time to send more than it should have."""
    deadline = time.monotonic() + 30
    while len(sms_to(stack_sms, msisdn)) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the worker polls every 0.2 s: anything more would have arrived by now
    return len(sms_to(stack_sms, msisdn))


def test_one_user_gets_at_most_3_codes_an_hour_from_any_number_of_addresses(limited_gateway, stack,
                                                                            identity_runtime, user_directory):
    phone = invented_phone()
    _, username, _ = make_user(identity_runtime, user_directory, phone=phone)
    # 12 tries from 12 addresses (so the per-IP limit never bites), the username spelt as people
    # (or scripts) might: the per-user limit must not depend on case or spaces.
    spellings = [username, username.upper(), f"  {username} ", username.capitalize()]
    answers = [ask_for_code(limited_gateway, spellings[n % 4], f"198.51.100.{10 + n}") for n in range(12)]
    assert answers == [(202, 202)] * 3 + [(202, 429)] * 9, answers
    assert settled_count(stack.sms, phone, 3) == 3


def test_one_address_is_stopped_by_the_gateway_before_the_per_user_limit(limited_gateway, stack,
                                                                           identity_runtime, user_directory):
    phones = [invented_phone() for _ in range(3)]
    usernames = [make_user(identity_runtime, user_directory, phone=phone)[1] for phone in phones]
    address = "198.51.100.99"
    statuses = []
    for username in usernames * 2:  # 6 resets = 12 requests from one address
        statuses += ask_for_code(limited_gateway, username, address)
    statuses = [status for status in statuses if status]
    # The first PER_IP_LIMIT requests pass (3 start + code pairs), every later one is refused.
    assert statuses == [202] * PER_IP_LIMIT + [429] * (len(statuses) - PER_IP_LIMIT), statuses
    refused = requests.post(f"{limited_gateway}{RESETS}", json={"username": usernames[0]},
                            headers={"X-Forwarded-For": address}, timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    # 3 SMS in all, though each user could still have had 3: the address limit held.
    assert sum(settled_count(stack.sms, phone, 1) for phone in phones) == 3
    # an address limit, not a global one: another address still gets through
    assert ask_for_code(limited_gateway, usernames[2], "198.51.100.100") == (202, 202)


def verify(gateway: str, reset_id: str, code: str) -> requests.Response:
    return requests.post(f"{gateway}{RESETS}/{reset_id}/verify", json={"code": code}, timeout=10)


def started_with_code(stack, identity_runtime, user_directory) -> tuple[str, str, str]:
    """(reset id, the code the SMS server received, username) for a new user with a phone."""
    gateway, phone = stack.url("gateway"), invented_phone()
    _, username, _ = make_user(identity_runtime, user_directory, phone=phone)
    reset_id = requests.post(f"{gateway}{RESETS}", json={"username": username}, timeout=10).json()["reset_id"]
    assert requests.post(f"{gateway}{RESETS}/{reset_id}/code", timeout=10).status_code == 202
    return reset_id, code_sent_to(stack.sms, phone, 0), username


def wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 1_000_000:06d}"


def test_five_wrong_codes_kill_the_request_even_for_the_right_code(stack, identity_runtime, user_directory):
    gateway = stack.url("gateway")
    reset_id, code, _ = started_with_code(stack, identity_runtime, user_directory)
    answers = [verify(gateway, reset_id, wrong(code, n)).json()["codes"] for n in range(1, 6)]
    assert answers == [{"code": "invalid_code"}] * 4 + [{"reset": "reset_expired"}], answers
    dead = verify(gateway, reset_id, code)
    assert dead.status_code == 422 and dead.json()["codes"] == {"reset": "reset_expired"}
    # neither a fresh code for the same request
    again = requests.post(f"{gateway}{RESETS}/{reset_id}/code", timeout=10)
    assert again.json()["codes"] == {"reset": "reset_expired"}


def test_parallel_guesses_get_no_more_than_five_tries(stack, identity_runtime, user_directory):
    """20 wrong guesses at once: the request row is locked, so exactly 4 are told "wrong" and the
    rest find the request dead; the right code afterwards does not work."""
    gateway = stack.url("gateway")
    reset_id, code, _ = started_with_code(stack, identity_runtime, user_directory)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda n: verify(gateway, reset_id, wrong(code, n)).json()["codes"], range(1, 21)))
    assert answers.count({"code": "invalid_code"}) == 4, answers
    assert answers.count({"reset": "reset_expired"}) == 16, answers
    assert verify(gateway, reset_id, code).json()["codes"] == {"reset": "reset_expired"}


def test_brute_force_through_the_web_ui_ends_in_danish(stack, identity_runtime, user_directory):
    phone = invented_phone()
    _, username, _ = make_user(identity_runtime, user_directory, phone=phone)
    browser = WebSession(stack.url("web"))
    assert browser.submit("/glemt-adgangskode", username=username).status_code == 302
    assert browser.submit("/glemt-adgangskode/kode", "/glemt-adgangskode/send-kode").status_code == 302
    code = code_sent_to(stack.sms, phone, 0)
    for left in (4, 3, 2, 1):
        page = browser.submit("/glemt-adgangskode/kode", "/glemt-adgangskode/verificer", code=wrong(code, left))
        assert page.status_code == 422 and f"Du har {left} forsøg tilbage" in page.text
    fifth = browser.submit("/glemt-adgangskode/kode", "/glemt-adgangskode/verificer", code=wrong(code, 9))
    assert fifth.status_code == 302 and fifth.headers["Location"].endswith("fejl=reset_expired")
    assert "afbrudt efter for mange forkerte koder" in browser.get(fifth.headers["Location"]).text
    # the page has forgotten the reset: the right code now has nothing to go to
    late = browser.post("/glemt-adgangskode/verificer",
                        data={"csrf_token": browser.token("/glemt-adgangskode"), "code": code})
    assert late.status_code == 302 and late.headers["Location"].endswith("/glemt-adgangskode")
    assert 'name="password"' not in browser.get("/ny-adgangskode").text  # no new-password form
