"""A5 blocked users and "Nulstil kode", with the real Keycloak: the lock is cleared, a 72-hour
reset token goes out sealed in identity.password_reset.link_issued, the unlock is audited."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from identity.adapters.tables import set_password_tokens, users
from identity.app import create_app
from identity.service.set_password_tokens import digest
from servicekit import contracts
from servicekit.sealed import Sealer
from servicekit.testing import wait_for

from services.identity.tests.user_admin_support import add_person, admin_app, admin_runtime, client, outbox, people  # noqa: F401


def locked_out(keycloak_realm, user):
    """Two wrong passwords within Keycloak's quick-login check lock the user at once."""
    for _ in range(2):
        assert keycloak_realm.password_grant(user.username, "forkert-kode-123").status_code == 401
    wait_for(lambda: keycloak_realm.admin.get_bruteforce_detection_status(user.id)["disabled"], timeout=10,
             message="Keycloak locked the user")


def test_blocked_list_filter_and_unlock(client, people, signed, org, admin_runtime, keycloak_realm, sealing_key):
    kc_user = keycloak_realm.create_user()
    blocked = add_person(admin_runtime, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
                         username=kc_user.username, keycloak_id=kc_user.id, first_name="Låst", last_name="Ude",
                         phone="+4512345678")
    fine_kc = keycloak_realm.create_user()
    fine = add_person(admin_runtime, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
                      username=fine_kc.username, keycloak_id=fine_kc.id, first_name="Fri", last_name="Fugl")
    with admin_runtime.db.engine.begin() as connection:  # "Aktiv" is also: has logged in
        connection.execute(users.update().where(users.c.id.in_([fine.id, blocked.id]))
                           .values(last_login_at=datetime.now(timezone.utc)))
    locked_out(keycloak_realm, kc_user)
    headers = signed(people.admin_a.principal)

    listed = client.get(f"/admin/hospitals/{org.OUH}/blocked-users", headers=headers)
    assert listed.status_code == 200, listed.json
    assert [row["username"] for row in listed.json] == [kc_user.username]
    assert listed.json[0]["blocked"] is True
    by_status = client.get(f"/admin/hospitals/{org.OUH}/users?status=blocked", headers=headers).json
    assert [row["username"] for row in by_status["items"]] == [kc_user.username] and by_status["total"] == 1
    active = client.get(f"/admin/hospitals/{org.OUH}/users?status=active", headers=headers).json
    assert kc_user.username not in [row["username"] for row in active["items"]] and fine_kc.username in [
        row["username"] for row in active["items"]]
    # Another hospital's administrator neither sees nor unlocks A's users.
    assert client.get(f"/admin/hospitals/{org.OUH}/blocked-users", headers=signed(people.admin_b.principal)).status_code == 403
    assert client.post(f"/admin/hospitals/{org.HGH}/users/{blocked.id}/unlock", json={},
                       headers=signed(people.admin_b.principal)).status_code == 404

    response = client.post(f"/admin/hospitals/{org.OUH}/users/{blocked.id}/unlock", json={}, headers=headers)
    assert response.status_code == 202, response.json
    assert not keycloak_realm.admin.get_bruteforce_detection_status(kc_user.id)["disabled"]
    assert keycloak_realm.password_grant(kc_user.username, kc_user.password).status_code == 200
    assert client.get(f"/admin/hospitals/{org.OUH}/blocked-users", headers=headers).json == []

    [event] = outbox(admin_runtime, "identity.password_reset.link_issued")
    data = contracts.validate(event["type"], 1, event["data"])
    assert data["user"]["phone"] == "+4512345678" and data["issued_by"] == "Anne Admin"
    token = Sealer(sealing_key).open(data["set_password_token"])
    with admin_runtime.db.engine.connect() as connection:
        row = connection.execute(select(set_password_tokens).where(set_password_tokens.c.token_hash == digest(token))).one()
    assert (row.user_id, row.purpose) == (blocked.id, "reset")
    assert abs(row.expires_at - row.created_at - timedelta(hours=72)) < timedelta(seconds=1)
    assert [e["data"]["reason"] for e in outbox(admin_runtime, "identity.user.access_changed")
            if e["data"]["user_id"] == str(blocked.id)][-1] == "unlocked"

    detail = client.get(f"/admin/hospitals/{org.OUH}/users/{blocked.id}", headers=headers).json
    unlocked = detail["audit"][0]
    assert (unlocked["action"], unlocked["actor"], unlocked["before"]["blocked"], unlocked["after"]["blocked"]) == (
        "unlocked", "Anne Admin", True, False)
    assert token not in str(detail)


def test_unlock_with_keycloak_down_is_503_and_changes_nothing(identity_env, sealing_key, people, signed, org,
                                                              admin_runtime):
    down = create_app({**identity_env, "DANBIO_SEALING_KEY": sealing_key, "DANBIO_KEYCLOAK_URL": "http://127.0.0.1:1"})
    try:
        response = down.test_client().post(f"/admin/hospitals/{org.OUH}/users/{people.user_a.id}/unlock", json={},
                                           headers=signed(people.admin_a.principal))
    finally:
        down.extensions["danbio.runtime"].db.dispose()
    assert response.status_code == 503
    assert outbox(admin_runtime, "identity.password_reset.link_issued") == []
    with admin_runtime.db.engine.connect() as connection:
        assert connection.execute(select(set_password_tokens)).all() == []
