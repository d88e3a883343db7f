"""Timestamps as read back: SQLite (the embedded default) returns them without a zone; every
timestamp this service writes is UTC, so a naive one read back is UTC."""
from __future__ import annotations

from datetime import datetime, timezone


def utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)
