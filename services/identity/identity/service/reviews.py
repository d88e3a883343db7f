"""Quarterly access reviews (issue 5, A3/A4): documenting one, the history with the access removed
since the previous review (computed from the audit), overdue after 3 months, and the reminder
``identity.review.overdue`` — once per hospital and overdue period — from the identity worker."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import admin_repository as admin_repo
from ..adapters import user_repository
from ..domain.user_admin import removed_between, review_due_at, review_overdue
from .admin_access import actor, require_administrator, require_hospital

log = logging.getLogger(__name__)

REVIEW_OVERDUE = "identity.review.overdue"
MAX_REMINDER_RECIPIENTS = 100


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything identity stores is UTC.
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _removed(uow: UnitOfWork, hospital_id: uuid.UUID, after: datetime | None, until: datetime) -> list[dict]:
    entries = [{"user_id": e.user_id, "before": e.before, "after": e.after}
               for e in admin_repo.access_audit(uow.session, hospital_id, after=after, until=until)]
    removed = removed_between(entries)
    result = []
    for user_id, departments in removed.items():
        user = user_repository.get(uow.session, user_id)
        name = f"{user.first_name} {user.last_name}" if user else ""
        result.append({"user": {"name": name, "username": user.username if user else ""}, "departments": departments,
                       "_user_id": user_id})
    return sorted(result, key=lambda item: (item["user"]["name"], item["user"]["username"]))


def _public(entry: dict) -> dict:
    return {key: value for key, value in entry.items() if not key.startswith("_")}


def review_summary(uow: UnitOfWork, hospital_ids, *, now: datetime | None = None) -> dict[uuid.UUID, dict]:
    """hospital id -> {last_reviewed_at, last_reviewed_by, overdue}."""
    now = now or _now()
    last = admin_repo.last_reviews(uow.session, hospital_ids)
    summary = {}
    for hospital_id in hospital_ids:
        review = last.get(hospital_id)
        reviewed_at = _aware(review.reviewed_at) if review else None
        summary[hospital_id] = {"last_reviewed_at": reviewed_at,
                                "last_reviewed_by": review.reviewed_by_name if review else None,
                                "overdue": review_overdue(reviewed_at, now)}
    return summary


def reviews(uow: UnitOfWork, caller: Principal, hospital_id: uuid.UUID) -> dict[str, Any]:
    """The hospital's last review, whether a new one is overdue, and the history (newest first)."""
    require_hospital(uow, caller, hospital_id)
    rows = admin_repo.reviews_of(uow.session, hospital_id)
    history = []
    for index, row in enumerate(rows):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        history.append({"id": row.id, "reviewed_at": _aware(row.reviewed_at), "reviewed_by": row.reviewed_by_name,
                        "removed_since_previous": [_public(e) for e in _removed(
                            uow, hospital_id, _aware(previous.reviewed_at) if previous else None,
                            _aware(row.reviewed_at))]})
    return {**review_summary(uow, [hospital_id])[hospital_id], "history": history}


def document_review(uow: UnitOfWork, caller: Principal, hospital_id: uuid.UUID) -> dict[str, Any]:
    """Record that the hospital's users were reviewed today ("Tryk på denne knap ...")."""
    hospital_name = require_hospital(uow, caller, hospital_id)
    admin_repo.lock_hospital_reviews(uow.session, hospital_id)
    now = _now()
    previous = admin_repo.last_reviews(uow.session, [hospital_id]).get(hospital_id)
    removed = _removed(uow, hospital_id, _aware(previous.reviewed_at) if previous else None, now)
    actor_id, actor_name = actor(uow, caller)
    review_id = uuid.uuid4()
    admin_repo.add_review(uow.session, review_id=review_id, hospital_id=hospital_id, reviewed_at=now,
                          reviewed_by_id=actor_id, reviewed_by_name=actor_name)
    admin_repo.append_audit(uow.session, at=now, actor_id=actor_id, actor_name=actor_name, action="reviewed",
                            user_id=None, hospital_id=hospital_id, hospital_name=hospital_name, before={},
                            after={"review_id": str(review_id), "removed_users": len(removed)})
    # Each user whose access went since the previous review sees, on their page, that this review covered it.
    for entry in removed:
        admin_repo.append_audit(uow.session, at=now, actor_id=actor_id, actor_name=actor_name,
                                action="review_removed", user_id=entry["_user_id"], hospital_id=hospital_id,
                                hospital_name=hospital_name, before={"departments": entry["departments"]},
                                after={"review_id": str(review_id)})
    uow.commit()
    return {"id": review_id, "reviewed_at": now, "reviewed_by": actor_name,
            "removed_since_previous": [_public(e) for e in removed]}


def hospitals_for(uow: UnitOfWork, caller: Principal) -> list[dict[str, Any]]:
    """GET /admin/hospitals: the hospitals the caller administers, with departments and review state."""
    require_administrator(caller)
    rows = admin_repo.hospitals(uow.session, None if caller.registry_admin else caller.administered_hospitals)
    summary = review_summary(uow, [row.hospital_id for row in rows])
    return [{"id": row.hospital_id, "code": row.hospital_code, "name": row.hospital_name,
             "region_name": row.region_name,
             "departments": [{"id": d.id, "code": d.code, "name": d.name, "active": d.active}
                             for d in admin_repo.departments_of_hospital(uow.session, row.hospital_id)],
             "review": summary[row.hospital_id]} for row in rows]


# --- the worker's periodic check -------------------------------------------------------------------

def remind_overdue_reviews(new_uow: Callable[[], UnitOfWork], *, now: datetime | None = None) -> int:
    """Emit identity.review.overdue for each hospital that became overdue and was not yet reminded
    in this overdue period (the period ends with the next review). Returns how many were emitted."""
    now = now or _now()
    with new_uow() as uow:
        hospital_rows = admin_repo.hospitals(uow.session)
    emitted = 0
    for hospital in hospital_rows:
        with new_uow() as uow:
            admin_repo.lock_hospital_reviews(uow.session, hospital.hospital_id)
            last = admin_repo.last_reviews(uow.session, [hospital.hospital_id]).get(hospital.hospital_id)
            last_at = _aware(last.reviewed_at) if last else None
            if not review_overdue(last_at, now):
                continue
            period = str(last.id) if last else "never"
            if admin_repo.reminder_sent(uow.session, hospital.hospital_id, period):
                continue
            admins = admin_repo.administrators(uow.session, hospital.hospital_id)[:MAX_REMINDER_RECIPIENTS]
            if not admins:
                log.warning("review overdue but nobody to remind", extra={"hospital_id": str(hospital.hospital_id)})
                continue
            uow.emit(REVIEW_OVERDUE, {
                "hospital": {"id": str(hospital.hospital_id), "name": hospital.hospital_name},
                "last_review_at": last_at.isoformat() if last_at else None,
                "overdue_since": (review_due_at(last_at) or now).isoformat(),
                "administrators": [{"user_id": str(a.id), "name": f"{a.first_name} {a.last_name}", "email": a.email,
                                    "phone": a.phone, "locale": a.locale} for a in admins]})
            admin_repo.record_reminder(uow.session, hospital.hospital_id, period, now)
            uow.commit()
            emitted += 1
    return emitted


