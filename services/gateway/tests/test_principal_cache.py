import threading
import uuid

import pytest

from gateway.principals import NoAccess, PrincipalCache
from servicekit.principal import Principal


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Identity:
    """Answers like identity's internal endpoint: a principal per subject, None when unknown."""

    def __init__(self):
        self.users = {}
        self.calls = 0

    def __call__(self, subject):
        self.calls += 1
        return self.users.get(subject)


def user(name):
    return Principal(subject=str(uuid.uuid4()), kind="user", username=name)


@pytest.fixture
def identity():
    directory = Identity()
    directory.users["kc-1"] = user("alice")
    return directory


def test_cached_while_enabled_and_dropped_on_change(identity):
    cache = PrincipalCache(identity, ttl=300, max_entries=10)
    cache.enable()
    first = cache.get("kc-1")
    assert cache.get("kc-1") is first and identity.calls == 1
    identity.users["kc-1"] = user("alice-renamed")
    cache.drop("kc-1")
    assert cache.get("kc-1").username == "alice-renamed" and identity.calls == 2


def test_not_cached_while_disabled(identity):
    cache = PrincipalCache(identity, ttl=300, max_entries=10)
    cache.get("kc-1")
    cache.get("kc-1")
    assert identity.calls == 2
    cache.enable()
    cache.get("kc-1")
    cache.disable()
    cache.get("kc-1")
    assert identity.calls == 4


def test_unknown_user_has_no_access_and_is_not_cached(identity):
    cache = PrincipalCache(identity, ttl=300, max_entries=10)
    cache.enable()
    with pytest.raises(NoAccess) as raised:
        cache.get("kc-unknown")
    assert raised.value.status == 403
    identity.users["kc-unknown"] = user("late")
    assert cache.get("kc-unknown").username == "late"


def test_expires_after_ttl_and_is_bounded(identity):
    clock = Clock()
    cache = PrincipalCache(identity, ttl=60, max_entries=2, clock=clock)
    cache.enable()
    cache.get("kc-1")
    clock.now = 61
    cache.get("kc-1")
    assert identity.calls == 2
    for n in range(2, 5):
        identity.users[f"kc-{n}"] = user(f"u{n}")
        cache.get(f"kc-{n}")
    assert len(cache._entries) == 2


def test_a_lookup_racing_with_a_drop_is_not_cached(identity):
    """identity answered before the change was committed; the event came while the answer travelled."""
    release = threading.Event()
    stale = user("stale")

    def slow_identity(subject):
        release.wait(5)
        return stale

    cache = PrincipalCache(slow_identity, ttl=300, max_entries=10)
    cache.enable()
    thread = threading.Thread(target=cache.get, args=("kc-1",))
    thread.start()
    cache.drop("kc-1")
    release.set()
    thread.join()
    assert "kc-1" not in cache._entries


def test_signed_principal_is_reused_briefly_and_verifies():
    from gateway.principals import SignedPrincipals
    from servicekit.principal import generate_keypair, load_private_key, load_public_key, verify

    private, public = generate_keypair()
    now = [1_000_000.0]
    signatures = SignedPrincipals(load_private_key(private), clock=lambda: now[0])
    alice = user("alice")
    first = signatures.header(alice, "patients")
    assert signatures.header(alice, "patients") == first
    assert signatures.header(alice, "identity") != first
    assert verify(first, audience="patients", key=load_public_key(public), now=now[0] + 29).username == "alice"
    refetched = Principal(subject=alice.subject, kind="user", username="alice", registry_admin=True)
    assert verify(signatures.header(refetched, "patients"), audience="patients", key=load_public_key(public),
                  now=now[0]).registry_admin  # a principal fetched afresh is signed afresh
    now[0] += 10
    assert signatures.header(alice, "patients") != first
