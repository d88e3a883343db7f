import uuid

import pytest

from patients.app import create_app
from patients.domain.organisation import department_id
from patients.service.organisation import rename_department
from servicekit.errors import InvalidInput, NotFound
from servicekit.principal import HEADER, Principal, sign


@pytest.fixture
def as_clinician(principal_keys):
    clinician = Principal(subject=str(uuid.uuid4()), kind="user", username="laege")
    return {HEADER: sign(clinician, audience="patients", key=principal_keys[0])}


def test_regions_are_the_five_and_private_practice(app, as_clinician):
    regions = app.test_client().get("/regions", headers=as_clinician).json
    assert [r["name"] for r in regions] == ["Region Hovedstaden", "Region Midtjylland", "Region Nordjylland",
                                            "Praksis", "Region Syddanmark", "Region Sjælland"]


def test_departments_carry_hospital_and_region(app, as_clinician):
    departments = {d["code"]: d for d in app.test_client().get("/departments", headers=as_clinician).json}
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


def test_calls_that_bypass_the_gateway_are_refused(app, principal_keys):
    client = app.test_client()
    response = client.get("/departments")
    assert response.status_code == 401
    assert response.json["detail"] == "This service is reached only through the gateway."
    someone = Principal(subject=str(uuid.uuid4()), kind="user", username="x")
    for_identity = sign(someone, audience="identity", key=principal_keys[0])
    assert client.get("/departments", headers={HEADER: for_identity}).status_code == 401
