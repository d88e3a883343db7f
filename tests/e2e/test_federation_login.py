"""Logging in with MitID or a region's own IdP (requirement D, issue 8), in a real browser, against
the session's realm and its simulated upstream realms (deploy/keycloak/simulated): linking from
"Ret brugerprofil", the profile check, refusal of unlinked identities, and the D3 tabs."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from .test_browser_login import browser, log_in, page  # noqa: F401 (fixtures)

UPSTREAM_PASSWORD = "Simuleret-Login-2026"  # the simulated realms' invented test users


def upstream_login(page, keycloak_realm, key: str, username: str) -> None:
    """The simulated upstream realm's own login form (stands in for MitID / a region's IdP)."""
    page.wait_for_url(re.compile(re.escape(f"{keycloak_realm.url}/realms/{keycloak_realm.name}-{key}-sim/") + ".*"))
    page.fill("#username", username)
    page.fill("#password", UPSTREAM_PASSWORD)
    page.click("#kc-login")


def link(page, stack, keycloak_realm, button: str, key: str, upstream_user: str) -> None:
    page.goto(f"{stack.url('web')}/profil")
    page.get_by_role("button", name=button).click()
    # Keycloak asks to confirm the linking (application-initiated action idp_link).
    page.get_by_role("button", name="Fortsæt").click()
    upstream_login(page, keycloak_realm, key, upstream_user)
    page.wait_for_url(f"{stack.url('web')}/profil")


def log_out(page, stack) -> None:
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url(f"{stack.url('web')}/")


def audit(identity_runtime, user_id):
    from identity.adapters.tables import federation_audit

    with identity_runtime.uow() as uow:
        return [(row.alias, row.action, row.outcome) for row in uow.session.execute(
            select(federation_audit).where(federation_audit.c.user_id == user_id)
            .order_by(federation_audit.c.occurred_at))]


def mitid_flag(identity_runtime, user_id) -> bool:
    """What the user lists show as "MitID tilknyttet" (identity's copy of the link)."""
    from identity.adapters.tables import users

    with identity_runtime.uow() as uow:
        return uow.session.execute(select(users.c.mitid_linked).where(users.c.id == user_id)).scalar_one()


def test_link_with_the_right_profile_then_log_in_with_mitid(page, stack, keycloak_realm, new_user, identity_runtime):
    user_id, user = new_user()
    log_in(page, stack, keycloak_realm, user)
    link(page, stack, keycloak_realm, "Tilknyt til MitID Pro", "mitid", "mitid-laege")
    expect(page.get_by_text("Din bruger er nu tilknyttet MitID")).to_be_visible()
    expect(page.get_by_text("Odense Universitetshospital")).to_be_visible()
    links = keycloak_realm.admin.get_user_social_logins(user.id)
    assert [(l["identityProvider"], l["userName"]) for l in links] == [("mitid", "mitid-laege")]
    assert mitid_flag(identity_runtime, user_id) is True

    log_out(page, stack)
    page.get_by_role("link", name="Fortsæt til MitID").click()
    upstream_login(page, keycloak_realm, "mitid", "mitid-laege")
    page.wait_for_url(f"{stack.url('web')}/")
    expect(page.get_by_role("heading", name=re.compile("^Velkommen, Test Bruger"))).to_be_visible()
    assert audit(identity_runtime, user_id) == [("mitid", "link", "accepted"), ("mitid", "login", "accepted")]

    # Unlinking: the link is gone in Keycloak, audited.
    page.goto(f"{stack.url('web')}/profil")
    page.get_by_role("button", name="Fjern tilknytning til MitID").click()
    expect(page.get_by_text("Tilknytningen til MitID er fjernet.")).to_be_visible()
    assert keycloak_realm.admin.get_user_social_logins(user.id) == []
    assert audit(identity_runtime, user_id)[-1] == ("mitid", "unlink", "accepted")
    assert mitid_flag(identity_runtime, user_id) is False


def test_a_profile_without_the_authorisation_is_refused_and_not_kept(page, stack, keycloak_realm, new_user,
                                                                    identity_runtime):
    user_id, user = new_user()
    log_in(page, stack, keycloak_realm, user)
    link(page, stack, keycloak_realm, "Tilknyt til MitID Pro", "mitid", "mitid-laege-privat")
    expect(page.get_by_text(re.compile("har ingen autorisation som sundhedsperson"))).to_be_visible()
    expect(page.get_by_text(re.compile("Vælg i stedet din erhvervsprofil"))).to_be_visible()
    assert keycloak_realm.admin.get_user_social_logins(user.id) == []
    attributes = keycloak_realm.admin.get_user(user.id).get("attributes") or {}
    assert not [name for name in attributes if name.startswith("mitid.")], attributes
    assert audit(identity_runtime, user_id) == [("mitid", "link", "missing_authorisation")]
    expect(page.get_by_role("button", name="Tilknyt til MitID Pro")).to_be_visible()  # may try again

    # Nor can that profile log in.
    log_out(page, stack)
    page.get_by_role("link", name="Fortsæt til MitID").click()
    upstream_login(page, keycloak_realm, "mitid", "mitid-laege-privat")
    expect(page.get_by_text(re.compile("ikke tilknyttet en DANBIO-bruger"))).to_be_visible()


def test_an_unlinked_upstream_user_is_refused_and_no_user_is_created(page, stack, keycloak_realm):
    before = keycloak_realm.admin.users_count()
    page.goto(stack.url("web"))
    page.get_by_role("link", name="Fortsæt til MitID").click()
    upstream_login(page, keycloak_realm, "mitid", "mitid-ukendt")
    expect(page.get_by_text(re.compile("ikke tilknyttet en DANBIO-bruger"))).to_be_visible()
    expect(page.get_by_text(re.compile("tilknyt det under \"Ret brugerprofil\""))).to_be_visible()
    assert keycloak_realm.admin.users_count() == before
    assert keycloak_realm.admin.get_user_id("mitid-ukendt") is None
    page.goto(stack.url("web"))
    expect(page.get_by_role("link", name="Log ind", exact=True)).to_be_visible()  # not logged in


def test_front_page_tabs_follow_d3(page, stack):
    page.goto(stack.url("web"))
    expect(page.get_by_role("heading", name="MitID", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Lokal IdP", exact=True)).to_be_visible()
    # The tabs in D3's order: MitID first, then Lokal IdP, then the advice on which to use.
    headings = page.locator(".login-options h2").all_inner_texts()
    assert headings == ["MitID", "Lokal IdP", "Hvilken fane skal jeg bruge?"]
    regions = page.get_by_label("Vælg region").locator("option").all_inner_texts()
    assert regions == ["Region Midtjylland", "Region Syddanmark", "Region Nordjylland"]
    values = page.get_by_label("Vælg region").locator("option").evaluate_all("options => options.map(o => o.value)")
    assert values == ["region-midt", "region-syd", "region-nord"]
    workplaces = page.locator(".login-advice dt").all_inner_texts()
    advice = page.locator(".login-advice dd").all_inner_texts()
    assert dict(zip(workplaces, advice)) == {
        "Privat praksis": 'Brug fanen "MitID".',
        "Region Hovedstaden": 'Brug fanen "MitID".',
        "Region Sjælland": 'Brug fanen "MitID".',
        "Region Midtjylland": 'Brug fanen "Lokal IdP" og vælg Region Midtjylland.',
        "Region Syddanmark": ('Brug først fanen "MitID". Lykkes det ikke, så brug fanen "Lokal IdP" og vælg '
                              'Region Syddanmark.'),
        "Region Nordjylland": ('Brug først fanen "MitID". Lykkes det ikke, så brug fanen "Lokal IdP" og vælg '
                               'Region Nordjylland.'),
    }
    assert workplaces == ["Privat praksis", "Region Hovedstaden", "Region Sjælland", "Region Midtjylland",
                          "Region Syddanmark", "Region Nordjylland"]


def test_a_region_midt_user_logs_in_through_lokal_idp(page, stack, keycloak_realm, new_user, identity_runtime):
    user_id, user = new_user()
    log_in(page, stack, keycloak_realm, user)
    link(page, stack, keycloak_realm, "Tilknyt til Region Midtjylland", "region-midt", "midt-laege")
    expect(page.get_by_text("Din bruger er nu tilknyttet Region Midtjylland")).to_be_visible()
    log_out(page, stack)

    page.get_by_label("Vælg region").select_option(label="Region Midtjylland")
    page.get_by_role("button", name="Log ind med lokal IdP").click()
    upstream_login(page, keycloak_realm, "region-midt", "midt-laege")
    page.wait_for_url(f"{stack.url('web')}/")
    expect(page.get_by_role("heading", name=re.compile("^Velkommen, Test Bruger"))).to_be_visible()
    assert audit(identity_runtime, user_id)[-1] == ("region-midt", "login", "accepted")


def test_a_region_syd_user_falls_back_to_lokal_idp_when_mitid_fails(page, stack, keycloak_realm, new_user):
    user_id, user = new_user()
    log_in(page, stack, keycloak_realm, user)
    link(page, stack, keycloak_realm, "Tilknyt til Region Syddanmark", "region-syd", "syd-laege")
    log_out(page, stack)

    # D3: MitID first — this person's MitID is not linked, so it fails and says what to do.
    page.get_by_role("link", name="Fortsæt til MitID").click()
    upstream_login(page, keycloak_realm, "mitid", "mitid-syd")
    expect(page.get_by_text(re.compile("prøv fanen \"Lokal IdP\" og vælg din region"))).to_be_visible()

    # Then Lokal IdP, Region Syddanmark.
    page.goto(stack.url("web"))
    page.get_by_label("Vælg region").select_option(label="Region Syddanmark")
    page.get_by_role("button", name="Log ind med lokal IdP").click()
    upstream_login(page, keycloak_realm, "region-syd", "syd-laege")
    page.wait_for_url(f"{stack.url('web')}/")
    expect(page.get_by_role("heading", name=re.compile("^Velkommen, Test Bruger"))).to_be_visible()


def test_a_region_nord_user_logs_in_through_lokal_idp(page, stack, keycloak_realm, new_user, identity_runtime):
    user_id, user = new_user()
    log_in(page, stack, keycloak_realm, user)
    link(page, stack, keycloak_realm, "Tilknyt til Region Nordjylland", "region-nord", "nord-laege")
    expect(page.get_by_text("Din bruger er nu tilknyttet Region Nordjylland")).to_be_visible()
    links = keycloak_realm.admin.get_user_social_logins(user.id)
    assert [(l["identityProvider"], l["userName"]) for l in links] == [("region-nord", "nord-laege")]
    log_out(page, stack)

    page.get_by_label("Vælg region").select_option(label="Region Nordjylland")
    page.get_by_role("button", name="Log ind med lokal IdP").click()
    upstream_login(page, keycloak_realm, "region-nord", "nord-laege")
    page.wait_for_url(f"{stack.url('web')}/")
    expect(page.get_by_role("heading", name=re.compile("^Velkommen, Test Bruger"))).to_be_visible()
    assert audit(identity_runtime, user_id) == [("region-nord", "link", "accepted"),
                                                ("region-nord", "login", "accepted")]


def test_a_profile_without_an_organisation_is_refused_and_not_kept(page, stack, keycloak_realm, new_user,
                                                                  identity_runtime):
    user_id, user = new_user()
    log_in(page, stack, keycloak_realm, user)
    link(page, stack, keycloak_realm, "Tilknyt til MitID Pro", "mitid", "mitid-uden-org")
    expect(page.get_by_text(re.compile(r"ikke knyttet til en organisation \(CVR\)"))).to_be_visible()
    expect(page.get_by_text(re.compile("Vælg i stedet din erhvervsprofil hos dit hospital eller din praksis"))
           ).to_be_visible()
    assert keycloak_realm.admin.get_user_social_logins(user.id) == []
    attributes = keycloak_realm.admin.get_user(user.id).get("attributes") or {}
    assert not [name for name in attributes if name.startswith("mitid.")], attributes
    assert audit(identity_runtime, user_id) == [("mitid", "link", "missing_organisation")]
    expect(page.get_by_role("button", name="Tilknyt til MitID Pro")).to_be_visible()
