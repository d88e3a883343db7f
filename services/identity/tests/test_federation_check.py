"""identity's check of a linked MitID / regional profile (requirement D2, issue 8): each reason a
profile is refused, and the profile accepted, after linking (POST /me/federation/<alias>/check) and
after a login (POST /me/federation/<alias>/logins). Keycloak's side is a stand-in holding the links and
the claims the IdP mappers copy (``<alias>.<claim>``), taken from the simulated upstream users in
deploy/keycloak/simulated; tests/e2e/test_federation_login.py does the same against the real realm.
The 422 identity answers is turned into the web UI's Danish message, which must name what was wrong."""
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from identity.adapters.keycloak_federation import FederatedLink
from identity.adapters.tables import federation_audit, users
from identity.domain.federation import (CLAIMS, MISSING_AUTHORISATION, MISSING_ORGANISATION,
                                        MISSING_PROFESSIONAL_ID, ProfessionalProfile, attribute)
from identity.domain.users import NewUser
from identity.service.users import record_new_user
from servicekit.principal import Principal

SIMULATED = Path(__file__).resolve().parents[3] / "deploy" / "keycloak" / "simulated"


def simulated_claims(key: str, username: str) -> dict[str, list[str]]:
    """The claims of an invented user of the simulated upstream realm ``<key>-sim``."""
    realm = json.loads((SIMULATED / f"realm-{key}-sim.json").read_text("utf-8"))
    [user] = [u for u in realm["users"] if u["username"] == username]
    return {claim: values for claim, values in user["attributes"].items() if claim in CLAIMS}


def as_attributes(alias: str, claims: dict[str, list[str]]) -> dict[str, list[str]]:
    """What the IdP mappers leave on the Keycloak user (deploy/keycloak/simulated/identity-providers.json)."""
    return {attribute(alias, claim): values for claim, values in claims.items()}


# (upstream realm, upstream user, claims removed) -> the reason identity gives. No simulated user lacks
# the professional id, so that profile is mitid-laege without it.
PROFILES = {
    "accepted": ("mitid", "mitid-laege", ()),
    MISSING_AUTHORISATION: ("mitid", "mitid-laege-privat", ()),
    MISSING_ORGANISATION: ("mitid", "mitid-uden-org", ()),
    MISSING_PROFESSIONAL_ID: ("mitid", "mitid-laege", ("professional_uuid",)),
}

# What the user must read: what was wrong (D2: "an error that says so").
WHAT_WAS_WRONG = {
    MISSING_AUTHORISATION: "har ingen autorisation som sundhedsperson",
    MISSING_ORGANISATION: "er ikke knyttet til en organisation (CVR)",
    MISSING_PROFESSIONAL_ID: "er ikke en erhvervsprofil",
}


def claims_of(case: str) -> dict[str, list[str]]:
    key, username, removed = PROFILES[case]
    return {claim: values for claim, values in simulated_claims(key, username).items() if claim not in removed}


# -- the domain rule -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(PROFILES))
def test_the_profile_rule_gives_each_reason(case):
    profile = ProfessionalProfile.from_attributes("mitid", as_attributes("mitid", claims_of(case)))
    assert profile.problems() == ([] if case == "accepted" else [case])


def test_the_simulated_regional_users_are_checked_by_their_own_alias():
    secretary = as_attributes("region-midt", simulated_claims("region-midt", "midt-sekretaer"))
    assert ProfessionalProfile.from_attributes("region-midt", secretary).problems() == [MISSING_AUTHORISATION]
    doctor = as_attributes("region-nord", simulated_claims("region-nord", "nord-laege"))
    assert ProfessionalProfile.from_attributes("region-nord", doctor).problems() == []
    # Another IdP's claims do not count for this one.
    assert ProfessionalProfile.from_attributes("region-syd", doctor).problems() == [
        MISSING_AUTHORISATION, MISSING_ORGANISATION, MISSING_PROFESSIONAL_ID]


def test_blank_claims_are_missing_and_every_reason_is_reported_in_order():
    blank = {attribute("mitid", claim): ["  "] for claim in CLAIMS}
    assert ProfessionalProfile.from_attributes("mitid", blank).problems() == [
        MISSING_AUTHORISATION, MISSING_ORGANISATION, MISSING_PROFESSIONAL_ID]
    profile = ProfessionalProfile.from_attributes("mitid", {**blank, "mitid.organisation_cvr": ["", " 10000011 "]})
    assert profile.organisation_cvr == "10000011"
    assert profile.problems() == [MISSING_AUTHORISATION, MISSING_PROFESSIONAL_ID]


# -- the use cases through identity's API ----------------------------------------------------------

class FakeFederation:
    """Keycloak's links and user attributes, as identity's KeycloakFederation adapter sees them."""

    def __init__(self):
        self.links_by_user: dict[str, dict[str, FederatedLink]] = {}
        self.attributes_by_user: dict[str, dict[str, list[str]]] = {}
        self.unlinked: list[tuple[str, str]] = []
        self.logged_out: list[str] = []

    def link(self, keycloak_id: str, alias: str, upstream_username: str, claims: dict[str, list[str]]) -> None:
        self.links_by_user.setdefault(keycloak_id, {})[alias] = FederatedLink(alias, str(uuid.uuid4()),
                                                                             upstream_username)
        self.attributes_by_user.setdefault(keycloak_id, {}).update(as_attributes(alias, claims))

    def links(self, keycloak_id):
        return dict(self.links_by_user.get(keycloak_id, {}))

    def attributes(self, keycloak_id):
        return dict(self.attributes_by_user.get(keycloak_id, {}))

    def unlink(self, keycloak_id, alias):
        self.unlinked.append((keycloak_id, alias))
        self.links_by_user.get(keycloak_id, {}).pop(alias, None)
        self.attributes_by_user[keycloak_id] = {
            name: values for name, values in self.attributes_by_user.get(keycloak_id, {}).items()
            if not name.startswith(f"{alias}.")}

    def logout(self, keycloak_id):
        self.logged_out.append(keycloak_id)


@pytest.fixture
def identity_env(new_database, principal_keys):
    """Keycloak is the stand-in below: identity's own database only."""
    return {"IDENTITY_DATABASE_URL": new_database("identity"), "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
            "DANBIO_KEYCLOAK_URL": "http://127.0.0.1:1"}


@pytest.fixture
def federation(monkeypatch):
    fake = FakeFederation()
    monkeypatch.setattr("identity.api.federation.KeycloakFederation", lambda directory: fake)
    return fake


@pytest.fixture
def person(runtime, org):
    keycloak_id = str(uuid.uuid4())
    user = NewUser(username="lene.lund", first_name="Lene", last_name="Lund", email="lene.lund@example.org",
                   memberships={org.OUH: "clinician"}, departments=frozenset({org.OUH_REU_C})).validated()
    with runtime.uow() as uow:
        user_id = record_new_user(uow, user, keycloak_id)
        uow.commit()
    return Principal(subject=str(user_id), kind="user", username=user.username), keycloak_id


def audit(runtime, user_id):
    with runtime.uow() as uow:
        return [(row.alias, row.action, row.outcome, row.upstream_username, row.professional_uuid,
                 row.organisation_cvr) for row in uow.session.execute(
            select(federation_audit).where(federation_audit.c.user_id == uuid.UUID(user_id))
            .order_by(federation_audit.c.occurred_at))]


def mitid_flag(runtime, user_id) -> bool:
    """identity's copy of the MitID link, which the user lists show (service/mitid_links.py)."""
    with runtime.uow() as uow:
        return uow.session.execute(select(users.c.mitid_linked).where(users.c.id == uuid.UUID(user_id))).scalar_one()


def web_message(problem: dict, alias: str) -> str:
    from web.federation import refusal_message  # the web UI's Danish text for identity's answer

    return refusal_message(problem, alias)


@pytest.mark.parametrize("reason", list(WHAT_WAS_WRONG))
def test_a_refused_profile_is_unlinked_audited_and_the_reason_named(app, runtime, signed, federation, person,
                                                                    reason):
    principal, keycloak_id = person
    claims = claims_of(reason)
    federation.link(keycloak_id, "mitid", PROFILES[reason][1], claims)
    response = app.test_client().post("/me/federation/mitid/check", headers=signed(principal))

    assert response.status_code == 422, response.json
    assert response.json["codes"] == {"profile": reason}
    assert response.json["errors"]["profile"] == [reason]
    assert federation.unlinked == [(keycloak_id, "mitid")]
    assert federation.links(keycloak_id) == {} and federation.attributes(keycloak_id) == {}
    assert audit(runtime, principal.subject) == [
        ("mitid", "link", reason, PROFILES[reason][1], (claims.get("professional_uuid") or [None])[0],
         (claims.get("organisation_cvr") or [None])[0])]

    assert mitid_flag(runtime, principal.subject) is False
    message = web_message(response.json, "mitid")
    assert message.startswith(f"Den valgte MitID-profil {WHAT_WAS_WRONG[reason]}"), message
    assert "tilknytningen er fjernet" in message
    assert [wrong for wrong in WHAT_WAS_WRONG.values() if wrong in message] == [WHAT_WAS_WRONG[reason]]


def test_the_right_profile_is_kept_and_audited(app, runtime, signed, federation, person):
    principal, keycloak_id = person
    federation.link(keycloak_id, "region-nord", "nord-laege", simulated_claims("region-nord", "nord-laege"))
    response = app.test_client().post("/me/federation/region-nord/check", headers=signed(principal))

    assert response.status_code == 200, response.json
    assert response.json == {"alias": "region-nord", "linked": True, "upstream_username": "nord-laege",
                             "organisation_name": "Region Nordjylland", "organisation_cvr": "10000053",
                             "health_authorisation": "Læge (autorisations-ID 2C3D4)"}
    assert federation.unlinked == [] and "region-nord" in federation.links(keycloak_id)
    assert audit(runtime, principal.subject) == [
        ("region-nord", "link", "accepted", "nord-laege", "9c4a5f6e-3d7b-4eb2-8f4a-000000000001", "10000053")]
    state = app.test_client().get("/me/federation", headers=signed(principal)).json["links"]
    assert [(link["alias"], link["linked"]) for link in state] == [
        ("mitid", False), ("region-midt", False), ("region-syd", False), ("region-nord", True)]
    assert mitid_flag(runtime, principal.subject) is False  # a regional link is not a MitID link


def test_the_mitid_flag_follows_a_kept_link_and_its_removal(app, runtime, signed, federation, person):
    principal, keycloak_id = person
    federation.link(keycloak_id, "mitid", "mitid-laege", claims_of("accepted"))
    assert mitid_flag(runtime, principal.subject) is False  # Keycloak linked; identity has not looked yet
    assert app.test_client().post("/me/federation/mitid/check", headers=signed(principal)).status_code == 200
    assert mitid_flag(runtime, principal.subject) is True
    assert app.test_client().delete("/me/federation/mitid", headers=signed(principal)).status_code == 204
    assert mitid_flag(runtime, principal.subject) is False
    # A link identity never checked (the browser closed after Keycloak linked) shows from the first login.
    federation.link(keycloak_id, "mitid", "mitid-laege", claims_of("accepted"))
    assert app.test_client().post("/me/federation/mitid/logins", headers=signed(principal)).status_code == 204
    assert mitid_flag(runtime, principal.subject) is True


def test_a_check_without_a_link_changes_nothing(app, runtime, signed, federation, person):
    principal, _ = person
    response = app.test_client().post("/me/federation/region-midt/check", headers=signed(principal))
    assert response.status_code == 422 and response.json["codes"] == {"link": "not_linked"}
    assert federation.unlinked == []
    assert audit(runtime, principal.subject) == [("region-midt", "link", "not_linked", None, None, None)]
    assert "ikke gennemført, og intet er ændret" in web_message(response.json, "region-midt")


def test_an_unknown_idp_is_not_found(app, signed, federation, person):
    principal, _ = person
    assert app.test_client().post("/me/federation/region-nrod/check", headers=signed(principal)).status_code == 404


@pytest.mark.parametrize("reason", list(WHAT_WAS_WRONG))
def test_a_login_with_a_profile_that_no_longer_qualifies_is_refused(app, runtime, signed, federation, person,
                                                                    reason):
    """The mappers re-copy the claims at every login: a profile that lost what it needs is refused then
    (the user's Keycloak sessions ended), the link itself is kept."""
    principal, keycloak_id = person
    federation.link(keycloak_id, "mitid", PROFILES[reason][1], claims_of(reason))
    response = app.test_client().post("/me/federation/mitid/logins", headers=signed(principal))

    assert response.status_code == 422, response.json
    assert response.json["codes"] == {"profile": reason}
    assert federation.logged_out == [keycloak_id]
    assert federation.unlinked == [] and "mitid" in federation.links(keycloak_id)
    assert mitid_flag(runtime, principal.subject) is True  # still linked, only this login refused
    assert [row[:3] for row in audit(runtime, principal.subject)] == [("mitid", "login", reason)]


def test_a_login_with_the_right_profile_is_audited(app, runtime, signed, federation, person):
    principal, keycloak_id = person
    federation.link(keycloak_id, "mitid", "mitid-laege", claims_of("accepted"))
    response = app.test_client().post("/me/federation/mitid/logins", headers=signed(principal))
    assert response.status_code == 204
    assert federation.logged_out == []
    assert [row[:3] for row in audit(runtime, principal.subject)] == [("mitid", "login", "accepted")]
