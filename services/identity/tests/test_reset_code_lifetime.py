"""Issue 7 at the edges: an SMS reset code lives exactly 10 minutes, and the token a right code
yields is a "reset" token that can set the password once — through the real use cases (time
injected as ``now``) on real PostgreSQL, and the public API on a real Keycloak realm.

Tokens carry a purpose (activation or reset), but one endpoint (/public/set-password, behind the
web's /aktiver/<token>) takes both by design; the purpose decides what is recorded and announced.
What is asserted here is that distinction, and that using either kind ends the other.
"""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from identity.adapters.tables import password_changes, password_reset_requests, set_password_tokens
from identity.domain.users import NewUser
from identity.service import set_password_tokens as tokens
from identity.service.password_reset import send_code, start_reset, verify_code
from identity.service.set_password import InvalidToken, check_token, set_password
from identity.service.users import provision_user
from servicekit.errors import InvalidInput
from servicekit.sealed import Sealer

from services.identity.tests.test_password_reset import OLD_PASSWORD, SEALING_KEY, identity_env  # noqa: F401


@pytest.fixture
def user(runtime, directory):
    """(user id, username) of a user with a phone and a password."""
    username = f"ttl-{uuid.uuid4().hex[:10]}"
    with runtime.uow() as uow:
        user_id = provision_user(uow, directory, NewUser(
            username=username, first_name="Tina", last_name="Tid", email=f"{username}@example.org",
            phone="+4512345678"), password=OLD_PASSWORD)
    return user_id, username


def sent_code(runtime, reset_id) -> str:
    """The code as notifications would get it: sealed in the code_issued event in the outbox."""
    with runtime.uow() as uow:
        bodies = uow.session.execute(select(runtime.messaging.outbox.c.body)
                                     .where(runtime.messaging.outbox.c.event_type
                                            == "identity.password_reset.code_issued")
                                     .order_by(runtime.messaging.outbox.c.position)).scalars().all()
    events = [json.loads(b) for b in bodies]
    [*_, event] = [e for e in events if e["data"]["reset_id"] == str(reset_id)]
    return Sealer(SEALING_KEY).open(event["data"]["code"])


def new_code(runtime, username, at: datetime):
    """A reset request and its code, both issued ``at``: (reset id, code, when the code expires)."""
    with runtime.uow() as uow:
        reset_id, _ = start_reset(uow, username, now=at)
    with runtime.uow() as uow:
        expires = send_code(uow, runtime.settings.sealer, reset_id, now=at)
    return reset_id, sent_code(runtime, reset_id), expires


def failed_attempts(runtime, reset_id) -> int:
    with runtime.uow() as uow:
        return uow.session.execute(select(password_reset_requests.c.failed_attempts)
                                   .where(password_reset_requests.c.id == reset_id)).scalar_one()


def test_a_code_is_valid_for_ten_minutes_and_not_a_second_longer(runtime, user):
    _, username = user
    issued = datetime.now(timezone.utc)

    # Code 1 of the hour, typed at 9 min 59 s: accepted.
    first, code, expires = new_code(runtime, username, issued)
    assert expires - issued == timedelta(minutes=10)
    with runtime.uow() as uow:
        verified = verify_code(uow, first, code, now=issued + timedelta(minutes=9, seconds=59))
    assert verified.token

    # Code 2 of the hour (another request, a minute later), typed at 10 min 01 s: refused as expired.
    second_at = issued + timedelta(minutes=1)
    second, code, _ = new_code(runtime, username, second_at)
    late = second_at + timedelta(minutes=10, seconds=1)
    with runtime.uow() as uow, pytest.raises(InvalidInput) as refused:
        verify_code(uow, second, code, now=late)
    assert refused.value.codes == {"code": "code_expired"}
    assert failed_attempts(runtime, second) == 0          # late is not wrong: no try is used up

    # The request (30 minutes) is still alive: code 3 of the hour, typed in time, works.
    with runtime.uow() as uow:
        send_code(uow, runtime.settings.sealer, second, now=late)
    with runtime.uow() as uow:
        assert verify_code(uow, second, sent_code(runtime, second), now=late + timedelta(minutes=9, seconds=59)).token


def test_the_token_of_a_right_code_is_a_reset_token_for_ten_minutes(runtime, user, directory):
    user_id, username = user
    issued = datetime.now(timezone.utc)
    reset_id, code, _ = new_code(runtime, username, issued)
    verified_at = issued + timedelta(minutes=2)
    with runtime.uow() as uow:
        verified = verify_code(uow, reset_id, code, now=verified_at)
    assert verified.expires_at == verified_at + timedelta(minutes=10)
    with runtime.uow() as uow:
        [row] = uow.session.execute(select(set_password_tokens)).all()
    assert (row.user_id, row.purpose, row.expires_at) == (user_id, "reset", verified.expires_at)

    with runtime.uow() as uow:
        info = check_token(uow, directory, verified.token, now=verified.expires_at - timedelta(seconds=1))
    assert (info["purpose"], info["username"]) == ("reset", username)
    for late in (verified.expires_at, verified.expires_at + timedelta(seconds=1)):
        with runtime.uow() as uow, pytest.raises(InvalidToken):
            check_token(uow, directory, verified.token, now=late)
        with runtime.uow() as uow, pytest.raises(InvalidToken):
            set_password(uow, directory, verified.token, "Ny-og-lang-kode-2026!", now=late)


def test_a_reset_token_sets_the_password_once_as_a_reset_and_ends_the_activation_link(
        client, runtime, user, keycloak_realm):
    user_id, username = user
    with runtime.uow() as uow:     # an activation link still open from when the user was created
        activation = tokens.issue(uow.session, user_id, tokens.ACTIVATION, tokens.ACTIVATION_TTL)
        uow.commit()
    reset = verified_token(client, runtime, username)

    done = client.post("/public/set-password", json={"token": reset, "password": "Ny-og-lang-kode-2026!"})
    assert done.status_code == 200, done.json
    assert done.json == {"purpose": "reset"}               # recorded as a reset, not an activation
    with runtime.uow() as uow:
        assert [r.purpose for r in uow.session.execute(select(password_changes)).all()] == ["reset"]
    assert len(outbox_of(runtime, "identity.password.changed")) == 1
    assert keycloak_realm.password_grant(username, "Ny-og-lang-kode-2026!").status_code == 200

    # Neither the reset token again nor the older activation link can set the password now.
    for token in (reset, activation.token):
        for path, body in (("/public/set-password/check", {"token": token}),
                           ("/public/set-password", {"token": token, "password": "Endnu-en-ny-kode-2026!"})):
            response = client.post(path, json=body)
            assert response.status_code == 422 and response.json["codes"] == {"token": "invalid_token"}, path
    assert keycloak_realm.password_grant(username, "Ny-og-lang-kode-2026!").status_code == 200


def test_an_activation_token_sets_the_password_as_an_activation_and_ends_an_open_reset(
        client, runtime, user, keycloak_realm):
    user_id, username = user
    reset = verified_token(client, runtime, username)
    with runtime.uow() as uow:
        activation = tokens.issue(uow.session, user_id, tokens.ACTIVATION, tokens.ACTIVATION_TTL)
        uow.commit()

    done = client.post("/public/set-password", json={"token": activation.token, "password": "Ny-og-lang-kode-2026!"})
    assert done.status_code == 200 and done.json == {"purpose": "activation"}
    with runtime.uow() as uow:
        assert [r.purpose for r in uow.session.execute(select(password_changes)).all()] == ["activation"]
    assert outbox_of(runtime, "identity.password.changed") == []   # only a reset is announced
    refused = client.post("/public/set-password", json={"token": reset, "password": "Endnu-en-ny-kode-2026!"})
    assert refused.status_code == 422 and refused.json["codes"] == {"token": "invalid_token"}
    assert keycloak_realm.password_grant(username, "Ny-og-lang-kode-2026!").status_code == 200


# --- through the public API ----------------------------------------------------------------------

@pytest.fixture
def client(app):
    return app.test_client()


def outbox_of(runtime, event_type):
    with runtime.uow() as uow:
        return uow.session.execute(select(runtime.messaging.outbox.c.body)
                                   .where(runtime.messaging.outbox.c.event_type == event_type)).scalars().all()


def verified_token(client, runtime, username) -> str:
    reset_id = client.post("/public/password-resets", json={"username": username}).json["reset_id"]
    assert client.post(f"/public/password-resets/{reset_id}/code").status_code == 202
    response = client.post(f"/public/password-resets/{reset_id}/verify", json={"code": sent_code(runtime, reset_id)})
    assert response.status_code == 200, response.json
    return response.json["token"]
