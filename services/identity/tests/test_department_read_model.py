import uuid

import pytest

from identity.adapters import department_repository as repo
from identity.runtime import build_runtime
from identity.service.departments import apply_department_upserted
from servicekit.events import new_event


@pytest.fixture
def identity(new_database, principal_keys):
    runtime = build_runtime({"IDENTITY_DATABASE_URL": new_database("identity"),
                             "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1]})
    runtime.migrate()
    yield runtime
    runtime.db.dispose()


def event(department_uuid, name, revision):
    return new_event("patients.department.upserted", {
        "id": str(department_uuid), "code": "HGH-REU", "name": name, "active": True, "revision": revision,
        "hospital": {"id": str(uuid.uuid4()), "code": "HGH", "name": "Herlev og Gentofte Hospital"},
        "region": {"code": "H", "name": "Region Hovedstaden"}}, producer="patients")


def apply(identity, envelope):
    with identity.uow() as uow:
        apply_department_upserted(uow, envelope)
        uow.commit()


def test_newer_revision_wins_even_when_the_older_arrives_late(identity):
    department = uuid.uuid4()
    apply(identity, event(department, "Reumatologi", 1))
    apply(identity, event(department, "Afdeling for Reumatologi", 3))
    apply(identity, event(department, "Forældet navn", 2))  # late
    with identity.uow() as uow:
        [row] = repo.list_all(uow.session)
    assert (row.name, row.revision) == ("Afdeling for Reumatologi", 3)
