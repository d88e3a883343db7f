"""Password reset by SMS code and setting a password with a token (issue 7), through identity's
public API against real PostgreSQL and a real Keycloak realm.

The code a user would receive is read where notifications would get it: the sealed code in the
identity.password_reset.code_issued event in identity's outbox, opened with the shared key.
"""
import json
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select, update

from identity.adapters.tables import password_changes, password_reset_codes, password_reset_requests, set_password_tokens
from identity.domain.users import NewUser
from identity.service import set_password_tokens as tokens
from identity.service.users import provision_user
from servicekit.sealed import Sealer, generate_key
from servicekit.testing import wait_for

SEALING_KEY = generate_key()
OLD_PASSWORD = "Gammel-kode-2026!"
NEW_PASSWORD = "Ny-og-lang-kode-2026!"


@pytest.fixture
def identity_env(new_database, principal_keys, keycloak_realm):
    return {"IDENTITY_DATABASE_URL": new_database("identity"), "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
            "DANBIO_SEALING_KEY": SEALING_KEY, **keycloak_realm.identity_env()}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(runtime, directory):
    def make(*, phone="+4512345678"):
        username = f"reset-{uuid.uuid4().hex[:10]}"
        with runtime.uow() as uow:
            user_id = provision_user(uow, directory, NewUser(
                username=username, first_name="Rita", last_name="Reset", email=f"{username}@example.org",
                phone=phone), password=OLD_PASSWORD)
        return user_id, username
    return make


def outbox(runtime, event_type):
    with runtime.uow() as uow:
        rows = uow.session.execute(select(runtime.messaging.outbox.c.body)
                                   .where(runtime.messaging.outbox.c.event_type == event_type)
                                   .order_by(runtime.messaging.outbox.c.position)).scalars().all()
    return [json.loads(body) for body in rows]


def last_code(runtime, reset_id) -> str:
    event = [e for e in outbox(runtime, "identity.password_reset.code_issued") if e["data"]["reset_id"] == reset_id][-1]
    return Sealer(SEALING_KEY).open(event["data"]["code"])


def start(client, username) -> str:
    response = client.post("/public/password-resets", json={"username": username})
    assert response.status_code == 202, response.json
    return response.json["reset_id"]


def verified_token(client, runtime, username) -> str:
    reset_id = start(client, username)
    assert client.post(f"/public/password-resets/{reset_id}/code").status_code == 202
    response = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": last_code(runtime, reset_id)})
    assert response.status_code == 200, response.json
    return response.json["token"]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_whole_reset_sets_the_password_and_announces_it(client, runtime, make_user, keycloak_realm):
    user_id, username = make_user()
    reset_id = start(client, username)
    sent = client.post(f"/public/password-resets/{reset_id}/code")
    assert sent.status_code == 202
    [event] = outbox(runtime, "identity.password_reset.code_issued")
    assert event["data"]["user"]["phone"] == "+4512345678" and event["data"]["reset_id"] == reset_id
    code = last_code(runtime, reset_id)
    assert len(code) == 6 and code.isdigit()
    with runtime.uow() as uow:  # only a hash is stored
        stored = uow.session.execute(select(password_reset_codes.c.code_hash)).scalar_one()
    assert code not in stored and code not in json.dumps(event)

    verified = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": code[:3] + " " + code[3:]})
    assert verified.status_code == 200, verified.json
    token = verified.json["token"]
    expires = datetime.fromisoformat(verified.json["expires_at"])
    assert expires - datetime.now(timezone.utc) <= timedelta(minutes=10)

    info = client.post("/public/set-password/check", json={"token": token})
    assert info.status_code == 200, info.json
    assert info.json["purpose"] == "reset" and info.json["username"] == username
    assert {"rule": "length", "value": "12"} in info.json["policy"]

    done = client.post("/public/set-password", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.json
    assert keycloak_realm.password_grant(username, NEW_PASSWORD).status_code == 200
    assert keycloak_realm.password_grant(username, OLD_PASSWORD).status_code == 401
    [changed] = outbox(runtime, "identity.password.changed")
    assert changed["data"]["user"]["user_id"] == str(user_id)
    # the token and the code are used up
    again = client.post("/public/set-password", json={"token": token, "password": NEW_PASSWORD + "x"})
    assert again.status_code == 422 and again.json["codes"] == {"token": "invalid_token"}
    reused = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": code})
    assert reused.status_code == 422 and reused.json["codes"] == {"reset": "reset_expired"}


def answers_for(client, username):
    """(status, body keys) of each step, and how long the code step took."""
    started = client.post("/public/password-resets", json={"username": username})
    reset_id = started.json["reset_id"]
    began = time.perf_counter()
    code = client.post(f"/public/password-resets/{reset_id}/code")
    took = time.perf_counter() - began
    verify = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": "000000"})
    shape = [(started.status_code, sorted(started.json)), (code.status_code, sorted(code.json)),
             (verify.status_code, verify.json.get("codes"), verify.json.get("errors"))]
    return shape, took


def test_no_user_enumeration(client, runtime, make_user, keycloak_realm, directory):
    _, known = make_user()
    _, without_phone = make_user(phone=None)
    _, blocked = make_user()
    keycloak_id = directory.find_user_id(blocked)
    for _ in range(6):  # Keycloak's quick-login check locks at once
        keycloak_realm.password_grant(blocked, "forkert-kode-123")
    wait_for(lambda: directory.brute_force_status(keycloak_id).locked, timeout=10, message="the user locked")

    shapes, times = {}, {}
    for label, username in (("known", known), ("no phone", without_phone), ("blocked", blocked),
                            ("unknown", f"findes-ikke-{uuid.uuid4().hex[:6]}")):
        samples = []
        for _ in range(3):  # three requests each: exactly the 3 codes per username per hour
            shape, took = answers_for(client, username)
            shapes.setdefault(label, shape)
            assert shape == shapes[label]
            samples.append(took)
        times[label] = statistics.median(samples)
    assert len({json.dumps(shape, sort_keys=True) for shape in shapes.values()}) == 1, shapes
    # about the same time: no step calls Keycloak, so no network round trip tells them apart
    assert max(times.values()) - min(times.values()) < 0.05, times
    # the known user got codes; the one without phone too (by e-mail); the unknown nothing
    sent_to = [e["data"]["user"] for e in outbox(runtime, "identity.password_reset.code_issued")]
    assert len(sent_to) == 9 and sum(1 for u in sent_to if u["phone"] is None) == 3


def test_five_wrong_codes_end_the_request(client, runtime, make_user):
    _, username = make_user()
    reset_id = start(client, username)
    client.post(f"/public/password-resets/{reset_id}/code")
    code = last_code(runtime, reset_id)
    for tries_left in (4, 3, 2, 1):
        response = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": wrong(code)})
        assert response.status_code == 422 and response.json["codes"] == {"code": "invalid_code"}
        assert f"{tries_left} tries left" in response.json["errors"]["code"][0]
    fifth = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": wrong(code)})
    assert fifth.json["codes"] == {"reset": "reset_expired"}
    # dead: neither the right code nor a new code works on it
    right = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": code})
    assert right.status_code == 422 and right.json["codes"] == {"reset": "reset_expired"}
    assert client.post(f"/public/password-resets/{reset_id}/code").json["codes"] == {"reset": "reset_expired"}


def test_three_codes_per_username_per_hour(client, runtime, make_user):
    _, username = make_user()
    for _ in range(3):
        assert client.post(f"/public/password-resets/{start(client, username)}/code").status_code == 202
    fourth = client.post(f"/public/password-resets/{start(client, username)}/code")
    assert fourth.status_code == 429 and fourth.json["codes"] == {"reset": "too_many_codes"}
    # the same for a username nobody has: the limit says nothing about who exists
    unknown = f"findes-ikke-{uuid.uuid4().hex[:6]}"
    for _ in range(3):
        assert client.post(f"/public/password-resets/{start(client, unknown)}/code").status_code == 202
    assert client.post(f"/public/password-resets/{start(client, unknown)}/code").status_code == 429
    # an hour later codes can be sent again
    with runtime.uow() as uow:
        uow.session.execute(update(password_reset_codes).where(password_reset_codes.c.username_key == username)
                            .values(created_at=datetime.now(timezone.utc) - timedelta(minutes=61)))
        uow.commit()
    assert client.post(f"/public/password-resets/{start(client, username)}/code").status_code == 202


def test_a_new_code_ends_the_previous_and_codes_are_bound_to_their_request(client, runtime, make_user):
    _, username = make_user()
    first, second = start(client, username), start(client, username)
    client.post(f"/public/password-resets/{first}/code")
    old = last_code(runtime, first)
    client.post(f"/public/password-resets/{second}/code")
    other_request = last_code(runtime, second)
    if other_request != old:
        response = client.post(f"/public/password-resets/{first}/verify", json={"code": other_request})
        assert response.json["codes"] == {"code": "invalid_code"}
    client.post(f"/public/password-resets/{first}/code")
    newest = last_code(runtime, first)
    if newest != old:
        response = client.post(f"/public/password-resets/{first}/verify", json={"code": old})
        assert response.json["codes"] == {"code": "invalid_code"}
    assert client.post(f"/public/password-resets/{first}/verify", json={"code": newest}).status_code == 200


def test_expired_codes_requests_and_tokens_are_refused(client, runtime, make_user):
    _, username = make_user()
    reset_id = start(client, username)
    client.post(f"/public/password-resets/{reset_id}/code")
    code = last_code(runtime, reset_id)
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    with runtime.uow() as uow:
        uow.session.execute(update(password_reset_codes).values(expires_at=past))
        uow.commit()
    expired = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": code})
    assert expired.status_code == 422 and expired.json["codes"] == {"code": "code_expired"}
    with runtime.uow() as uow:
        uow.session.execute(update(password_reset_requests).values(expires_at=past))
        uow.commit()
    assert client.post(f"/public/password-resets/{reset_id}/code").json["codes"] == {"reset": "reset_expired"}
    unknown = client.post(f"/public/password-resets/{uuid.uuid4()}/code")
    assert unknown.status_code == 422 and unknown.json["codes"] == {"reset": "reset_expired"}

    token = verified_token(client, runtime, username)
    with runtime.uow() as uow:
        uow.session.execute(update(set_password_tokens).values(expires_at=past))
        uow.commit()
    for path, body in (("/public/set-password/check", {"token": token}),
                       ("/public/set-password", {"token": token, "password": NEW_PASSWORD})):
        response = client.post(path, json=body)
        assert response.status_code == 422 and response.json["codes"] == {"token": "invalid_token"}


def test_the_realms_policy_refuses_in_a_code_and_keeps_the_token(client, runtime, make_user, keycloak_realm):
    _, username = make_user()
    token = verified_token(client, runtime, username)
    short = client.post("/public/set-password", json={"token": token, "password": "kort"})
    assert short.status_code == 422 and short.json["codes"]["password"] == "invalidPasswordMinLengthMessage"
    same = client.post("/public/set-password", json={"token": token, "password": username})
    assert same.status_code == 422 and same.json["codes"]["password"].startswith("invalidPassword")
    history = client.post("/public/set-password", json={"token": token, "password": OLD_PASSWORD})
    assert history.status_code == 422 and history.json["codes"]["password"] == "invalidPasswordHistoryMessage"
    assert client.post("/public/set-password", json={"token": token, "password": NEW_PASSWORD}).status_code == 200


def test_a_reset_clears_a_real_brute_force_lock_and_ends_other_sessions(client, runtime, make_user, directory,
                                                                         keycloak_realm):
    _, username = make_user()
    keycloak_id = directory.find_user_id(username)
    session_tokens = keycloak_realm.user_token(username, OLD_PASSWORD)
    assert keycloak_realm.admin.get_sessions(keycloak_id)
    for _ in range(6):
        keycloak_realm.password_grant(username, "forkert-kode-123")
    wait_for(lambda: directory.brute_force_status(keycloak_id).locked, timeout=10, message="the user locked")
    assert keycloak_realm.password_grant(username, OLD_PASSWORD).status_code == 401

    token = verified_token(client, runtime, username)
    assert client.post("/public/set-password", json={"token": token, "password": NEW_PASSWORD}).status_code == 200
    assert not directory.brute_force_status(keycloak_id).locked
    with runtime.uow() as uow:
        [audit] = uow.session.execute(select(password_changes)).all()
    assert (audit.purpose, audit.lock_cleared) == ("reset", True)
    assert [e["data"]["reason"] for e in outbox(runtime, "identity.user.access_changed")][-1] == "unlocked"
    assert keycloak_realm.password_grant(username, NEW_PASSWORD).status_code == 200
    # the session from before the reset is over: its refresh token no longer works
    refresh = requests.post(keycloak_realm.token_endpoint, timeout=30, data={
        "grant_type": "refresh_token", "client_id": "danbio-test-direct-grant",
        "refresh_token": session_tokens["refresh_token"]})
    assert refresh.status_code == 400, refresh.text


def test_activation_tokens_set_the_first_password_once(client, runtime, make_user, keycloak_realm):
    user_id, username = make_user()
    with runtime.uow() as uow:
        issued = tokens.issue(uow.session, user_id, tokens.ACTIVATION, tokens.ACTIVATION_TTL)
        uow.commit()
    info = client.post("/public/set-password/check", json={"token": issued.token})
    assert info.status_code == 200 and info.json["purpose"] == "activation"
    assert client.post("/public/set-password", json={"token": issued.token, "password": NEW_PASSWORD}).json == {
        "purpose": "activation"}
    assert keycloak_realm.password_grant(username, NEW_PASSWORD).status_code == 200
    assert outbox(runtime, "identity.password.changed") == []  # a first password is no news to report
    again = client.post("/public/set-password", json={"token": issued.token, "password": NEW_PASSWORD + "x"})
    assert again.json["codes"] == {"token": "invalid_token"}


def test_public_routes_need_no_principal_and_the_rest_still_do(client):
    assert client.post("/public/password-resets", json={"username": "x"}).status_code == 202
    assert client.post("/public/password-resets", json={}).status_code == 422
    assert client.get("/me").status_code == 401
