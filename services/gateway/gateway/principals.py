"""Who the caller is: the principal identity resolves for a token's subject, cached.

The cache is only trusted while the bus can tell us about changes: it is switched on when the
consumer of ``identity.user.access_changed`` starts (emptied then, since events may have been
missed while it was away) and off when it stops; while off every request asks identity. An
entry is also dropped after ``ttl`` seconds as a last safety net.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Callable
from urllib.parse import quote

from prometheus_client import Counter

from servicekit.errors import DependencyUnavailable, Forbidden
from servicekit.logs import current_correlation_id
from servicekit.principal import HEADER, Principal, sign
from servicekit.web import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

LOOKUPS = Counter("danbio_gateway_principal_lookups_total", "Principal lookups by the gateway",
                  ["result"])  # hit | miss | unknown
_HITS = LOOKUPS.labels("hit")  # counted on nearly every request: labels() looked up once

# The gateway's own identity when it asks identity about a caller.
GATEWAY_PRINCIPAL = Principal(subject="gateway", kind="client", username="gateway",
                              client_roles=frozenset({"gateway"}))


class NoAccess(Forbidden):
    def __init__(self):
        super().__init__("No access: your login is valid, but this system has no user with access for it. "
                         "Ask your local user administrator.")


class PrincipalCache:
    def __init__(self, fetch: Callable[[str], Principal | None], *, ttl: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic):
        self.fetch, self.ttl, self.max_entries, self.clock = fetch, ttl, max_entries, clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._enabled = False
        # Bumped by every drop/clear: a lookup that raced with one does not store its answer,
        # which may be from before the change.
        self._changes = 0

    def get(self, subject: str) -> Principal:
        """The principal of a Keycloak subject; NoAccess if identity knows no such user."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(subject)
            if entry is not None and now - entry[1] < self.ttl:
                self._entries.move_to_end(subject)
                _HITS.inc()
                return entry[0]
            changes = self._changes
        principal = self.fetch(subject)
        if principal is None:
            LOOKUPS.labels("unknown").inc()
            raise NoAccess()
        LOOKUPS.labels("miss").inc()
        with self._lock:
            if self._enabled and self._changes == changes:
                self._entries[subject] = (principal, now)
                self._entries.move_to_end(subject)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return principal

    def drop(self, subject: str) -> None:
        with self._lock:
            self._changes += 1
            self._entries.pop(subject, None)
        log.info("cached principal dropped")

    def enable(self) -> None:
        with self._lock:
            self._changes += 1
            self._entries.clear()
            self._enabled = True
        log.info("principal cache on: access changes arrive")

    def disable(self, *, shutting_down: bool = False) -> None:
        with self._lock:
            self._changes += 1
            self._entries.clear()
            self._enabled = False
        if not shutting_down:
            log.warning("principal cache off: access changes cannot arrive, asking identity on every request")

    @property
    def enabled(self) -> bool:
        return self._enabled


def identity_lookup(pool, signing_key, *, timeout) -> Callable[[str], Principal | None]:
    """Ask identity's internal endpoint, as the gateway, for the principal of a Keycloak subject."""
    def fetch(subject: str) -> Principal | None:
        headers = {HEADER: sign(GATEWAY_PRINCIPAL, audience="identity", key=signing_key),
                   REQUEST_ID_HEADER: current_correlation_id(), "Accept": "application/json"}
        try:
            response = pool.request("GET", f"/internal/principals/{quote(subject, safe='')}", headers=headers,
                                    timeout=timeout, retries=1, redirect=False)
        except Exception as exc:
            log.warning("identity unreachable for a principal lookup", extra={"error": exc.__class__.__name__})
            raise DependencyUnavailable("The gateway cannot find out who you are right now "
                                        "(the identity service does not answer).") from None
        if response.status == 404:
            return None
        if response.status != 200:
            log.warning("identity refused a principal lookup", extra={"status": response.status})
            raise DependencyUnavailable("The gateway cannot find out who you are right now "
                                        f"(the identity service answered {response.status}).")
        return Principal.from_dict(json.loads(response.data))
    return fetch


class SignedPrincipals:
    """The X-Danbio-Principal value for (principal, service), signed once and used for a few
    seconds: a signature is valid 30 s at the service, so one made up to REUSE_SECONDS ago still
    has at least 20 s left when it arrives. Keyed by the principal object itself: a principal
    fetched afresh (an access change) is signed afresh."""

    REUSE_SECONDS = 10.0

    def __init__(self, key, *, max_entries: int = 10_000, clock: Callable[[], float] = time.time):
        self.key, self.max_entries, self.clock = key, max_entries, clock
        self._signed: OrderedDict[tuple[int, str], tuple[Principal, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def header(self, principal: Principal, audience: str) -> str:
        now = self.clock()
        slot = (id(principal), audience)
        with self._lock:
            entry = self._signed.get(slot)
        if entry is not None and entry[0] is principal and now - entry[2] < self.REUSE_SECONDS:
            return entry[1]
        value = sign(principal, audience=audience, key=self.key, now=now)
        with self._lock:
            self._signed[slot] = (principal, value, now)
            self._signed.move_to_end(slot)
            while len(self._signed) > self.max_entries:
                self._signed.popitem(last=False)
        return value
