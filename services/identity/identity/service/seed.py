"""Demo users for `make run`: created in Keycloak (through the directory) and in identity.

Idempotent: a user identity already holds, tied to the Keycloak user of the same name, is left as
it is (its password too: the realm forbids re-using one of the last three). A Keycloak user
without an identity user (identity's data was reset) is adopted; an identity user whose Keycloak
user is gone (Keycloak's data was reset) gets a new one. All names, e-mails and passwords are
invented; the passwords meet the realm's policy and are for demonstration only.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable

from servicekit.uow import UnitOfWork

from ..adapters import department_repository, user_repository
from ..adapters.keycloak_directory import UserDirectory
from ..domain.users import NewUser
from .users import (check_new_user, create_keycloak_user, deleted_from_keycloak_on_failure, record_new_user,
                    relink_keycloak_user)

DEMO_DEPARTMENT = "OUH-REU-C"  # Reumatologisk Afdeling C, Odense Universitetshospital (OUH)


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    first_name: str
    last_name: str
    email: str
    description: str
    registry_admin: bool = False
    hospital_role: str | None = None  # role at the demo department's hospital, with access to the department


DEMO_USERS = (
    DemoUser("regadmin", "Registeret-Demo-2026", "Rikke", "Rasmussen", "rikke.rasmussen@example.org",
             "registry administrator", registry_admin=True),
    DemoUser("ouhadmin", "Odense-Admin-2026", "Ole", "Udsen", "ole.udsen@example.org",
             "local administrator, OUH", hospital_role="local_admin"),
    DemoUser("ouhlaege", "Odense-Klinik-2026", "Lene", "Juhl", "lene.juhl@example.org",
             "clinician, OUH-REU-C", hospital_role="clinician"),
)


class DepartmentsNotReceived(RuntimeError):
    """identity's read model lacks the demo department: the patients service's reference data has
    not reached identity (yet)."""


@dataclass(frozen=True)
class SeedResult:
    user: DemoUser
    outcome: str  # created | adopted | relinked | unchanged


def wait_for_department(new_uow: Callable[[], UnitOfWork], code: str, *, timeout: float, interval: float = 0.5):
    """The department with this code from identity's read model, waiting up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with new_uow() as uow:
            department = department_repository.get_by_code(uow.session, code)
        if department is not None:
            return department
        if time.monotonic() >= deadline:
            raise DepartmentsNotReceived(
                f"identity has not received department {code} within {timeout:g}s. It comes from the "
                f"patients service: run `python -m patients load-reference`, and make sure both services' "
                f"workers (`python -m patients worker`, `python -m identity worker`) run on the same broker.")
        time.sleep(interval)


def seed_demo(new_uow: Callable[[], UnitOfWork], directory: UserDirectory, *, timeout: float = 60.0) -> list[SeedResult]:
    department = wait_for_department(new_uow, DEMO_DEPARTMENT, timeout=timeout)
    return [SeedResult(demo, _ensure(new_uow, directory, demo, department)) for demo in DEMO_USERS]


def _new_user(demo: DemoUser, department) -> NewUser:
    memberships = {department.hospital_id: demo.hospital_role} if demo.hospital_role else {}
    return NewUser(username=demo.username, first_name=demo.first_name, last_name=demo.last_name, email=demo.email,
                   registry_admin=demo.registry_admin, memberships=memberships,
                   departments=frozenset({department.id}) if demo.hospital_role else frozenset()).validated()


def _ensure(new_uow: Callable[[], UnitOfWork], directory: UserDirectory, demo: DemoUser, department) -> str:
    user = _new_user(demo, department)
    keycloak_id = directory.find_user_id(user.username)
    with new_uow() as uow:
        existing = user_repository.get_by_username(uow.session, user.username)
        if existing is not None and existing.keycloak_id == keycloak_id:
            return "unchanged"
        if existing is None:
            check_new_user(uow, user)
        created = keycloak_id is None
        if created:
            keycloak_id = create_keycloak_user(uow, directory, user, demo.password)
        with deleted_from_keycloak_on_failure(directory, keycloak_id) if created else contextlib.nullcontext():
            if existing is None:
                record_new_user(uow, user, keycloak_id)
            else:
                relink_keycloak_user(uow, existing.id, keycloak_id)
            uow.commit()
    if existing is not None:
        return "relinked"
    return "created" if created else "adopted"

