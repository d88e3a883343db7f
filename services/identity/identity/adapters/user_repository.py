"""identity's users, hospital memberships and department access."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .tables import department_access, hospital_memberships, users


def get(session: Session, user_id: uuid.UUID):
    return session.execute(select(users).where(users.c.id == user_id)).one_or_none()


def get_by_keycloak_id(session: Session, keycloak_id: str):
    return session.execute(select(users).where(users.c.keycloak_id == keycloak_id)).one_or_none()


def get_by_username(session: Session, username: str):
    return session.execute(select(users).where(func.lower(users.c.username) == username.lower())).one_or_none()


def insert(session: Session, *, user_id: uuid.UUID, keycloak_id: str, username: str, first_name: str,
           last_name: str, email: str, phone: str | None, locale: str, registry_admin: bool,
           created_at: datetime) -> None:
    session.execute(users.insert().values(
        id=user_id, keycloak_id=keycloak_id, username=username, first_name=first_name, last_name=last_name,
        email=email, phone=phone, locale=locale, registry_admin=registry_admin, created_at=created_at))


def set_keycloak_id(session: Session, user_id: uuid.UUID, keycloak_id: str) -> None:
    session.execute(users.update().where(users.c.id == user_id).values(keycloak_id=keycloak_id))


def memberships_of(session: Session, user_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """hospital id -> role"""
    rows = session.execute(select(hospital_memberships.c.hospital_id, hospital_memberships.c.role)
                           .where(hospital_memberships.c.user_id == user_id))
    return {row.hospital_id: row.role for row in rows}


def departments_of(session: Session, user_id: uuid.UUID) -> set[uuid.UUID]:
    rows = session.execute(select(department_access.c.department_id).where(department_access.c.user_id == user_id))
    return {row.department_id for row in rows}


def add_membership(session: Session, user_id: uuid.UUID, hospital_id: uuid.UUID, role: str) -> None:
    session.execute(hospital_memberships.insert().values(user_id=user_id, hospital_id=hospital_id, role=role))


def add_department_access(session: Session, user_id: uuid.UUID, department_id: uuid.UUID) -> None:
    session.execute(department_access.insert().values(user_id=user_id, department_id=department_id))


def set_last_login(session: Session, user_id: uuid.UUID, at: datetime) -> None:
    session.execute(update(users).where(users.c.id == user_id).values(last_login_at=at))


def set_phone(session: Session, user_id: uuid.UUID, phone: str | None) -> None:
    session.execute(update(users).where(users.c.id == user_id).values(phone=phone))


def set_mitid_linked(session: Session, user_id: uuid.UUID, linked: bool) -> None:
    session.execute(update(users).where(users.c.id == user_id, users.c.mitid_linked.is_not(linked))
                    .values(mitid_linked=linked))


def set_mitid_links(session: Session, linked_keycloak_ids: set[str]) -> int:
    """Mark exactly the users with these Keycloak ids as MitID-linked; the number of users changed."""
    ids = list(linked_keycloak_ids)
    linked = session.execute(update(users).where(users.c.keycloak_id.in_(ids), users.c.mitid_linked.is_(False))
                             .values(mitid_linked=True)).rowcount
    unlinked = session.execute(update(users).where(users.c.keycloak_id.not_in(ids), users.c.mitid_linked.is_(True))
                               .values(mitid_linked=False)).rowcount
    return linked + unlinked
