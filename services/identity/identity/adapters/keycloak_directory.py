"""Keycloak, where users' credentials live, as identity sees it: a small directory of users.

identity is the only code that calls Keycloak's admin API, with the `identity-admin` service
account (realm-management roles manage-users, view-users, query-users and nothing more). Every
failure comes out as a servicekit error: Keycloak down, slow or refusing identity is
DependencyUnavailable (503); a clash is Conflict; a password the realm's policy refuses is
InvalidInput.
"""
from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Protocol

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakConnectionError, KeycloakError

from servicekit.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound

from ..domain.users import RESERVED_USERNAME_PREFIX
from ..settings import IdentitySettings

log = logging.getLogger(__name__)

# issue 5: concurrent admin API calls when many users' states are needed; the alias of MitID's broker.
PARALLEL_CALLS = 8
MITID_PROVIDER = "mitid"
# issue 10: the failed logins (event types) that can lock a user: Keycloak's brute-force detection
# counts wrong credentials in every flow that asks for them, and the event is the flow's error.
# deploy/keycloak/realm-danbio.json stores these events.
FAILURE_EVENT_TYPES = ("LOGIN_ERROR", "RESET_PASSWORD_ERROR", "IDENTITY_PROVIDER_FIRST_LOGIN_ERROR",
                       "IDENTITY_PROVIDER_POST_LOGIN_ERROR", "IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR")
# Identity's and Keycloak's clocks may differ a little; a failure this much older is still read.
CLOCK_MARGIN_SECONDS = 60
POLICY_TTL_SECONDS = 60.0
# More permanent lockouts or recent failures than this are not read in one call: each user is asked.
READ_CAP = 1000
# Connections to Keycloak kept alive per process. Each request thread may ask PARALLEL_CALLS at once
# (a user list); with requests' default of 10, a loaded process threw connections away and opened
# new ones for every call (found by bench/load.py: "Connection pool is full, discarding connection").
KEEP_ALIVE_CONNECTIONS = 64


@dataclass(frozen=True)
class LockStatus:
    """Keycloak's brute-force state of one user."""

    locked: bool        # temporarily or permanently locked out
    permanent: bool     # locked until someone unlocks it (Keycloak disabled the user)
    failures: int       # failed logins counted since the last success or reset


class UserDirectory(Protocol):
    def find_user_id(self, username: str) -> str | None:
        """Keycloak's id of the user with this username, or None."""

    def create_user(self, *, username: str, email: str, first_name: str, last_name: str, locale: str) -> str:
        """Create an enabled user with a verified e-mail; return Keycloak's id."""

    def set_password(self, keycloak_id: str, password: str, *, temporary: bool = False) -> None:
        """Set the password (the realm's password policy applies)."""

    def brute_force_status(self, keycloak_id: str) -> LockStatus: ...

    def clear_brute_force(self, keycloak_id: str) -> None:
        """Unlock a user that failed to log in too often (temporarily or permanently)."""

    def logout(self, keycloak_id: str) -> None:
        """End every session of the user."""

    def delete_user(self, keycloak_id: str) -> None: ...

    def service_account_client(self, keycloak_id: str) -> str | None:
        """The client id whose service account this Keycloak user is; None for people and unknown ids."""

    def locked_users(self, keycloak_ids) -> set[str]:
        """Those of the ids that are locked out now (temporarily or permanently)."""

    def mitid_linked_ids(self) -> set[str]:
        """Every user of the realm with a MitID link."""


class KeycloakUserDirectory:
    """UserDirectory over python-keycloak's KeycloakAdmin, with client credentials."""

    def __init__(self, settings: IdentitySettings):
        self.settings = settings
        self._admin: KeycloakAdmin | None = None
        self._lock = threading.Lock()
        self._policy: LockoutPolicy | None = None
        self._policy_read_at = 0.0

    def _client(self) -> KeycloakAdmin:
        if not self.settings.keycloak_client_secret:
            raise DependencyUnavailable("identity has no secret for Keycloak's admin API "
                                        "(IDENTITY_KEYCLOAK_CLIENT_SECRET is not set); nothing was changed.")
        with self._lock:
            if self._admin is None:
                # The token is fetched on first use and renewed by python-keycloak.
                self._admin = KeycloakAdmin(connection=KeycloakOpenIDConnection(
                    server_url=self.settings.keycloak_url, realm_name=self.settings.keycloak_realm,
                    client_id=self.settings.keycloak_client_id,
                    client_secret_key=self.settings.keycloak_client_secret,
                    grant_type="client_credentials", timeout=self.settings.keycloak_timeout, max_retries=0,
                    pool_maxsize=KEEP_ALIVE_CONNECTIONS))
            return self._admin

    def find_user_id(self, username: str) -> str | None:
        with keycloak_errors():
            return self._client().get_user_id(username)

    def create_user(self, *, username: str, email: str, first_name: str, last_name: str, locale: str) -> str:
        payload = {"username": username, "email": email, "firstName": first_name, "lastName": last_name,
                   "enabled": True, "emailVerified": True, "attributes": {"locale": [locale]}}
        with keycloak_errors():
            return self._client().create_user(payload)

    def set_password(self, keycloak_id: str, password: str, *, temporary: bool = False) -> None:
        with keycloak_errors():
            self._client().set_user_password(keycloak_id, password, temporary=temporary)

    def brute_force_status(self, keycloak_id: str) -> LockStatus:
        with keycloak_errors():
            status = self._client().get_bruteforce_detection_status(keycloak_id)
            permanent = _permanently_locked(self._client().get_user(keycloak_id))
        return LockStatus(locked=permanent or bool(status.get("disabled")), permanent=permanent,
                          failures=int(status.get("numFailures") or 0))

    def clear_brute_force(self, keycloak_id: str) -> None:
        with keycloak_errors():
            client = self._client()
            client.clear_bruteforce_attempts_for_user(keycloak_id)
            # A permanent lockout disables the user; enabling it also drops Keycloak's disabledReason.
            if _permanently_locked(client.get_user(keycloak_id)):
                client.update_user(keycloak_id, {"enabled": True})

    def logout(self, keycloak_id: str) -> None:
        with keycloak_errors():
            self._client().user_logout(keycloak_id)

    def delete_user(self, keycloak_id: str) -> None:
        with keycloak_errors():
            self._client().delete_user(keycloak_id)

    # issue 7: profile and password reset
    def update_profile(self, keycloak_id: str, *, first_name: str, last_name: str, email: str) -> None:
        """Keep Keycloak's names and e-mail in step with identity's profile (the e-mail stays verified:
        the user typed it while logged in)."""
        with keycloak_errors():
            self._client().update_user(keycloak_id, {"firstName": first_name, "lastName": last_name,
                                                     "email": email, "emailVerified": True})

    def password_policy(self) -> str:
        """The realm's password policy as Keycloak writes it, e.g. 'length(12) and notUsername'.
        Needs realm-management's view-realm (read-only realm settings)."""
        with keycloak_errors():
            return self._client().get_realm(self.settings.keycloak_realm).get("passwordPolicy") or ""

    def service_account_client(self, keycloak_id: str) -> str | None:
        try:
            with keycloak_errors():
                user = self._client().get_user(keycloak_id)
        except NotFound:
            return None
        # Keycloak names a client's service-account user "service-account-<client id>" (the admin
        # API does not say otherwise); identity never gives a person such a username.
        username = str(user.get("username") or "")
        return username[len(RESERVED_USERNAME_PREFIX):] if username.startswith(RESERVED_USERNAME_PREFIX) else None

    # issue 5: user administration — which of many users are locked out, and who has linked MitID.
    def locked_users(self, keycloak_ids) -> set[str]:
        """The Keycloak ids among ``keycloak_ids`` that Keycloak has locked out now, temporarily or
        permanently. A user Keycloak no longer has is not locked.

        Keycloak answers the lock state one user at a time; asking it for each user made a list
        page 50 admin calls (issue 10's load test: p99 450 ms). Instead: the permanently locked are
        one query (disabled with reason permanentLockout), and a temporary lock only follows a
        failed login within the realm's longest lock, which the event store lists, so only users
        with such a failure are asked one by one. Where the realm does not record those failures,
        or there are too many of them to read (an attack), every user is asked, as before."""
        ids = list(dict.fromkeys(keycloak_ids))
        if not ids:
            return set()
        policy = self.lockout_policy()
        permanent = recent = None
        if policy.failures_recorded:
            with ThreadPoolExecutor(max_workers=2) as pool:  # two independent reads: at once
                asked_permanent = pool.submit(self.permanently_locked_ids)
                recent = pool.submit(self._recently_failed_ids, policy).result()
                permanent = asked_permanent.result()
        if permanent is None or recent is None:
            asked = self._per_user(ids, self._lock_status_or_unlocked)
            return {key for key, status in asked.items() if status.locked}
        to_ask = [key for key in ids if key in recent and key not in permanent]
        temporary = self._per_user(to_ask, self._temporarily_locked)
        return {key for key in ids if key in permanent or temporary.get(key)}

    def lockout_policy(self) -> "LockoutPolicy":
        """The realm's brute-force and event settings, read at most every POLICY_TTL_SECONDS (they
        are configuration; a change shows within that time)."""
        now = time.monotonic()
        with self._lock:
            if self._policy is not None and now - self._policy_read_at < POLICY_TTL_SECONDS:
                return self._policy
        with keycloak_errors():
            realm = self._client().get_realm(self.settings.keycloak_realm)
        policy = LockoutPolicy.of_realm(realm)
        with self._lock:
            self._policy, self._policy_read_at = policy, now
        return policy

    def mitid_linked_ids(self) -> set[str]:
        """Keycloak ids of every user of the realm with a MitID link (identity's worker keeps its
        copy of the links in step with this; the list pages read the copy)."""
        with keycloak_errors():
            users = self._client().get_users({"idpAlias": MITID_PROVIDER, "briefRepresentation": "true"})
        return {user["id"] for user in users}

    def permanently_locked_ids(self) -> set[str] | None:
        """Every permanently locked user of the realm; None when there are too many to read."""
        with keycloak_errors():
            users = self._client().get_users({"enabled": "false", "q": "disabledReason:permanentLockout",
                                              "briefRepresentation": "true", "first": 0, "max": READ_CAP})
        return None if len(users) >= READ_CAP else {user["id"] for user in users}

    def _recently_failed_ids(self, policy: "LockoutPolicy") -> set[str] | None:
        """Users with a recorded failure recent enough to lock them now; None when there are too
        many to read (the caller then asks each user)."""
        since_ms = int((time.time() - policy.window_seconds - CLOCK_MARGIN_SECONDS) * 1000)
        with keycloak_errors():
            events = self._client().get_events({"type": list(FAILURE_EVENT_TYPES), "dateFrom": str(since_ms),
                                                "first": 0, "max": READ_CAP})
        if len(events) >= READ_CAP:
            log.warning("too many recent login failures to read; asking Keycloak for each user's lock")
            return None
        return {event["userId"] for event in events if event.get("userId")}

    def _temporarily_locked(self, keycloak_id: str) -> bool:
        try:
            with keycloak_errors():
                return bool(self._client().get_bruteforce_detection_status(keycloak_id).get("disabled"))
        except NotFound:
            return False

    def _lock_status_or_unlocked(self, keycloak_id: str) -> LockStatus:
        try:
            return self.brute_force_status(keycloak_id)
        except NotFound:
            return LockStatus(locked=False, permanent=False, failures=0)

    def _per_user(self, keycloak_ids, ask):
        ids = list(dict.fromkeys(keycloak_ids))
        if not ids:
            return {}
        self._client()  # fails fast (503) before any thread starts
        with ThreadPoolExecutor(max_workers=min(PARALLEL_CALLS, len(ids))) as pool:
            return dict(zip(ids, pool.map(ask, ids)))


@dataclass(frozen=True)
class LockoutPolicy:
    """What identity needs of the realm's settings to tell locked users from the others."""

    window_seconds: int      # a temporary lock ends at most this long after the failure that set it
    failures_recorded: bool  # the event store keeps every failure that can lock, for at least the window

    @classmethod
    def of_realm(cls, realm: dict) -> "LockoutPolicy":
        window = max(int(realm.get("maxFailureWaitSeconds") or 0), int(realm.get("minimumQuickLoginWaitSeconds") or 0))
        # No types listed means Keycloak stores every type it stores by default (the failures among them).
        types = set(realm.get("enabledEventTypes") or FAILURE_EVENT_TYPES)
        kept = int(realm.get("eventsExpiration") or 0)  # seconds; 0 or none: kept until deleted
        return cls(window_seconds=window,
                   failures_recorded=bool(realm.get("eventsEnabled")) and set(FAILURE_EVENT_TYPES) <= types
                   and (kept == 0 or kept >= window + CLOCK_MARGIN_SECONDS))


def _permanently_locked(user: dict) -> bool:
    reasons = (user.get("attributes") or {}).get("disabledReason") or []
    return not user.get("enabled", True) and "permanentLockout" in reasons


# The realm's user-profile attributes and validator messages, as identity's fields and codes.
_PROFILE_FIELDS = {"username": "username", "email": "email", "firstName": "first_name", "lastName": "last_name"}
_PROFILE_CODES = {"error-person-name-invalid-character": "invalid_characters",
                  "error-username-invalid-character": "invalid_username", "error-invalid-email": "invalid_email",
                  "error-invalid-length": "too_long"}


def _field_refusals(error: KeycloakError) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Keycloak's user-profile refusal ({"field", "errorMessage"}, or a list under "errors") as
    (errors, codes) on identity's field names (issue 10: a name with "<" came back as a 422 without
    a field, its detail Keycloak's raw body, and the web UI could not say what was wrong)."""
    try:
        body = json.loads(error.response_body or b"{}")
    except (ValueError, TypeError):
        return {}, {}
    items = body.get("errors") if isinstance(body, dict) and isinstance(body.get("errors"), list) else [body]
    errors: dict[str, list[str]] = {}
    codes: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("field") not in _PROFILE_FIELDS:
            continue
        field, message = _PROFILE_FIELDS[item["field"]], str(item.get("errorMessage") or "")
        errors.setdefault(field, []).append(message)
        codes.setdefault(field, _PROFILE_CODES.get(message, "invalid"))
    return errors, codes


def _keycloak_reason(error: KeycloakError) -> tuple[str, str]:
    """(error code, human description) from Keycloak's JSON error body, as far as there is one."""
    try:
        body = json.loads(error.response_body or b"{}")
    except (ValueError, TypeError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error") or body.get("errorMessage") or "")
    description = str(body.get("error_description") or body.get("errorMessage") or error.error_message or "")
    return code, description


@contextlib.contextmanager
def keycloak_errors() -> Iterator[None]:
    """Translate python-keycloak's exceptions into the service's problem errors."""
    try:
        yield
    except KeycloakConnectionError:
        log.warning("keycloak unreachable")
        raise DependencyUnavailable("The login service (Keycloak) is not reachable; nothing was changed.") from None
    except KeycloakAuthenticationError as exc:
        log.error("keycloak refused identity's credentials", extra={"status": exc.response_code})
        raise DependencyUnavailable("identity could not authenticate to the login service (Keycloak); "
                                    "nothing was changed.") from None
    except KeycloakError as exc:
        status = exc.response_code or 0
        code, description = _keycloak_reason(exc)
        if status == 409:
            raise Conflict("A user with this username or e-mail already exists in the login service.") from None
        if status == 404 and "realm" not in (code + description).lower():
            raise NotFound("The user does not exist in the login service.") from None
        if status == 400 and "password" in (code + description).lower():
            # Keycloak's message key (e.g. invalidPasswordMinLengthMessage) is the code the web UI words in Danish.
            raise InvalidInput("The password does not meet the password policy.",
                               errors={"password": [description or code]},
                               codes={"password": code if code.startswith("invalidPassword") else "password_policy"}) from None
        if status == 400:
            errors, codes = _field_refusals(exc)
            if codes:  # the realm's user profile refused fields (e.g. "<" in a name): say which, with a code
                raise InvalidInput("Some fields are missing or invalid.", errors=errors, codes=codes) from None
            raise InvalidInput(f"The login service refused the request: {description or code}.") from None
        # 403: identity-admin lacks a role; 404 on the realm: a wrong DANBIO_KEYCLOAK_REALM; 5xx: Keycloak
        # is failing. None of them is the caller's fault.
        log.error("keycloak admin API failed", extra={"status": status, "error": code})
        raise DependencyUnavailable("The login service (Keycloak) failed; nothing was changed.") from None
