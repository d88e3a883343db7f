"""The A4 list (filters, search, pages) and the cross-hospital search of A2 (trigram index,
minimum term, LIMIT, æøå)."""
import uuid
from datetime import datetime, timezone

from sqlalchemy import text

from identity.adapters.tables import users
from identity.service.email_status import apply_delivery_outcome
from servicekit.events import new_event

from services.identity.tests.user_admin_support import add_person, admin_app, admin_runtime, client, people  # noqa: F401


def names(page):
    return [f"{item['first_name']} {item['last_name']}" for item in page["items"]]


def test_list_is_by_name_with_department_q_and_pages(client, people, signed, org, admin_runtime):
    headers = signed(people.admin_a.principal)
    base = f"/admin/hospitals/{org.OUH}/users"
    everyone = client.get(base, headers=headers).json
    assert names(everyone) == ["Anne Admin", "Delt Dorthe", "Karen Kliniker", "Signe Sekretær"]
    assert everyone["total"] == 4 and everyone["page"] == 1 and everyone["per_page"] == 25

    by_department = client.get(f"{base}?department={org.OUH_MED}", headers=headers).json
    assert names(by_department) == ["Signe Sekretær"]
    assert names(client.get(f"{base}?q=SEKRET", headers=headers).json) == ["Signe Sekretær"]
    assert names(client.get(f"{base}?q={people.clinician_a.username[:8]}", headers=headers).json)  # by username
    assert names(client.get(f"{base}?q=100%25", headers=headers).json) == []  # '%' is taken literally

    second = client.get(f"{base}?page=2&per_page=3", headers=headers).json
    assert (names(second), second["total"]) == (["Signe Sekretær"], 4)
    foreign = client.get(f"{base}?department={org.HGH_REU}", headers=headers)
    assert (foreign.status_code, foreign.json["codes"]) == (422, {"departments": "unknown_department"})
    assert client.get(f"{base}?status=unknown", headers=headers).status_code == 422


def test_status_filters_never_logged_in_and_email_failed(client, people, signed, org, admin_runtime):
    headers = signed(people.admin_a.principal)
    base = f"/admin/hospitals/{org.OUH}/users"
    with admin_runtime.db.engine.begin() as connection:
        connection.execute(users.update().where(users.c.id == people.admin_a.id)
                           .values(last_login_at=datetime.now(timezone.utc)))
    never = client.get(f"{base}?status=never_logged_in", headers=headers).json
    assert "Anne Admin" not in names(never) and never["total"] == 3

    def outcome(kind, at, purpose="welcome"):
        data = {"delivery_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "event_type": "identity.user.created",
                "purpose": purpose, "channel": "email", "recipient": "s***@example.org",
                "user_id": str(people.user_a.id), "attempts": 1}
        if kind == "failed":
            data.update(failed_at=at, permanent=True, reason="550 no such mailbox")
        else:
            data.update(sent_at=at)
        with admin_runtime.uow() as uow:
            apply_delivery_outcome(uow, new_event(f"notifications.delivery.{kind}", data, producer="notifications"))
            uow.commit()

    outcome("failed", "2026-12-04T08:00:00+00:00")
    failed = client.get(f"{base}?status=email_failed", headers=headers).json
    assert names(failed) == ["Signe Sekretær"] and failed["items"][0]["email_failed"] is True
    outcome("succeeded", "2026-12-04T07:00:00+00:00")  # older than the failure: ignored
    assert names(client.get(f"{base}?status=email_failed", headers=headers).json) == ["Signe Sekretær"]
    outcome("failed", "2026-12-04T09:00:00+00:00", purpose="access_removed")  # not the welcome mail
    outcome("succeeded", "2026-12-04T08:30:00+00:00")  # a resend went through
    assert names(client.get(f"{base}?status=email_failed", headers=headers).json) == []


def test_search_needs_three_characters_and_finds_partial_case_insensitive_aeoeaa(client, people, signed, org,
                                                                                admin_runtime):
    add_person(admin_runtime, memberships={org.HGH: "clinician"}, departments={org.HGH_REU},
               username="soeren.aeroe", email="Søren.Ærø@Example.org", first_name="Søren", last_name="Ærø")
    headers = signed(people.admin_a.principal)
    short = client.get("/admin/users/search?q=sø", headers=headers)
    assert (short.status_code, short.json["codes"]) == (422, {"q": "term_too_short"})
    for term in ("ÆRØ", "ren.æ", "SØREN.ÆRØ@EXAMPLE"):
        found = client.get(f"/admin/users/search?q={term}", headers=headers).json
        assert [hit["email"] for hit in found["items"]] == ["Søren.Ærø@Example.org"], term
        assert found["truncated"] is False
    assert client.get("/admin/users/search?q=%25%25%25", headers=headers).json["items"] == []  # '%' literally


def test_search_stops_at_fifty_and_says_so(client, people, signed, org, admin_runtime):
    for index in range(51):
        add_person(admin_runtime, memberships={org.HGH: "clinician"}, username=f"mange-{index:02d}")
    found = client.get("/admin/users/search?q=mange-", headers=signed(people.registry.principal)).json
    assert len(found["items"]) == 50 and found["truncated"] is True
    usernames = [hit["username"] for hit in found["items"]]
    assert usernames == sorted(usernames) and all(name.startswith("mange-") for name in usernames)


def test_search_uses_the_trigram_index(admin_runtime, people):
    with admin_runtime.db.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))  # a tiny table: make the planner show its options
        plan = "\n".join(connection.execute(text(
            "EXPLAIN SELECT id FROM users WHERE lower(users.username || ' ' || users.email) LIKE '%brug%'")).scalars())
    assert "ix_users_search_trgm" in plan, plan


def test_rows_show_a_linked_mitid_login_from_keycloak(client, people, signed, org, admin_runtime, keycloak_realm):
    linked_kc, plain_kc = keycloak_realm.create_user(), keycloak_realm.create_user()
    linked = add_person(admin_runtime, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
                        username=linked_kc.username, keycloak_id=linked_kc.id, phone="+4512345678")
    add_person(admin_runtime, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
               username=plain_kc.username, keycloak_id=plain_kc.id)
    keycloak_realm.admin.add_user_social_login(linked_kc.id, "mitid", f"mitid-{uuid.uuid4().hex[:8]}", "mitid-bruger")
    rows = {row["username"]: row for row in client.get(f"/admin/hospitals/{org.OUH}/users?per_page=100",
                                                        headers=signed(people.admin_a.principal)).json["items"]}
    assert (rows[linked.username]["mitid_linked"], rows[linked.username]["phone_present"]) == (True, True)
    assert (rows[plain_kc.username]["mitid_linked"], rows[plain_kc.username]["phone_present"]) == (False, False)
