"""Races against the real PostgreSQL (and the session's Keycloak realm), with threads released
together (issue 10, part 4):

- parallel "Gem ændringer" on one user's access: serialised by a row lock, so the audit is one
  unbroken chain (each "before" is the previous "after") ending in the final state; saves that name
  the version their form showed are refused with 409 changed_meanwhile once another save won —
  a stale form never silently undoes (or re-grants) what another administrator just saved;
- parallel "Ret mine oplysninger" saves: the last one wins, whole; each contact-changed notice names
  the phone the save before it left, and Keycloak ends with the same names as identity;
- parallel verification of one SMS code: exactly one set-password token.
"""
import itertools
import uuid

from sqlalchemy import func, select

from identity.adapters import user_repository
from identity.adapters.tables import admin_audit, set_password_tokens
from identity.domain.users import NewUser
from identity.service.users import provision_user
from servicekit.principal import Principal
from servicekit.testing import all_at_once

from services.identity.tests.test_password_reset import (identity_env, last_code, outbox,  # noqa: F401
                                                         start)
from services.identity.tests.user_admin_support import admin_app, admin_runtime, people  # noqa: F401


def access_states(org):
    """Every (role, departments) a user can have at OUH, but secretary at OUH-MED (user_a's own)."""
    roles = ("clinician", "secretary", "local_admin")
    departments = ([org.OUH_REU_C], [org.OUH_MED], [org.OUH_REU_C, org.OUH_MED])
    return [(role, chosen) for role, chosen in itertools.product(roles, departments)
            if (role, chosen) != ("secretary", [org.OUH_MED])]


def put_access(app, headers, org, user_id, role, departments, version=None):
    body = {"role": role, "departments": [str(d) for d in departments]}
    if version is not None:
        body["version"] = version
    return app.test_client().put(f"/admin/hospitals/{org.OUH}/users/{user_id}/access", headers=headers, json=body)


def access_audit(runtime, user_id):
    with runtime.uow() as uow:
        return uow.session.execute(select(admin_audit).where(admin_audit.c.user_id == user_id,
                                                             admin_audit.c.action == "access_changed")
                                   .order_by(admin_audit.c.at)).all()


def snapshot(runtime, org, user_id):
    """The user's access at OUH now, as the audit writes it."""
    with runtime.uow() as uow:
        role = user_repository.memberships_of(uow.session, user_id).get(org.OUH)
        ids = user_repository.departments_of(uow.session, user_id)
    names = {org.OUH_REU_C: "Reumatologisk Afdeling C", org.OUH_MED: "Medicinsk Afdeling"}
    return {"role": role, "departments": sorted(({"id": str(d), "name": names[d]} for d in ids if d in names),
                                                key=lambda d: (d["name"], d["id"]))}


def test_parallel_saves_of_one_users_access_leave_one_state_and_an_unbroken_audit_chain(
        admin_app, admin_runtime, people, signed, org):
    initial = snapshot(admin_runtime, org, people.user_a.id)
    states = access_states(org)
    callers = [people.admin_a, people.registry] * len(states)
    responses = all_at_once([
        (lambda who=who, role=role, chosen=chosen:
         put_access(admin_app, signed(who.principal), org, people.user_a.id, role, chosen))
        for who, (role, chosen) in zip(callers, states)])
    assert [r.status_code for r in responses] == [200] * len(states), [r.json for r in responses]

    final = snapshot(admin_runtime, org, people.user_a.id)
    assert (final["role"], sorted(uuid.UUID(d["id"]) for d in final["departments"])) in [
        (role, sorted(chosen)) for role, chosen in states]
    chain = access_audit(admin_runtime, people.user_a.id)
    assert len(chain) == len(states)  # every save changed something: each saw the one before it
    assert chain[0].before == initial and chain[-1].after == final
    for previous, entry in zip(chain, chain[1:]):
        assert entry.before == previous.after
    announced = [e for e in outbox(admin_runtime, "identity.user.access_changed")
                 if e["data"]["user_id"] == str(people.user_a.id) and e["data"]["reason"] == "access_changed"]
    assert len(announced) == len(chain)


def test_parallel_saves_from_the_same_stale_form_one_wins_the_others_get_409(
        admin_app, admin_runtime, people, signed, org):
    shown = admin_app.test_client().get(f"/admin/hospitals/{org.OUH}/users/{people.user_a.id}",
                                        headers=signed(people.admin_a.principal)).json
    states = access_states(org)
    responses = all_at_once([
        (lambda role=role, chosen=chosen: put_access(admin_app, signed(people.admin_a.principal), org,
                                                     people.user_a.id, role, chosen, version=shown["version"]))
        for role, chosen in states])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (len(states) - 1), [r.json for r in responses]
    [winner] = [r for r in responses if r.status_code == 200]
    for loser in (r for r in responses if r.status_code == 409):
        assert loser.mimetype == "application/problem+json"
        assert loser.json["codes"] == {"version": "changed_meanwhile"}
    [entry] = access_audit(admin_runtime, people.user_a.id)
    assert entry.after == snapshot(admin_runtime, org, people.user_a.id)
    assert entry.after["role"] == winner.json["role"] and winner.json["version"] != shown["version"]
    # The version the winner answered with is current: a save based on it goes through.
    assert put_access(admin_app, signed(people.admin_a.principal), org, people.user_a.id, "secretary",
                      [org.OUH_MED], version=winner.json["version"]).status_code == 200


def test_a_save_without_a_version_is_not_refused(admin_app, people, signed, org):
    """API callers that do not send a version keep last-save-wins (serialised)."""
    for role in ("clinician", "secretary"):
        assert put_access(admin_app, signed(people.admin_a.principal), org, people.user_a.id, role,
                          [org.OUH_MED]).status_code == 200


def test_parallel_profile_saves_last_one_wins_whole_and_every_notice_names_the_phone_before_it(
        app, runtime, directory, signed, keycloak_realm):
    username = f"race-{uuid.uuid4().hex[:10]}"
    with runtime.uow() as uow:
        user_id = provision_user(uow, directory, NewUser(
            username=username, first_name="Per", last_name="Profil", email=f"{username}@example.org",
            phone="+4520000000"), password="Gammel-kode-2026!")
    caller = Principal(subject=str(user_id), kind="user", username=username)
    saves = [{"first_name": f"Navn{i}", "last_name": "Profil", "email": f"{username}@example.org",
              "phone": f"+45 3000 00{i:02d}"} for i in range(12)]
    responses = all_at_once([(lambda body=body: app.test_client().put("/me", headers=signed(caller), json=body))
                             for body in saves])
    assert [r.status_code for r in responses] == [200] * len(saves), [r.json for r in responses]

    with runtime.uow() as uow:
        final = user_repository.get(uow.session, user_id)
    [winner] = [s for s in saves if s["first_name"] == final.first_name]
    assert final.phone == "+45" + winner["phone"].replace(" ", "")[3:]  # the same save's phone: whole
    notices = [e["data"] for e in outbox(runtime, "identity.user.contact_changed")
               if e["data"]["user"]["user_id"] == str(user_id)]
    assert len(notices) == len(saves)
    assert notices[0]["previous_phone"] == "+4520000000" and notices[-1]["user"]["phone"] == final.phone
    for previous, notice in zip(notices, notices[1:]):
        assert notice["previous_phone"] == previous["user"]["phone"]
    kc = keycloak_realm.admin.get_user(keycloak_realm.admin.get_user_id(username))
    assert kc["firstName"] == final.first_name


def test_one_sms_code_verified_in_parallel_yields_exactly_one_token(app, runtime, directory):
    username = f"race-{uuid.uuid4().hex[:10]}"
    with runtime.uow() as uow:
        user_id = provision_user(uow, directory, NewUser(
            username=username, first_name="Rita", last_name="Reset", email=f"{username}@example.org",
            phone="+4512345678"), password="Gammel-kode-2026!")
    client = app.test_client()
    reset_id = start(client, username)
    assert client.post(f"/public/password-resets/{reset_id}/code").status_code == 202
    code = last_code(runtime, reset_id)
    responses = all_at_once([
        (lambda: app.test_client().post(f"/public/password-resets/{reset_id}/verify", json={"code": code}))
        for _ in range(10)])
    assert sorted(r.status_code for r in responses) == [200] + [422] * 9, [r.json for r in responses]
    for refused in (r for r in responses if r.status_code == 422):
        assert refused.json["codes"] == {"reset": "reset_expired"}
    with runtime.uow() as uow:
        issued = uow.session.execute(select(func.count()).select_from(set_password_tokens).where(
            set_password_tokens.c.user_id == user_id, set_password_tokens.c.purpose == "reset")).scalar_one()
    assert issued == 1
