"""A3/A4 quarterly reviews: documenting one, the history with the access removed since the previous
review (from the audit), overdue after 3 months, and one reminder per hospital and overdue period."""
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from identity.adapters.tables import access_reviews
from identity.domain.user_admin import add_months, review_overdue
from identity.service.reviews import remind_overdue_reviews
from servicekit import contracts

from services.identity.tests.user_admin_support import admin_app, admin_runtime, client, outbox, people  # noqa: F401


def test_document_reviews_and_history_of_removed_access(client, people, signed, org):
    headers = signed(people.admin_a.principal)
    base = f"/admin/hospitals/{org.OUH}/reviews"
    empty = client.get(base, headers=headers).json
    assert empty == {"last_reviewed_at": None, "last_reviewed_by": None, "overdue": True, "history": []}

    first = client.post(base, json={}, headers=headers)
    assert first.status_code == 201, first.json
    assert first.json["reviewed_by"] == "Anne Admin" and first.json["removed_since_previous"] == []

    # Between reviews: the shared user loses OUH-REU-C; the secretary gets OUH-REU-C and loses it again
    # (a grant taken back within the period is still access removed: the review lists it).
    client.put(f"/admin/hospitals/{org.OUH}/users/{people.shared.id}/access", headers=headers,
               json={"role": "clinician", "departments": []})
    for departments in ([str(org.OUH_REU_C)], [str(org.OUH_MED)]):
        client.put(f"/admin/hospitals/{org.OUH}/users/{people.user_a.id}/access", headers=headers,
                   json={"role": "secretary", "departments": departments})
    # A change at the other hospital is not this hospital's review.
    client.put(f"/admin/hospitals/{org.HGH}/users/{people.user_b.id}/access", headers=signed(people.admin_b.principal),
               json={"role": "clinician", "departments": []})

    second = client.post(base, json={}, headers=headers).json
    assert second["removed_since_previous"] == [
        {"user": {"name": "Delt Dorthe", "username": people.shared.username}, "departments": ["Reumatologisk Afdeling C"]},
        {"user": {"name": "Signe Sekretær", "username": people.user_a.username},
         "departments": ["Reumatologisk Afdeling C"]}]

    state = client.get(base, headers=headers).json
    assert state["overdue"] is False and state["last_reviewed_by"] == "Anne Admin"
    assert [h["id"] for h in state["history"]] == [second["id"], first.json["id"]]
    assert state["history"][0]["removed_since_previous"] == second["removed_since_previous"]
    assert state["history"][1]["removed_since_previous"] == []

    # The removed user's page shows the review that covered the removal.
    detail = client.get(f"/admin/hospitals/{org.HGH}/users/{people.shared.id}", headers=signed(people.registry.principal))
    assert [a["action"] for a in detail.json["audit"]][:2] == ["review_removed", "access_changed"]

    hospitals = client.get("/admin/hospitals", headers=headers).json
    assert hospitals[0]["review"]["overdue"] is False


def test_overdue_after_three_months():
    reviewed = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    assert add_months(reviewed, 3) == datetime(2027, 2, 28, 12, tzinfo=timezone.utc)
    assert not review_overdue(reviewed, datetime(2027, 2, 28, 11, tzinfo=timezone.utc))
    assert review_overdue(reviewed, datetime(2027, 2, 28, 13, tzinfo=timezone.utc))
    assert review_overdue(None, reviewed)


def test_overdue_reminder_once_per_hospital_and_period(client, people, signed, org, admin_runtime):
    headers = signed(people.admin_a.principal)
    review = client.post(f"/admin/hospitals/{org.OUH}/reviews", json={}, headers=headers).json
    now = datetime.now(timezone.utc)

    # HGH has never been reviewed: overdue now; OUH was just reviewed.
    assert remind_overdue_reviews(admin_runtime.uow, now=now) == 1
    assert remind_overdue_reviews(admin_runtime.uow, now=now + timedelta(hours=1)) == 0
    [hgh] = outbox(admin_runtime, "identity.review.overdue")
    data = contracts.validate(hgh["type"], 1, hgh["data"])
    assert data["hospital"]["name"] == "Herlev og Gentofte Hospital" and data["last_review_at"] is None
    assert [a["name"] for a in data["administrators"]] == ["Bent Boss"]

    # Three months and a day after OUH's review: one reminder, to OUH's local administrator.
    later = now + timedelta(days=93)
    assert remind_overdue_reviews(admin_runtime.uow, now=later) == 1
    assert remind_overdue_reviews(admin_runtime.uow, now=later + timedelta(days=10)) == 0
    ouh = contracts.validate("identity.review.overdue", 1, outbox(admin_runtime, "identity.review.overdue")[-1]["data"])
    assert ouh["hospital"]["name"] == "Odense Universitetshospital"
    assert [a["name"] for a in ouh["administrators"]] == ["Anne Admin"]
    assert datetime.fromisoformat(ouh["overdue_since"]) == add_months(datetime.fromisoformat(review["reviewed_at"]), 3)

    # A new review starts a new period: overdue again three months later means one more reminder.
    with admin_runtime.db.engine.begin() as connection:
        connection.execute(update(access_reviews).where(access_reviews.c.id == uuid.UUID(review["id"]))
                           .values(reviewed_at=now - timedelta(days=200)))
    client.post(f"/admin/hospitals/{org.OUH}/reviews", json={}, headers=headers)
    assert remind_overdue_reviews(admin_runtime.uow, now=later) == 1
