"""Brute-force detection as the realm file sets it, seen through Keycloak's password grant and
identity's Keycloak adapter.

Keycloak counts failures until a successful login (or 12 h without failures): the 5th wrong
password locks the user for a while, every further wrong one after a lock locks again for longer,
and the lock after the 3rd temporary one is permanent (the user is disabled until unlocked).
"""
import time

import pytest

from identity.adapters.keycloak_directory import KeycloakUserDirectory
from identity.settings import IdentitySettings
from servicekit.config import load
from servicekit.testing import wait_for
from tests.keycloak.fixtures import create_test_realm, delete_test_realm

# Keycloak's quick-login check: failures less than this apart lock at once (for a minute).
QUICK_LOGIN_CHECK_SECONDS = 1.0


def directory_for(realm, principal_keys) -> KeycloakUserDirectory:
    environ = {**realm.identity_env(), "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1]}
    return KeycloakUserDirectory(load(IdentitySettings, "identity", environ))


def locked(realm, user) -> bool:
    return realm.admin.get_bruteforce_detection_status(user.id)["disabled"]


def refused(realm, user, password) -> bool:
    response = realm.password_grant(user.username, password)
    return response.status_code == 401 and response.json()["error"] == "invalid_grant"


def test_fifth_wrong_password_locks_the_user(keycloak_realm, new_keycloak_user, principal_keys):
    user = new_keycloak_user()
    for attempt in range(1, 5):
        assert refused(keycloak_realm, user, "forkert-kode-123")
        assert not locked(keycloak_realm, user), f"locked after {attempt} failures"
        time.sleep(QUICK_LOGIN_CHECK_SECONDS + 0.1)  # slower than the quick-login check
    assert refused(keycloak_realm, user, "forkert-kode-123")
    wait_for(lambda: locked(keycloak_realm, user), timeout=5, message="the user locked")
    assert refused(keycloak_realm, user, user.password), "a locked user logged in with the right password"

    directory = directory_for(keycloak_realm, principal_keys)
    status = directory.brute_force_status(user.id)
    assert (status.locked, status.permanent, status.failures) == (True, False, 5)
    directory.clear_brute_force(user.id)
    assert keycloak_realm.password_grant(user.username, user.password).status_code == 200


def test_rapid_wrong_passwords_lock_at_once(keycloak_realm, new_keycloak_user):
    user = new_keycloak_user()
    assert refused(keycloak_realm, user, "forkert-kode-123")
    assert refused(keycloak_realm, user, "forkert-kode-123")  # well within the quick-login check
    wait_for(lambda: locked(keycloak_realm, user), timeout=5, message="the user locked")


@pytest.fixture
def fast_realm(keycloak_url):
    """The realm file with the lock durations scaled from minutes to seconds (counts unchanged)."""
    realm = create_test_realm(keycloak_url, overrides={
        "waitIncrementSeconds": 1, "maxFailureWaitSeconds": 10, "minimumQuickLoginWaitSeconds": 1,
        "quickLoginCheckMilliSeconds": 100})
    yield realm
    delete_test_realm(realm)


def test_locks_grow_longer_and_the_fourth_is_permanent(fast_realm, principal_keys):
    user = fast_realm.create_user()

    def status() -> dict:
        return fast_realm.admin.get_bruteforce_detection_status(user.id)

    def lock_seconds(state: dict) -> float:
        return state["failedLoginNotBefore"] - state["lastFailure"] / 1000

    for attempt in range(5):
        if attempt:
            time.sleep(0.15)  # slower than this realm's quick-login check
        assert refused(fast_realm, user, "forkert-kode-123")
    first = status()
    assert first["numTemporaryLockouts"] == 1
    waits = [lock_seconds(first)]

    def next_lock(number: int) -> dict:
        """One more wrong password once the lock is over. A try that Keycloak still saw inside the
        lock (the admin API rounds to whole seconds) counts nothing, so it is repeated."""
        for _ in range(5):
            wait_for(lambda: not status()["disabled"], timeout=15, interval=0.2, message="the lock to end")
            time.sleep(0.3)
            assert refused(fast_realm, user, "forkert-kode-123")
            state = status()
            if state["numTemporaryLockouts"] == number:
                return state
        raise AssertionError(f"lock {number} never came: {state}")

    waits += [lock_seconds(next_lock(2)), lock_seconds(next_lock(3))]
    # 1, 2 and 3 s here; Keycloak keeps the end of a lock in whole seconds, so each is up to 1 s shorter.
    assert waits[0] < waits[1] < waits[2], waits
    next_lock(4)                                                            # permanent
    # Keycloak records a failure in a transaction of its own, possibly just after answering.
    wait_for(lambda: not fast_realm.admin.get_user(user.id)["enabled"], timeout=5, message="the user disabled")
    account = fast_realm.admin.get_user(user.id)
    assert account["attributes"]["disabledReason"] == ["permanentLockout"]
    assert refused(fast_realm, user, user.password)

    directory = directory_for(fast_realm, principal_keys)
    status = directory.brute_force_status(user.id)
    assert (status.locked, status.permanent) == (True, True)
    # The user lists find a permanent lockout in one query, however old the failures are.
    assert directory.permanently_locked_ids() == {user.id}
    assert directory.locked_users([user.id, fast_realm.create_user().id]) == {user.id}
    directory.clear_brute_force(user.id)
    assert directory.brute_force_status(user.id).locked is False
    assert directory.permanently_locked_ids() == set() and directory.locked_users([user.id]) == set()
    assert fast_realm.password_grant(user.username, user.password).status_code == 200


@pytest.mark.parametrize("events", [{"eventsEnabled": False}, {"enabledEventTypes": ["LOGIN"]},
                                    {"eventsExpiration": 60}], ids=["off", "without-failures", "kept-too-short"])
def test_a_realm_that_does_not_keep_failures_is_asked_user_by_user(keycloak_url, principal_keys, events):
    """Where the event store cannot tell who failed lately, the lock is still found: each user is asked."""
    realm = create_test_realm(keycloak_url, overrides=events)
    try:
        locked_user, fine = realm.create_user(), realm.create_user()
        for _ in range(2):
            assert refused(realm, locked_user, "forkert-kode-123")
        wait_for(lambda: locked(realm, locked_user), timeout=5, message="the user locked")
        directory = directory_for(realm, principal_keys)
        assert directory.lockout_policy().failures_recorded is False
        assert directory.locked_users([locked_user.id, fine.id]) == {locked_user.id}
    finally:
        delete_test_realm(realm)
