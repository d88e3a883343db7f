"""When identity may trust Keycloak's event store to name the users who could be locked now
(pure logic over the realm's settings; the real realm is in tests/keycloak/test_brute_force.py)."""
import json
from pathlib import Path

from identity.adapters.keycloak_directory import CLOCK_MARGIN_SECONDS, FAILURE_EVENT_TYPES, LockoutPolicy

REALM_FILE = Path(__file__).resolve().parents[3] / "deploy" / "keycloak" / "realm-danbio.json"
REALM = {"maxFailureWaitSeconds": 900, "minimumQuickLoginWaitSeconds": 60,
         "eventsEnabled": True, "eventsExpiration": 86400, "enabledEventTypes": list(FAILURE_EVENT_TYPES)}


def test_the_realm_file_keeps_every_failure_that_can_lock_long_enough():
    realm = json.loads(REALM_FILE.read_text("utf-8"))
    policy = LockoutPolicy.of_realm(realm)
    assert (policy.window_seconds, policy.failures_recorded) == (900, True)


def test_the_window_is_the_longest_lock_either_rule_sets():
    assert LockoutPolicy.of_realm({**REALM, "minimumQuickLoginWaitSeconds": 1200}).window_seconds == 1200
    assert LockoutPolicy.of_realm({**REALM, "maxFailureWaitSeconds": 30}).window_seconds == 60


def test_failures_are_not_trusted_when_the_store_would_miss_some():
    assert LockoutPolicy.of_realm({**REALM, "eventsEnabled": False}).failures_recorded is False
    without_reset = [kind for kind in FAILURE_EVENT_TYPES if kind != "RESET_PASSWORD_ERROR"]
    assert LockoutPolicy.of_realm({**REALM, "enabledEventTypes": without_reset}).failures_recorded is False
    assert LockoutPolicy.of_realm({**REALM, "eventsExpiration": 900 + CLOCK_MARGIN_SECONDS - 1}).failures_recorded is False
    assert LockoutPolicy.of_realm({**REALM, "eventsExpiration": 900 + CLOCK_MARGIN_SECONDS}).failures_recorded is True


def test_no_types_listed_or_no_expiry_means_keycloak_keeps_them():
    assert LockoutPolicy.of_realm({**REALM, "enabledEventTypes": []}).failures_recorded is True
    assert LockoutPolicy.of_realm({**REALM, "eventsExpiration": None}).failures_recorded is True
