"""The worker (outbox relay + the periodic expiry of transfer requests) against the real servers,
and the service's own settings: the CPR keys and the expiry."""
import stat
import threading

import pytest
from sqlalchemy import select

from patients.adapters.tables import messaging
from patients.runtime import build_runtime
from patients.worker import run
from servicekit.config import ConfigError
from servicekit.testing import wait_for
from services.patients.tests.support import CPR_A, GLOSTRUP, ODENSE, key, new_patient


@pytest.fixture
def env(env, bus):
    # Requests live about a second; the worker looks every 0.2 s.
    return {**env, "DANBIO_BROKER_URL": bus, "PATIENTS_TRANSFER_EXPIRY_DAYS": "0.00001",
            "PATIENTS_EXPIRY_INTERVAL_SECONDS": "0.2", "DANBIO_RELAY_IDLE_WAIT": "0.2"}


def test_the_worker_expires_requests_and_publishes_events(app, env, caller):
    odense, glostrup = caller(ODENSE), caller(GLOSTRUP)
    new_patient(odense, ODENSE, CPR_A)
    [transfer] = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                              "to_department_id": str(GLOSTRUP)}).json
    assert transfer["status"] == "pending"
    worker_runtime, stop = build_runtime(env), threading.Event()
    thread = threading.Thread(target=run, args=(worker_runtime,), kwargs={"stop": stop})
    thread.start()
    try:
        wait_for(lambda: odense.get(f"/transfers/{transfer['id']}").json["status"] == "expired",
                 timeout=15, message="the worker to expire the request")
        runtime = app.extensions["danbio.runtime"]

        def unpublished():
            with runtime.uow() as uow:
                return uow.session.execute(select(messaging.outbox.c.event_type)
                                           .where(messaging.outbox.c.published_at.is_(None))).all()
        wait_for(lambda: unpublished() == [], timeout=15, message="the relay to publish every event")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert sorted(n["kind"] for n in glostrup.get("/notices").json) == ["transfer_expired"]


def test_cpr_keys_come_from_the_settings(env):
    runtime = build_runtime(env)
    assert runtime.settings.cpr_key.value == bytes([1]) * 32
    assert "\\x01" not in repr(runtime.settings) and "SecretKey(***)" in repr(runtime.settings)
    runtime.db.dispose()


@pytest.mark.parametrize("variable, value, message", [
    ("PATIENTS_CPR_KEY", "not base64!", "PATIENTS_CPR_KEY is malformed: expected base64"),
    ("PATIENTS_CPR_KEY", key(1)[:20], "PATIENTS_CPR_KEY is malformed: expected 32 bytes"),
    ("PATIENTS_CPR_HASH_KEY", "c2hvcnQ=", "PATIENTS_CPR_HASH_KEY is malformed: expected at least 32 bytes"),
    ("PATIENTS_CPR_HASH_KEY", key(1), "must differ"),
    ("PATIENTS_TRANSFER_EXPIRY_DAYS", "0", "PATIENTS_TRANSFER_EXPIRY_DAYS is malformed"),
])
def test_bad_settings_stop_start_up_naming_the_variable(env, variable, value, message):
    with pytest.raises(ConfigError, match=message) as raised:
        build_runtime({**env, variable: value})
    if variable.startswith("PATIENTS_CPR"):
        assert value not in str(raised.value)   # keys are never echoed


def test_development_keys_are_made_once_into_the_data_directory(env, tmp_path):
    # The embedded database (make run without servers) is the only place keys are generated.
    development = {k: v for k, v in env.items() if not k.startswith("PATIENTS_CPR") and k != "PATIENTS_DATABASE_URL"}
    development["DANBIO_DATA_DIR"] = str(tmp_path)
    first, second = build_runtime(development), build_runtime(development)
    assert first.settings.cpr_key == second.settings.cpr_key
    assert first.settings.cpr_key != first.settings.cpr_hash_key
    for name in ("patients-cpr.key", "patients-cpr-hash.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".key") == ["patients-cpr-hash.key",
                                                                                  "patients-cpr.key"]
    first.db.dispose()
    second.db.dispose()


def test_a_server_database_never_gets_a_generated_key(env, tmp_path):
    server = {k: v for k, v in env.items() if not k.startswith("PATIENTS_CPR")}
    server["DANBIO_DATA_DIR"] = str(tmp_path)
    with pytest.raises(ConfigError, match="PATIENTS_CPR_KEY is required when PATIENTS_DATABASE_URL is a server"):
        build_runtime(server)
    assert not any(tmp_path.iterdir())
