"""`python -m identity seed-demo` as `make run` uses it: right after `python -m patients
load-reference`, while the services' workers carry the departments to identity — on PostgreSQL and
RabbitMQ, and on the embedded defaults (SQLite files, broker-less transport)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from identity.service.seed import DEMO_USERS

REPO = Path(__file__).resolve().parents[2]
SERVICE_VARIABLES = ("DANBIO_BROKER_URL", "IDENTITY_DATABASE_URL", "PATIENTS_DATABASE_URL",
                     "NOTIFICATIONS_DATABASE_URL", "DANBIO_DATA_DIR")


@pytest.fixture
def embedded_env(tmp_path, keycloak_realm, principal_keys):
    """The embedded defaults: SQLite files and the broker-less transport under a temporary directory."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(keycloak_realm.identity_env(), DANBIO_DATA_DIR=str(tmp_path), DANBIO_PRINCIPAL_PUBLIC_KEY=principal_keys[1],
               DANBIO_RELAY_IDLE_WAIT="0.2")
    return env


@pytest.fixture(params=["servers", "embedded"])
def system_env(request, embedded_env):
    env = dict(embedded_env)
    if request.param == "servers":
        new_database, bus = request.getfixturevalue("new_database"), request.getfixturevalue("bus")
        env.update(IDENTITY_DATABASE_URL=new_database("identity"), PATIENTS_DATABASE_URL=new_database("patients"),
                   DANBIO_BROKER_URL=bus, DANBIO_RETRY_DELAYS_MS="50,100,200")
    return env


@pytest.fixture
def no_demo_users(keycloak_admin):
    def remove():
        for demo in DEMO_USERS:
            user_id = keycloak_admin.get_user_id(demo.username)
            if user_id:
                keycloak_admin.delete_user(user_id)
    remove()
    yield
    remove()


def run(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def workers(system_env, tmp_path):
    processes = []

    def start():
        for service in ("patients", "identity"):
            log = open(tmp_path / f"{service}-worker.log", "ab")
            processes.append(subprocess.Popen([sys.executable, "-m", service, "worker"], cwd=REPO, env=system_env,
                                              stdout=log, stderr=subprocess.STDOUT))
    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_seed_demo_right_after_loading_the_reference_data(no_demo_users, system_env, workers, keycloak_realm):
    for service in ("patients", "identity"):
        assert run(system_env, service, "migrate").returncode == 0
    loaded = run(system_env, "patients", "load-reference")
    assert loaded.returncode == 0, loaded.stderr
    workers()

    first = run(system_env, "identity", "seed-demo", "--timeout", "60")
    assert first.returncode == 0, first.stderr
    for demo in DEMO_USERS:
        assert f"{demo.username:<10} {demo.password:<22} (created)" in first.stdout
    second = run(system_env, "identity", "seed-demo", "--timeout", "5")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("(unchanged)") == len(DEMO_USERS)

    admin = DEMO_USERS[0]
    assert keycloak_realm.user_token(admin.username, admin.password)["access_token"]


def test_seed_demo_without_reference_data_fails_clearly(no_demo_users, embedded_env):
    assert run(embedded_env, "identity", "migrate").returncode == 0
    failed = run(embedded_env, "identity", "seed-demo", "--timeout", "0.5")
    assert failed.returncode == 1
    assert "has not received department OUH-REU-C" in failed.stderr
    assert "python -m patients load-reference" in failed.stderr
