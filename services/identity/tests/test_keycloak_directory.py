"""identity's Keycloak adapter against the real Keycloak (the session's realm, identity-admin's rights)."""
import uuid

import pytest
import requests

from servicekit.errors import Conflict, InvalidInput, NotFound
from servicekit.testing import wait_for


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


def admin_calls(monkeypatch, directory) -> list[str]:
    """The paths of the admin API GETs the directory makes from now on."""
    paths: list[str] = []
    connection = directory._client().connection
    real_get = connection.raw_get

    def counted(path, *args, **kwargs):
        paths.append(path)
        return real_get(path, *args, **kwargs)

    monkeypatch.setattr(connection, "raw_get", counted)
    return paths


def test_locked_users_asks_for_each_user_only_those_with_a_recent_failure(directory, keycloak_realm,
                                                                          new_keycloak_user, monkeypatch):
    """A list of 25 users cost 50 admin calls (issue 10's load test); now a few, whatever the length."""
    people = [new_keycloak_user() for _ in range(6)]
    locked, failed_once = people[0], people[1]
    for _ in range(2):  # two failures less than a second apart: the quick-login check locks at once
        keycloak_realm.password_grant(locked.username, "forkert-kode")
    assert keycloak_realm.password_grant(failed_once.username, "forkert-kode").status_code == 401
    ids = [person.id for person in people] + [str(uuid.uuid4())]  # and one Keycloak does not have
    # Keycloak may store the events just after answering.
    wait_for(lambda: directory.locked_users(ids) == {locked.id}, timeout=10, message="the lock seen")

    paths = admin_calls(monkeypatch, directory)
    assert directory.locked_users(ids) == {locked.id}
    per_user = sorted(path.rsplit("/", 1)[-1] for path in paths if "attack-detection" in path)
    assert per_user == sorted([locked.id, failed_once.id]), paths
    assert len(paths) == 4, paths  # the events, the permanent lockouts, and the two asked
    # What asking every user says.
    assert {key for key in ids if directory._lock_status_or_unlocked(key).locked} == {locked.id}


def test_mitid_linked_ids_are_every_linked_user(directory, keycloak_realm, new_keycloak_user):
    plain, linked, regional = new_keycloak_user(), new_keycloak_user(), new_keycloak_user()
    keycloak_realm.admin.add_user_social_login(linked.id, "mitid", f"mitid-{uuid.uuid4().hex[:8]}", "mitid-bruger")
    keycloak_realm.admin.add_user_social_login(regional.id, "region-nord", f"nord-{uuid.uuid4().hex[:8]}", "nord")
    found = directory.mitid_linked_ids()
    assert linked.id in found and plain.id not in found and regional.id not in found
    keycloak_realm.admin.delete_user_social_login(linked.id, "mitid")
    assert linked.id not in directory.mitid_linked_ids()
