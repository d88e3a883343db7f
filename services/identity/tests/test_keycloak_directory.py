"""identity's Keycloak adapter against the real Keycloak (the session's realm, identity-admin's rights)."""
import uuid

import pytest
import requests

from servicekit.errors import Conflict, InvalidInput, NotFound


def new_name() -> str:
    return f"adapter-{uuid.uuid4().hex[:8]}"


def test_create_set_password_find_and_delete(directory, keycloak_realm, keycloak_admin):
    username = new_name()
    keycloak_id = directory.create_user(username=username, email=f"{username}@example.org", first_name="Anna",
                                        last_name="Adapter", locale="en")
    assert directory.find_user_id(username.upper()) == keycloak_id
    stored = keycloak_admin.get_user(keycloak_id)
    assert (stored["enabled"], stored["emailVerified"], stored["attributes"]["locale"]) == (True, True, ["en"])

    directory.set_password(keycloak_id, "Midlertidig-kode-1", temporary=True)
    must_change = keycloak_realm.password_grant(username, "Midlertidig-kode-1")
    assert must_change.json()["error_description"] == "Account is not fully set up"
    directory.set_password(keycloak_id, "Endelig-kode-2024")
    assert keycloak_realm.password_grant(username, "Endelig-kode-2024").status_code == 200

    with pytest.raises(InvalidInput) as refused:
        directory.set_password(keycloak_id, username)
    assert refused.value.errors["password"]

    with pytest.raises(Conflict):
        directory.create_user(username=username, email=f"other-{username}@example.org", first_name="A",
                              last_name="B", locale="da")
    directory.delete_user(keycloak_id)
    assert directory.find_user_id(username) is None
    with pytest.raises(NotFound):
        directory.delete_user(keycloak_id)


def test_logout_ends_every_session(directory, keycloak_realm, new_keycloak_user):
    user = new_keycloak_user()
    tokens = keycloak_realm.user_token(user.username, user.password)
    directory.logout(user.id)
    refreshed = requests.post(keycloak_realm.token_endpoint, timeout=30, data={
        "grant_type": "refresh_token", "client_id": "danbio-test-direct-grant", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


def test_brute_force_status_of_a_fresh_user(directory, new_keycloak_user):
    user = new_keycloak_user()
    status = directory.brute_force_status(user.id)
    assert (status.locked, status.permanent, status.failures) == (False, False, 0)


def test_user_states_agree_with_the_separate_lock_and_link_queries(directory, keycloak_realm, new_keycloak_user):
    """The list's one pass (two calls per user) says what lock_statuses and mitid_links say (three)."""
    plain, locked, linked = new_keycloak_user(), new_keycloak_user(), new_keycloak_user()
    keycloak_realm.admin.add_user_social_login(linked.id, "mitid", f"mitid-{uuid.uuid4().hex[:8]}", "mitid-bruger")
    for _ in range(2):  # two failures less than a second apart: the quick-login check locks at once
        keycloak_realm.password_grant(locked.username, "forkert-kode")
    ids = [plain.id, locked.id, linked.id, str(uuid.uuid4())]
    states = directory.user_states(ids)
    assert {key: lock for key, (lock, _) in states.items()} == directory.lock_statuses(ids)
    assert {key: link for key, (_, link) in states.items()} == directory.mitid_links(ids)
    assert [states[key][0].locked for key in ids] == [False, True, False, False]
    assert [states[key][1] for key in ids] == [False, False, True, False]
