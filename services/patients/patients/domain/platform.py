"""The patient platform's status reports: idempotent, and ordered by the platform's own clock.

A report older than the status we hold goes into the history but never replaces the current
status; the same report twice is recognised and changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone

from servicekit.errors import Conflict

from .patients import PlatformStatus

ACTIVE, INACTIVE = "active", "inactive"
STATUSES = (ACTIVE, INACTIVE)
LABELS = {ACTIVE: "Aktiv", INACTIVE: "Inaktiv"}   # what users see

APPLIED, DUPLICATE, STALE = "applied", "duplicate", "stale"


def classify(report: PlatformStatus, current: PlatformStatus | None,
             same_moment: PlatformStatus | None) -> str:
    """What a report does: APPLIED (newest: becomes current), STALE (older than current: history
    only) or DUPLICATE (already recorded). Two different statuses at the same instant: Conflict."""
    if same_moment is not None:
        if same_moment.status != report.status:
            raise Conflict("A different status was already reported for this patient at this instant.")
        return DUPLICATE
    if current is not None and report.reported_at < current.reported_at:
        return STALE
    return APPLIED


def is_change(report: PlatformStatus, current: PlatformStatus | None) -> bool:
    return current is None or current.status != report.status


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
