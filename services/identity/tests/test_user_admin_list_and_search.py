"""The A4 list (filters, search, pages, status and review state) and the cross-hospital search of A2
(trigram index, minimum term, LIMIT, æøå)."""
import uuid
from datetime import datetime, timezone

from sqlalchemy import text

from identity.adapters.tables import user_email_status, users
from identity.service.email_status import apply_delivery_outcome
from identity.service import mitid_links
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


def test_status_active_is_exactly_the_rows_shown_as_active(client, people, signed, org, admin_runtime):
    """"Aktiv" on the page is a row with none of the other statuses: the filter returns those rows."""
    headers = signed(people.admin_a.principal)
    base = f"/admin/hospitals/{org.OUH}/users"
    now = datetime.now(timezone.utc)
    with admin_runtime.db.engine.begin() as connection:
        connection.execute(users.update().where(users.c.id.in_([people.admin_a.id, people.clinician_a.id,
                                                                people.user_a.id]))
                           .values(last_login_at=now))
        # Signe logged in once, but a later welcome e-mail (e.g. after a new address) bounced.
        connection.execute(user_email_status.insert().values(user_id=people.user_a.id, email_failed=True,
                                                             reason="550 no such mailbox", reported_at=now))
    everyone = {row["username"]: row for row in client.get(base, headers=headers).json["items"]}
    shown_active = sorted(f"{row['first_name']} {row['last_name']}" for row in everyone.values()
                          if not (row["blocked"] or row["never_logged_in"] or row["email_failed"]))
    assert shown_active == ["Anne Admin", "Karen Kliniker"]

    active = client.get(f"{base}?status=active", headers=headers).json
    assert (names(active), active["total"]) == (shown_active, 2)
    assert all(not (row["blocked"] or row["never_logged_in"] or row["email_failed"]) for row in active["items"])
    # Delt Dorthe never logged in, Signe Sekretær's e-mail failed: each under her own status only.
    assert names(client.get(f"{base}?status=never_logged_in", headers=headers).json) == ["Delt Dorthe"]
    assert names(client.get(f"{base}?status=email_failed", headers=headers).json) == ["Signe Sekretær"]
    # Paged after Keycloak was asked: the total is of the whole filtered list.
    second = client.get(f"{base}?status=active&page=2&per_page=1", headers=headers).json
    assert (names(second), second["total"]) == (["Karen Kliniker"], 2)
    assert names(client.get(f"{base}?status=active&department={org.OUH_MED}", headers=headers).json) == []


def test_review_state_is_access_changed_since_the_last_documented_review(client, people, signed, org):
    headers = signed(people.admin_a.principal)
    base = f"/admin/hospitals/{org.OUH}/users"

    def listed(review, extra=""):
        page = client.get(f"{base}?review={review}{extra}", headers=headers)
        assert page.status_code == 200, page.json
        return names(page.json)

    everyone = ["Anne Admin", "Delt Dorthe", "Karen Kliniker", "Signe Sekretær"]
    # Never reviewed: everyone's access is still to be looked at.
    assert (listed("changed"), listed("unchanged")) == (everyone, [])
    assert client.get(f"{base}?review=unchanged", headers=headers).json["total"] == 0

    assert client.post(f"/admin/hospitals/{org.OUH}/reviews", json={}, headers=headers).status_code == 201
    assert (listed("changed"), listed("unchanged")) == ([], everyone)

    # After the review: Signe's departments change, Bo (of HGH) is added to OUH; Karen only gets a
    # phone number (not access); Delt Dorthe's access changes at HGH (not this hospital's review).
    changed = client.put(f"{base}/{people.user_a.id}/access", headers=headers,
                         json={"role": "secretary", "departments": [str(org.OUH_MED), str(org.OUH_REU_C)]})
    assert changed.status_code == 200, changed.json
    added = client.post(f"{base}/{people.user_b.id}/membership", headers=headers,
                        json={"role": "clinician", "departments": [str(org.OUH_REU_C)]})
    assert added.status_code == 201, added.json
    assert client.put(f"{base}/{people.clinician_a.id}/phone", headers=headers,
                      json={"phone": "20 12 34 56"}).status_code == 200
    assert client.put(f"/admin/hospitals/{org.HGH}/users/{people.shared.id}/access",
                      headers=signed(people.admin_b.principal),
                      json={"role": "local_admin", "departments": [str(org.HGH_REU)]}).status_code == 200

    assert listed("changed") == ["Bo Bruger", "Signe Sekretær"]
    assert listed("unchanged") == ["Anne Admin", "Delt Dorthe", "Karen Kliniker"]
    assert names(client.get(base, headers=headers).json) == sorted(everyone + ["Bo Bruger"])
    # Combined with the other filters, and counted before paging.
    assert listed("changed", f"&department={org.OUH_MED}") == ["Signe Sekretær"]
    assert listed("changed", "&status=never_logged_in&q=bo") == ["Bo Bruger"]
    page = client.get(f"{base}?review=changed&page=2&per_page=1", headers=headers).json
    assert (names(page), page["total"]) == (["Signe Sekretær"], 2)
    # HGH's own review state is its own: never reviewed, so everyone there is changed.
    hgh = client.get(f"/admin/hospitals/{org.HGH}/users?review=unchanged", headers=signed(people.admin_b.principal))
    assert hgh.json["items"] == []

    # The next review covers those changes.
    assert client.post(f"/admin/hospitals/{org.OUH}/reviews", json={}, headers=headers).status_code == 201
    assert listed("changed") == []
    bad = client.get(f"{base}?review=soon", headers=headers)
    assert bad.status_code == 422 and "review" in bad.json["errors"]["query"]


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


def test_rows_show_a_mitid_link_made_in_keycloak_after_the_workers_sweep(client, people, signed, org, admin_runtime,
                                                                         keycloak_realm, admin_app):
    linked_kc, plain_kc = keycloak_realm.create_user(), keycloak_realm.create_user()
    linked = add_person(admin_runtime, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
                        username=linked_kc.username, keycloak_id=linked_kc.id, phone="+4512345678")
    add_person(admin_runtime, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
               username=plain_kc.username, keycloak_id=plain_kc.id)
    keycloak_realm.admin.add_user_social_login(linked_kc.id, "mitid", f"mitid-{uuid.uuid4().hex[:8]}", "mitid-bruger")
    directory = admin_app.extensions["identity.directory"]

    def rows() -> dict:
        return {row["username"]: row for row in client.get(f"/admin/hospitals/{org.OUH}/users?per_page=100",
                                                           headers=signed(people.admin_a.principal)).json["items"]}

    # Linked past identity (here: Keycloak's admin API): the list shows it from the worker's next sweep.
    assert rows()[linked.username]["mitid_linked"] is False
    assert mitid_links.sweep(admin_runtime.uow, directory) >= 1
    shown = rows()
    assert (shown[linked.username]["mitid_linked"], shown[linked.username]["phone_present"]) == (True, True)
    assert (shown[plain_kc.username]["mitid_linked"], shown[plain_kc.username]["phone_present"]) == (False, False)
    detail = client.get(f"/admin/hospitals/{org.OUH}/users/{linked.id}", headers=signed(people.admin_a.principal))
    assert detail.json["mitid_linked"] is True
    keycloak_realm.admin.delete_user_social_login(linked_kc.id, "mitid")
    assert mitid_links.sweep(admin_runtime.uow, directory) >= 1
    assert rows()[linked.username]["mitid_linked"] is False
    assert mitid_links.sweep(admin_runtime.uow, directory) == 0  # nothing left to change
