import pytest

from patients.app import create_app
from patients.domain.organisation import department_id
from patients.service.organisation import bundled_organisation, load_organisation, rename_department
from servicekit.errors import InvalidInput, NotFound


@pytest.fixture
def env(new_database, amqp_url):
    return {"PATIENTS_DATABASE_URL": new_database("patients"), "DANBIO_BROKER_URL": amqp_url}


@pytest.fixture
def app(env):
    app = create_app(env)
    runtime = app.extensions["danbio.runtime"]
    runtime.migrate()
    with runtime.uow() as uow:
        load_organisation(uow, bundled_organisation())
    yield app
    runtime.db.dispose()


def test_regions_are_the_five_and_private_practice(app):
    regions = app.test_client().get("/regions").json
    assert [r["name"] for r in regions] == ["Region Hovedstaden", "Region Midtjylland", "Region Nordjylland",
                                            "Praksis", "Region Syddanmark", "Region Sjælland"]


def test_departments_carry_hospital_and_region(app):
    departments = {d["code"]: d for d in app.test_client().get("/departments").json}
    odense = departments["OUH-REU-C"]
    assert odense["hospital"]["name"] == "Odense Universitetshospital"
    assert odense["hospital"]["region"]["code"] == "SD"
    assert odense["revision"] == 1


def test_rename_bumps_revision_and_refuses_bad_input(app):
    runtime = app.extensions["danbio.runtime"]
    with runtime.uow() as uow:
        renamed = rename_department(uow, department_id("OUH-REU-C"), "  Reumatologi C  ")
    assert (renamed.name, renamed.revision) == ("Reumatologi C", 2)
    with runtime.uow() as uow, pytest.raises(InvalidInput):
        rename_department(uow, department_id("OUH-REU-C"), " ")
    with runtime.uow() as uow, pytest.raises(NotFound):
        rename_department(uow, department_id("NO-SUCH"), "x")


def test_ready_with_database_and_broker(app):
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["checks"] == {"database": "ok", "broker": "ok"}


def test_not_ready_when_the_broker_is_unreachable(env):
    app = create_app({**env, "DANBIO_BROKER_URL": "amqp://danbio:danbio@127.0.0.1:1//"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["broker"].startswith("unavailable")
