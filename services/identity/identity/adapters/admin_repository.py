"""Queries of user administration (issue 5): a hospital's users, the cross-hospital search, the
append-only audit, reviews, reminders and the welcome e-mail's status."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, exists, func, insert, not_, or_, select, text, update
from sqlalchemy.orm import Session

from ..domain.user_admin import ACCESS_ACTIONS
from .tables import (USER_SEARCH_EXPRESSION, access_reviews, admin_audit, department_access, departments,
                     hospital_memberships, review_reminders, user_email_status, users)

# --- organisation ----------------------------------------------------------------------------------


def hospitals(session: Session, hospital_ids=None) -> list:
    """(hospital_id, hospital_code, hospital_name, region_name) of every hospital identity knows (or of these)."""
    query = (select(departments.c.hospital_id, departments.c.hospital_code, departments.c.hospital_name,
                    departments.c.region_name).distinct().order_by(departments.c.hospital_name))
    if hospital_ids is not None:
        query = query.where(departments.c.hospital_id.in_(list(hospital_ids)))
    return session.execute(query).all()


def departments_of_hospital(session: Session, hospital_id: uuid.UUID) -> list:
    return session.execute(select(departments).where(departments.c.hospital_id == hospital_id)
                           .order_by(departments.c.name)).all()


# --- users of a hospital ---------------------------------------------------------------------------

def _changed_since_last_review(hospital_id: uuid.UUID):
    """The user's access at the hospital was created, added or changed after the hospital's last
    documented review; true for every user of a hospital that was never reviewed."""
    last_review = (select(func.max(access_reviews.c.reviewed_at))
                   .where(access_reviews.c.hospital_id == hospital_id).scalar_subquery())
    changed = exists().where(and_(admin_audit.c.user_id == users.c.id, admin_audit.c.hospital_id == hospital_id,
                                  admin_audit.c.action.in_(ACCESS_ACTIONS), admin_audit.c.at > last_review))
    return or_(last_review.is_(None), changed)


def _hospital_users_filter(hospital_id: uuid.UUID, *, department_id=None, q_pattern=None,
                           never_logged_in=False, email_failed=False, logged_in_email_ok=False,
                           changed_since_review: bool | None = None):
    """``logged_in_email_ok``: what SQL knows of "active" (has logged in, welcome e-mail not failed);
    the lock state is Keycloak's. ``changed_since_review``: True/False filters by review state."""
    conditions = [hospital_memberships.c.hospital_id == hospital_id]
    if department_id is not None:
        conditions.append(exists().where(and_(department_access.c.user_id == users.c.id,
                                              department_access.c.department_id == department_id)))
    if q_pattern is not None:
        conditions.append(func.lower(users.c.first_name + " " + users.c.last_name + " " + users.c.username
                                     + " " + users.c.email).like(q_pattern, escape="\\"))
    if never_logged_in:
        conditions.append(users.c.last_login_at.is_(None))
    if email_failed:
        conditions.append(user_email_status.c.email_failed.is_(True))
    if logged_in_email_ok:
        conditions.append(users.c.last_login_at.is_not(None))
        conditions.append(func.coalesce(user_email_status.c.email_failed, False).is_(False))
    if changed_since_review is not None:
        changed = _changed_since_last_review(hospital_id)
        conditions.append(changed if changed_since_review else not_(changed))
    return and_(*conditions)


def _hospital_users_query(columns, hospital_id, **filters):
    return (select(*columns)
            .select_from(users.join(hospital_memberships, hospital_memberships.c.user_id == users.c.id)
                         .outerjoin(user_email_status, user_email_status.c.user_id == users.c.id))
            .where(_hospital_users_filter(hospital_id, **filters)))


_ROW_COLUMNS = (users, hospital_memberships.c.role, func.coalesce(user_email_status.c.email_failed, False)
                .label("email_failed"))
_ORDER = (func.lower(users.c.last_name), func.lower(users.c.first_name), users.c.username)


def count_hospital_users(session: Session, hospital_id: uuid.UUID, **filters) -> int:
    return session.execute(_hospital_users_query([func.count()], hospital_id, **filters)).scalar_one()


def hospital_users(session: Session, hospital_id: uuid.UUID, *, limit: int | None = None, offset: int = 0,
                   **filters) -> list:
    """Users of the hospital with their role there and e-mail status, by name."""
    query = _hospital_users_query(_ROW_COLUMNS, hospital_id, **filters).order_by(*_ORDER).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return session.execute(query).all()


def hospital_user(session: Session, hospital_id: uuid.UUID, user_id: uuid.UUID):
    """One user as a member of the hospital (None when the user is not one)."""
    return session.execute(_hospital_users_query(_ROW_COLUMNS, hospital_id).where(users.c.id == user_id)).first()


def departments_at(session: Session, user_ids, hospital_id: uuid.UUID) -> dict[uuid.UUID, list]:
    """user id -> the departments of this hospital the user has access to (rows id, code, name)."""
    ids = list(user_ids)
    result: dict[uuid.UUID, list] = {user_id: [] for user_id in ids}
    if not ids:
        return result
    rows = session.execute(select(department_access.c.user_id, departments.c.id, departments.c.code,
                                  departments.c.name)
                           .join(departments, departments.c.id == department_access.c.department_id)
                           .where(department_access.c.user_id.in_(ids), departments.c.hospital_id == hospital_id)
                           .order_by(departments.c.name))
    for row in rows:
        result[row.user_id].append(row)
    return result


def set_role(session: Session, user_id: uuid.UUID, hospital_id: uuid.UUID, role: str) -> None:
    session.execute(update(hospital_memberships).where(hospital_memberships.c.user_id == user_id,
                                                       hospital_memberships.c.hospital_id == hospital_id)
                    .values(role=role))


def remove_membership(session: Session, user_id: uuid.UUID, hospital_id: uuid.UUID) -> None:
    session.execute(hospital_memberships.delete().where(hospital_memberships.c.user_id == user_id,
                                                        hospital_memberships.c.hospital_id == hospital_id))


def remove_department_access(session: Session, user_id: uuid.UUID, department_ids) -> None:
    ids = list(department_ids)
    if ids:
        session.execute(department_access.delete().where(department_access.c.user_id == user_id,
                                                         department_access.c.department_id.in_(ids)))


def lock_user(session: Session, user_id: uuid.UUID) -> None:
    """Serialise concurrent access changes of one user: a row lock on the user (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())


def administrators(session: Session, hospital_id: uuid.UUID) -> list:
    """The hospital's local administrators; if it has none, the registry administrators."""
    local = session.execute(select(users).join(hospital_memberships, hospital_memberships.c.user_id == users.c.id)
                            .where(hospital_memberships.c.hospital_id == hospital_id,
                                   hospital_memberships.c.role == "local_admin").order_by(users.c.username)).all()
    if local:
        return local
    return session.execute(select(users).where(users.c.registry_admin.is_(True)).order_by(users.c.username)).all()


# --- cross-hospital search -------------------------------------------------------------------------

# The same SQL text as the GIN trigram index (migration 0004), so PostgreSQL uses it; the pattern
# is a bound parameter (no SQL from the caller), escaped by the domain (like_pattern).
_SEARCH = text(f"{USER_SEARCH_EXPRESSION} LIKE :pattern ESCAPE '\\'")


def search_users(session: Session, pattern: str, *, limit: int) -> list[dict]:
    """Up to ``limit`` users whose username or e-mail matches, by username, each with
    ``hospitals: [(id, name)]`` — one statement, one round trip.

    Deliberately no ORDER BY inside: with it, a common term ("exa") makes PostgreSQL fetch and sort
    every match; without, it stops after ``limit`` rows (the caller says the list was cut)."""
    if session.get_bind().dialect.name == "postgresql":
        # psycopg 3 prepares a statement run 5 times; PostgreSQL then settles on a generic plan, which
        # for any term builds the whole trigram bitmap (~20 ms for "exa" at 100k users). A plan for
        # the actual term is cheap to make and picks the index for rare terms and a scan that stops
        # after ``limit`` rows for common ones (bench/user_search.py). SET LOCAL: this transaction only.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    hits = (select(users.c.id, users.c.username, users.c.first_name, users.c.last_name, users.c.email)
            .where(_SEARCH.bindparams(pattern=pattern)).limit(limit).subquery("hits"))
    names = (select(departments.c.hospital_id, func.min(departments.c.hospital_name).label("hospital_name"))
             .group_by(departments.c.hospital_id).subquery("hospital_names"))
    rows = session.execute(
        select(hits, hospital_memberships.c.hospital_id, names.c.hospital_name)
        .select_from(hits.outerjoin(hospital_memberships, hospital_memberships.c.user_id == hits.c.id)
                     .outerjoin(names, names.c.hospital_id == hospital_memberships.c.hospital_id)))
    found: dict[uuid.UUID, dict] = {}
    for row in rows:
        user = found.setdefault(row.id, {"id": row.id, "username": row.username, "first_name": row.first_name,
                                         "last_name": row.last_name, "email": row.email, "hospitals": []})
        if row.hospital_id is not None:
            user["hospitals"].append((row.hospital_id, row.hospital_name or str(row.hospital_id)))
    return sorted(found.values(), key=lambda user: user["username"])


# --- audit (append-only) ---------------------------------------------------------------------------

def append_audit(session: Session, *, at: datetime, actor_id, actor_name: str, action: str, user_id,
                 hospital_id, hospital_name, before: dict, after: dict) -> None:
    session.execute(insert(admin_audit).values(
        id=uuid.uuid4(), at=at, actor_id=actor_id, actor_name=actor_name, action=action, user_id=user_id,
        hospital_id=hospital_id, hospital_name=hospital_name, before=before, after=after))


def audit_of_user(session: Session, user_id: uuid.UUID) -> list:
    return session.execute(select(admin_audit).where(admin_audit.c.user_id == user_id)
                           .order_by(admin_audit.c.at.desc(), admin_audit.c.id)).all()


def access_audit(session: Session, hospital_id: uuid.UUID, *, after: datetime | None, until: datetime) -> list:
    """Access changes at the hospital in (after, until], oldest first."""
    query = (select(admin_audit).where(admin_audit.c.hospital_id == hospital_id,
                                       admin_audit.c.action.in_(ACCESS_ACTIONS),
                                       admin_audit.c.at <= until)
             .order_by(admin_audit.c.at, admin_audit.c.id))
    if after is not None:
        query = query.where(admin_audit.c.at > after)
    return session.execute(query).all()


# --- reviews ---------------------------------------------------------------------------------------

def add_review(session: Session, *, review_id: uuid.UUID, hospital_id: uuid.UUID, reviewed_at: datetime,
               reviewed_by_id, reviewed_by_name: str) -> None:
    session.execute(insert(access_reviews).values(id=review_id, hospital_id=hospital_id, reviewed_at=reviewed_at,
                                                  reviewed_by_id=reviewed_by_id, reviewed_by_name=reviewed_by_name))


def reviews_of(session: Session, hospital_id: uuid.UUID) -> list:
    """Newest first."""
    return session.execute(select(access_reviews).where(access_reviews.c.hospital_id == hospital_id)
                           .order_by(access_reviews.c.reviewed_at.desc())).all()


def last_reviews(session: Session, hospital_ids) -> dict[uuid.UUID, object]:
    ids = list(hospital_ids)
    if not ids:
        return {}
    newest = (select(access_reviews.c.hospital_id, func.max(access_reviews.c.reviewed_at).label("reviewed_at"))
              .where(access_reviews.c.hospital_id.in_(ids)).group_by(access_reviews.c.hospital_id).subquery())
    rows = session.execute(select(access_reviews).join(newest, and_(
        newest.c.hospital_id == access_reviews.c.hospital_id, newest.c.reviewed_at == access_reviews.c.reviewed_at)))
    return {row.hospital_id: row for row in rows}


def lock_hospital_reviews(session: Session, hospital_id: uuid.UUID) -> None:
    """Serialise documenting reviews of one hospital (a transaction-scoped advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"review:{hospital_id}"})


def reminder_sent(session: Session, hospital_id: uuid.UUID, period: str) -> bool:
    return session.execute(select(review_reminders.c.sent_at).where(review_reminders.c.hospital_id == hospital_id,
                                                                    review_reminders.c.period == period)).first() is not None


def record_reminder(session: Session, hospital_id: uuid.UUID, period: str, sent_at: datetime) -> None:
    session.execute(insert(review_reminders).values(hospital_id=hospital_id, period=period, sent_at=sent_at))


# --- welcome e-mail status -------------------------------------------------------------------------

def email_status(session: Session, user_id: uuid.UUID):
    return session.execute(select(user_email_status).where(user_email_status.c.user_id == user_id)).first()


def set_email_status(session: Session, user_id: uuid.UUID, *, failed: bool, reason: str | None,
                     reported_at: datetime, exists_already: bool) -> None:
    values = dict(email_failed=failed, reason=reason, reported_at=reported_at)
    if exists_already:
        session.execute(update(user_email_status).where(user_email_status.c.user_id == user_id).values(**values))
    else:
        session.execute(insert(user_email_status).values(user_id=user_id, **values))


def email_taken(session: Session, email: str) -> bool:
    return session.execute(select(users.c.id).where(func.lower(users.c.email) == email.lower())).first() is not None


def user_exists(session: Session, user_id: uuid.UUID) -> bool:
    return session.execute(select(users.c.id).where(users.c.id == user_id)).first() is not None

