"""Access changes reach the gateway within a second: identity commits a change together with
``identity.user.access_changed`` (its outbox), its worker publishes it, and every gateway drops
the user's cached principal, so the next request is resolved afresh.

"Resolved afresh" is read from the gateway's own counter of principal lookups: a cache hit before
the change, a miss (a new question to identity) for the first request after the event arrived.
Shown on RabbitMQ with two gateway instances (each has its own queue) and on the embedded
transport that `make run` uses without servers."""
import os
import subprocess
import time

import pytest
import requests
from sqlalchemy import delete, update

from servicekit import testing

from .conftest import metric, wait_until_gateway_ready
from .harness import Stack

LOOKUPS = "danbio_gateway_principal_lookups_total"
INVALIDATIONS = "danbio_gateway_principal_invalidations_total"
LIMIT_SECONDS = 1.0


def get_me(gateway: str, token: str) -> requests.Response:
    return requests.get(f"{gateway}/api/identity/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def prime(gateway: str, token: str) -> None:
    """Cache the principal, and prove the cache serves it."""
    assert get_me(gateway, token).status_code == 200
    hits = metric(gateway, LOOKUPS, result="hit")
    assert get_me(gateway, token).status_code == 200
    assert metric(gateway, LOOKUPS, result="hit") == hits + 1, "the gateway did not serve the cached principal"


def change_access(runtime, user_id, keycloak_id, *, remove_user: bool = False) -> float:
    """What an identity use case does (issue 5 builds them): the change and its event in one
    transaction. Returns the monotonic time of the commit."""
    from identity.adapters.tables import users
    from identity.service.access import record_access_changed

    with runtime.uow() as uow:
        if remove_user:
            uow.session.execute(delete(users).where(users.c.id == user_id))
        else:
            uow.session.execute(update(users).where(users.c.id == user_id).values(registry_admin=False))
        record_access_changed(uow, user_id=user_id, keycloak_id=keycloak_id,
                              reason="removed" if remove_user else "roles_changed")
        uow.commit()
    return time.monotonic()


def seconds_until_resolved_afresh(gateways: list[str], token: str, committed_at: float,
                                  misses_before: dict[str, float], *, expect_status: int = 200) -> dict[str, float]:
    """Poll every gateway until its next request asks identity again; the delay after the commit."""
    delays: dict[str, float] = {}
    while len(delays) < len(gateways):
        for gateway in gateways:
            if gateway in delays:
                continue
            response = get_me(gateway, token)
            answered_at = time.monotonic()  # the change was seen by then at the latest
            if metric(gateway, LOOKUPS, result="miss") + metric(gateway, LOOKUPS, result="unknown") \
                    > misses_before[gateway]:
                assert response.status_code == expect_status, response.text
                delays[gateway] = answered_at - committed_at
        if time.monotonic() - committed_at > 10:
            raise AssertionError(f"gateways still serve the old principal after 10 s: {sorted(set(gateways) - set(delays))}")
        time.sleep(0.005)
    return delays


def misses(gateways: list[str]) -> dict[str, float]:
    return {g: metric(g, LOOKUPS, result="miss") + metric(g, LOOKUPS, result="unknown") for g in gateways}


def wait_for_invalidation(gateways: list[str], before: dict[str, float]) -> None:
    """Wait until every gateway applied an access_changed event counted after `before`."""
    deadline = time.monotonic() + 10
    while any(metric(g, INVALIDATIONS) <= before[g] for g in gateways):
        assert time.monotonic() < deadline, "a gateway never heard of the new user's creation"
        time.sleep(0.02)


def revoke_and_measure(gateways, runtime, new_user, keycloak_realm) -> None:
    invalidated = {g: metric(g, INVALIDATIONS) for g in gateways}
    user_id, login = new_user(registry_admin=True)
    # Creating the user announces an access change too; let it arrive before priming the cache,
    # or it may empty the cache between the two requests of prime().
    wait_for_invalidation(gateways, invalidated)
    token = keycloak_realm.user_token(login.username, login.password)["access_token"]
    for gateway in gateways:
        prime(gateway, token)

    before = misses(gateways)
    delays = seconds_until_resolved_afresh(gateways, token, change_access(runtime, user_id, login.id), before)
    print(f"\nrole change seen after: {', '.join(f'{d * 1000:.0f} ms' for d in delays.values())}")
    assert all(delay < LIMIT_SECONDS for delay in delays.values()), delays
    for gateway in gateways:
        assert get_me(gateway, token).json()["registry_admin"] is False

    for gateway in gateways:
        prime(gateway, token)
    before = misses(gateways)
    committed = change_access(runtime, user_id, login.id, remove_user=True)
    delays = seconds_until_resolved_afresh(gateways, token, committed, before, expect_status=403)
    print(f"removal seen after: {', '.join(f'{d * 1000:.0f} ms' for d in delays.values())}")
    assert all(delay < LIMIT_SECONDS for delay in delays.values()), delays
    for gateway in gateways:
        response = get_me(gateway, token)
        assert response.status_code == 403 and response.json()["detail"].startswith("No access")


@pytest.fixture(scope="module")
def second_gateway(stack):
    """Another gateway instance beside the stack's own (two replicas behind a load balancer)."""
    process = stack.start_web("gateway-2", "gateway.app:create_app()", workers=1, threads=4, env=stack.gateway_env)
    process.wait_ready()
    wait_until_gateway_ready(stack.url("gateway-2"))
    yield stack.url("gateway-2")
    process.stop()
    del stack.processes["gateway-2"]


def test_every_gateway_on_rabbitmq_sees_the_change_within_a_second(stack, second_gateway, identity_runtime,
                                                                   new_user, keycloak_realm, e2e_broker_url):
    gateways = [stack.url("gateway"), second_gateway]
    # Each instance reads a queue of its own; there is no shared queue that nobody would read.
    vhost = e2e_broker_url.rsplit("/", 1)[1]
    rows = subprocess.run([testing.require_env("DANBIO_TEST_RABBITMQ_CTL"), "ctl", "list_queues", "-q", "-p",
                           vhost, "name", "consumers"], check=True, capture_output=True, text=True,
                          timeout=60).stdout.splitlines()
    # (rabbitmqctl prints a "name consumers" header even with -q.)
    consumers = {name: int(count) for name, count in (row.split() for row in rows if row.strip())
                 if count.isdigit()}
    # Queues of gateways other tests stopped linger until they expire; the live ones are consumed.
    live = [name for name, count in consumers.items()
            if name.startswith("gateway.principals.") and name != "gateway.principals.dead" and count > 0]
    assert len(live) == 2, consumers
    assert "gateway.principals" not in consumers
    revoke_and_measure(gateways, identity_runtime, new_user, keycloak_realm)


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory, keycloak_realm, principal_keys, stack):
    """identity (web + worker) and a gateway on SQLite and the broker-less transport, as `make run`
    without servers."""
    from .conftest import private_pem

    data = tmp_path_factory.mktemp("embedded")
    env = {"DANBIO_DATA_DIR": str(data), "DANBIO_BROKER_URL": f"sqla+sqlite:///{data / 'bus.db'}",
           "IDENTITY_DATABASE_URL": f"sqlite:///{data / 'identity.db'}",
           "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1], **keycloak_realm.identity_env()}
    embedded = Stack(env, data)
    identity = embedded.reserve("identity")
    try:
        embedded.run("-m", "identity", "migrate")
        embedded.start_web("identity", "identity.app:create_app()")
        embedded.start_worker("identity")
        embedded.start_web("gateway", "gateway.app:create_app()", workers=1, threads=4, env={
            "GATEWAY_PRINCIPAL_SIGNING_KEY": private_pem(principal_keys[0]), "GATEWAY_ISSUER": keycloak_realm.issuer,
            "GATEWAY_IDENTITY_URL": identity})
        embedded.wait_ready()
        wait_until_gateway_ready(embedded.url("gateway"))
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
def embedded_new_user(embedded_stack, user_directory):
    from identity.runtime import build_runtime

    from .conftest import user_factory

    runtime = build_runtime({**os.environ, **embedded_stack.env})
    yield runtime, user_factory(runtime, user_directory)
    runtime.db.dispose()


def test_the_embedded_transport_delivers_the_change_within_a_second(embedded_stack, embedded_new_user, keycloak_realm):
    runtime, make_user = embedded_new_user
    revoke_and_measure([embedded_stack.url("gateway")], runtime, make_user, keycloak_realm)
