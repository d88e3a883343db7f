"""The first real flow over the bus: patients changes a department, identity's copy follows —
through real RabbitMQ and PostgreSQL, and under the embedded defaults between OS processes."""
import os
import subprocess
import sys
import uuid

from servicekit import testing
from servicekit.events import parse_event

from identity.handlers import HANDLERS as IDENTITY_HANDLERS
from patients.domain.organisation import department_id
from patients.service.organisation import bundled_organisation, load_organisation, rename_department

from .harness import REPO, WorkerProcess, WorkerThread, count, identity_department_names

DEPARTMENTS = 21  # in the bundled organisation


def test_department_change_reaches_identity_through_rabbitmq(patients, identity):
    with WorkerThread(patients, {}), WorkerThread(identity, IDENTITY_HANDLERS):
        with patients.uow() as uow:
            report = load_organisation(uow, bundled_organisation())
        assert report.created == DEPARTMENTS
        testing.wait_for(lambda: len(identity_department_names(identity)) == DEPARTMENTS,
                         message="identity to hold every department")

        with patients.uow() as uow:
            rename_department(uow, department_id("OUH-REU-C"), "Reumatologisk Afdeling C, Ærø-fløjen")
        testing.wait_for(lambda: identity_department_names(identity)["OUH-REU-C"]
                         == "Reumatologisk Afdeling C, Ærø-fløjen", message="the new name in identity")


def test_every_event_patients_produces_matches_its_contract(patients):
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    with patients.db.engine.connect() as connection:
        bodies = [row.body for row in connection.execute(patients.messaging.outbox.select())]
    assert len(bodies) == DEPARTMENTS
    for body in bodies:
        event = parse_event(body)
        assert event.type == "patients.department.upserted" and event.producer == "patients"


def test_reloading_the_same_organisation_emits_nothing(patients):
    with patients.uow() as uow:
        load_organisation(uow, bundled_organisation())
    with patients.uow() as uow:
        again = load_organisation(uow, bundled_organisation())
    assert (again.created, again.changed, again.unchanged) == (0, 0, DEPARTMENTS)
    assert count(patients, patients.messaging.outbox) == DEPARTMENTS


def test_department_flow_under_embedded_defaults_between_processes(tmp_path):
    """No PostgreSQL, no RabbitMQ: SQLite files and the broker-less transport, separate processes."""
    env = {key: value for key, value in os.environ.items()
           if not key.endswith("_DATABASE_URL") and key != "DANBIO_BROKER_URL"}
    env.update({"DANBIO_DATA_DIR": str(tmp_path), "DANBIO_RELAY_IDLE_WAIT": "0.2"})

    def cli(*args):
        subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, check=True, capture_output=True)

    cli("patients", "migrate")
    cli("identity", "migrate")
    cli("patients", "load-reference")
    # The publisher (patients) and the consumer (identity) never share a process.
    workers = [WorkerProcess("patients", env, tmp_path / "patients.log").start(),
               WorkerProcess("identity", env, tmp_path / "identity.log").start()]
    try:
        from identity.runtime import build_runtime as build_identity
        from patients.runtime import build_runtime as build_patients

        identity, patients = build_identity(env), build_patients(env)
        assert identity.settings.broker_url.startswith("sqla+sqlite")
        testing.wait_for(lambda: len(identity_department_names(identity)) == DEPARTMENTS, timeout=20,
                         message="identity (SQLite) to hold every department")
        new_name = f"Afdeling {uuid.uuid4().hex[:6]}"
        with patients.uow() as uow:
            rename_department(uow, department_id("AUH-LBR"), new_name)
        testing.wait_for(lambda: identity_department_names(identity)["AUH-LBR"] == new_name, timeout=20,
                         message="the renamed department in identity")
    finally:
        for worker in workers:
            worker.terminate()
