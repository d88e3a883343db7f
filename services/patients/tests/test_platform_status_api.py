"""The patient platform's status reports (F1): only the platform reports; reports are idempotent
and ordered by the platform's own timestamp; users read the status and its history."""
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from servicekit.events import parse_event
from servicekit.messaging.tables import MessagingTables

from patients.adapters.tables import messaging
from services.patients.tests.support import CPR_A, CPR_B, GLOSTRUP, ODENSE, new_patient

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def patient(caller):
    return new_patient(caller(ODENSE), ODENSE, CPR_A)


def report(platform, status, at, cpr=CPR_A):
    return platform.post("/platform/status", {"cpr": cpr, "status": status, "reported_at": at.isoformat()})


def status_events(runtime, tables: MessagingTables = messaging):
    with runtime.uow() as uow:
        bodies = uow.session.execute(select(tables.outbox.c.body).where(
            tables.outbox.c.event_type == "patients.platform_status.changed").order_by(tables.outbox.c.position)).scalars()
        return [parse_event(body).data for body in bodies]


def test_reports_are_idempotent_and_ordered_by_their_own_time(patient, caller, runtime):
    platform, odense = caller(platform=True), caller(ODENSE)
    first = report(platform, "active", T0)
    assert first.status_code == 200, first.json
    assert first.json == {"outcome": "applied", "current": {"status": "active", "label": "Aktiv",
                                                            "reported_at": T0.isoformat()}}
    assert report(platform, "active", T0).json["outcome"] == "duplicate"
    # An older report arriving late goes into the history, never over the newer status.
    late = report(platform, "inactive", T0 - timedelta(hours=1))
    assert late.json == {"outcome": "stale", "current": first.json["current"]}
    newer = report(platform, "inactive", T0 + timedelta(days=1))
    assert newer.json["outcome"] == "applied" and newer.json["current"]["label"] == "Inaktiv"
    # The same report in another time-zone notation is the same instant: a duplicate.
    copenhagen = timezone(timedelta(hours=1))
    assert report(platform, "inactive", (T0 + timedelta(days=1)).astimezone(copenhagen)).json["outcome"] == "duplicate"

    kiosk = odense.get(f"/patients/{patient['id']}/platform-status")
    assert kiosk.status_code == 200
    assert kiosk.json["current"]["status"] == "inactive"
    assert [(h["status"], h["reported_at"]) for h in kiosk.json["history"]] == [
        ("inactive", (T0 + timedelta(days=1)).isoformat()), ("active", T0.isoformat()),
        ("inactive", (T0 - timedelta(hours=1)).isoformat())]
    assert odense.get(f"/patients/{patient['id']}").json["platform_status"]["label"] == "Inaktiv"

    # Only real changes are announced, with what came before.
    assert [(e["status"], e["previous_status"]) for e in status_events(runtime)] == [
        ("active", None), ("inactive", "active")]


def test_two_statuses_for_the_same_instant_conflict(patient, caller):
    platform = caller(platform=True)
    report(platform, "active", T0)
    conflict = report(platform, "inactive", T0)
    assert conflict.status_code == 409
    assert report(platform, "active", T0).json["outcome"] == "duplicate"


def test_only_the_platform_reports(patient, caller):
    for someone in (caller(ODENSE), caller(registry_admin=True)):
        assert report(someone, "active", T0).status_code == 403
    assert caller(ODENSE).get(f"/patients/{patient['id']}/platform-status").json["current"] is None


def test_bad_reports_are_refused_and_change_nothing(patient, caller):
    platform = caller(platform=True)
    assert report(platform, "active", T0, cpr=CPR_B).status_code == 404
    unknown = report(platform, "active", T0, cpr=CPR_B)
    assert "150875" not in unknown.get_data(as_text=True)
    assert report(platform, "paused", T0).status_code == 422
    future = report(platform, "active", datetime.now(timezone.utc) + timedelta(hours=1))
    assert future.status_code == 422 and future.json["errors"] == {"reported_at": ["lies in the future"]}
    naive = platform.post("/platform/status", {"cpr": CPR_A, "status": "active", "reported_at": "2026-03-01T12:00:00"})
    assert naive.status_code == 422
    assert report(platform, "active", T0, cpr="010190").status_code == 422
    assert caller(ODENSE).get(f"/patients/{patient['id']}/platform-status").json["history"] == []


def test_status_history_only_for_the_patients_departments(patient, caller):
    assert caller(GLOSTRUP).get(f"/patients/{patient['id']}/platform-status").status_code == 404
    assert caller(registry_admin=True).get(f"/patients/{patient['id']}/platform-status").status_code == 200


def test_parallel_reports_leave_the_newest(patient, caller, runtime):
    """20 reports at once in random order: the current status is the newest by the platform's clock."""
    platform = caller(platform=True)
    moments = [(T0 + timedelta(minutes=i), "active" if i % 2 else "inactive") for i in range(20)]
    random.Random(6).shuffle(moments)
    barrier, outcomes = threading.Barrier(len(moments)), []

    def send(at, status):
        barrier.wait()
        outcomes.append(report(platform, status, at).json["outcome"])

    threads = [threading.Thread(target=send, args=moment) for moment in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(set(outcomes)) <= ["applied", "stale"] and len(outcomes) == 20
    current = caller(ODENSE).get(f"/patients/{patient['id']}/platform-status").json
    assert current["current"] == {"status": "active", "label": "Aktiv",
                                  "reported_at": (T0 + timedelta(minutes=19)).isoformat()}
    assert len(current["history"]) == 20
