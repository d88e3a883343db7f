"""Log in with MitID or a region's own IdP (requirement D), in the web UI.

- The front page offers a "MitID" tab and a "Lokal IdP" tab with a region chooser; who should use
  which (D3) comes from one file, LoginOptions (WEB_LOGIN_OPTIONS_FILE, default login_options.json).
  Both hand over to Keycloak with ``kc_idp_hint`` (auth.login's ``idp``).
- "Ret brugerprofil" → "Tilknyt til MitID Pro" starts Keycloak's application-initiated linking
  (``kc_action=idp_link:<alias>``, the user stays logged in); on return identity checks the linked
  profile and removes the link if it lacks a health-professional authorisation tied to an
  organisation; the page says what was wrong and which profile to choose. Unlinking is a form too.
- After a login through an IdP, identity records it (and refuses a profile that no longer qualifies).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, session, url_for

from servicekit.config import ConfigError

from .adapters.gateway_client import GatewayError, Rejected
from .api import api
from .auth import login_required

log = logging.getLogger(__name__)
bp = Blueprint("federation", __name__)

DEFAULT_OPTIONS_FILE = Path(__file__).with_name("login_options.json")
IDP_NAMES = {"mitid": "MitID", "region-midt": "Region Midtjylland", "region-syd": "Region Syddanmark",
             "region-nord": "Region Nordjylland"}
LINK_LABELS = {"mitid": "Tilknyt til MitID Pro"}


@dataclass(frozen=True)
class Workplace:
    name: str
    tabs: tuple[str, ...]
    idp: str | None

    @property
    def advice(self) -> str:
        steps = []
        for tab in self.tabs:
            steps.append('fanen "MitID"' if tab == "mitid" else f'fanen "Lokal IdP" og vælg {self.name}')
        if len(steps) == 1:
            return f"Brug {steps[0]}."
        return f"Brug først {steps[0]}. Lykkes det ikke, så brug {steps[1]}."


@dataclass(frozen=True)
class LoginOptions:
    mitid_alias: str
    workplaces: tuple[Workplace, ...]

    @property
    def regional_idps(self) -> list[Workplace]:
        """The Lokal IdP tab's region chooser: workplaces with an IdP of their own, in file order."""
        return [w for w in self.workplaces if w.idp and "lokal" in w.tabs]

    @property
    def aliases(self) -> set[str]:
        return {self.mitid_alias} | {w.idp for w in self.regional_idps}

    @classmethod
    def load(cls, path: Path) -> "LoginOptions":
        """ValueError naming the file when it is not as described in login_options.json."""
        try:
            raw = json.loads(path.read_text("utf-8"))
            workplaces = tuple(Workplace(str(w["name"]), tuple(w["tabs"]), w.get("idp")) for w in raw["workplaces"])
            options = cls(str(raw["mitid_alias"]), workplaces)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"login options file {path}: {exc}") from None
        for w in workplaces:
            if not w.tabs or set(w.tabs) - {"mitid", "lokal"} or ("lokal" in w.tabs and not w.idp):
                raise ValueError(f"login options file {path}: workplace {w.name!r} needs tabs from "
                                 "['mitid', 'lokal'] (and an idp with 'lokal')")
        unknown = sorted(options.aliases - set(IDP_NAMES))
        if unknown:
            raise ValueError(f"login options file {path}: unknown identity provider alias(es) {unknown}; "
                             f"realm danbio's are {sorted(IDP_NAMES)}")
        return options


def options() -> LoginOptions:
    return current_app.extensions["web.login_options"]


def idp_name(alias: str) -> str:
    return IDP_NAMES.get(alias, alias)


# -- linking -------------------------------------------------------------------------------------

REFUSALS = {
    "missing_authorisation": (
        "Den valgte {idp}-profil har ingen autorisation som sundhedsperson, så den kan ikke bruges til DANBIO, "
        "og tilknytningen er fjernet. Vælg i stedet din erhvervsprofil (MitID Erhverv), der bærer din "
        "autorisation som sundhedsperson og er knyttet til dit hospital eller din praksis – ikke en privat "
        "profil eller en profil hos et andet firma – og prøv igen."),
    "missing_organisation": (
        "Den valgte {idp}-profil er ikke knyttet til en organisation (CVR), så den kan ikke bruges til DANBIO, "
        "og tilknytningen er fjernet. Vælg i stedet din erhvervsprofil hos dit hospital eller din praksis – "
        "ikke din private MitID – og prøv igen."),
    "missing_professional_id": (
        "Den valgte {idp}-profil er ikke en erhvervsprofil, så den kan ikke bruges til DANBIO, og tilknytningen er "
        "fjernet. Vælg din erhvervsprofil (MitID Erhverv) hos dit hospital eller din praksis, og prøv igen."),
    "not_linked": "Tilknytningen til {idp} blev ikke gennemført, og intet er ændret. Prøv igen.",
}


def refusal_message(problem: dict, alias: str) -> str:
    codes = problem.get("codes") or {}
    code = codes.get("profile") or codes.get("link") or "not_linked"
    return REFUSALS.get(code, REFUSALS["not_linked"]).format(idp=idp_name(alias))


@bp.post("/profil/tilknyt/<alias>")
@login_required
def start_link(alias: str):
    if alias not in options().aliases:
        return redirect(url_for("pages.profile"))
    from .auth import start_login  # auth imports nothing from here: no cycle at import time

    return start_login(next_path=url_for("federation.link_returned", alias=alias),
                       extra={"kc_action": f"idp_link:{alias}"}, link=alias)


@bp.get("/profil/tilknytning/<alias>")
@login_required
def link_returned(alias: str):
    """Back from Keycloak's linking: let identity check (and if need be undo) the link. Only when
    this session's linking came back through the login callback: the check changes and audits, and a
    GET anyone can link to must not (issue 10)."""
    from .auth import returned_from_linking

    if alias not in options().aliases or not returned_from_linking(alias):
        return redirect(url_for("pages.profile"))
    try:
        api("POST", f"/api/identity/me/federation/{alias}/check")
    except Rejected as refused:
        flash(refusal_message(refused.problem, alias), "error")
        session["federation_refused"] = alias
        return redirect(url_for("pages.profile"))
    flash(f"Din bruger er nu tilknyttet {idp_name(alias)}. Fremover kan du logge ind med "
          + ('fanen "MitID".' if alias == options().mitid_alias else f'fanen "Lokal IdP" og vælge {idp_name(alias)}.'))
    return redirect(url_for("pages.profile"))


@bp.post("/profil/tilknytning/<alias>/fjern")
@login_required
def unlink(alias: str):
    if alias in options().aliases:
        api("DELETE", f"/api/identity/me/federation/{alias}")
        flash(f"Tilknytningen til {idp_name(alias)} er fjernet.")
    return redirect(url_for("pages.profile"))


def links() -> list[dict]:
    """For the profile page: each configured IdP, linked or not (empty if identity cannot say)."""
    try:
        found = {link["alias"]: link for link in api("GET", "/api/identity/me/federation")["links"]}
    except GatewayError as exc:
        log.warning("link status unavailable", extra={"status": exc.status})
        return []
    ordered = [options().mitid_alias] + [w.idp for w in options().regional_idps]
    return [{**found.get(alias, {"alias": alias, "linked": False}), "name": idp_name(alias),
             "link_label": LINK_LABELS.get(alias, f"Tilknyt til {idp_name(alias)}")} for alias in ordered]


# -- after a login -------------------------------------------------------------------------------

def record_federated_login(alias: str) -> str | None:
    """identity audits a login through ``alias``; a Danish message if it refuses the login."""
    if alias not in options().aliases:
        return None
    try:
        api("POST", f"/api/identity/me/federation/{alias}/logins")
    except Rejected as refused:
        codes = refused.problem.get("codes") or {}
        if codes.get("link") == "not_linked":
            return (f"Dit {idp_name(alias)}-login er ikke (længere) tilknyttet din DANBIO-bruger. Log ind med "
                    "brugernavn og adgangskode, og tilknyt det under \"Ret brugerprofil\".")
        return refusal_message(refused.problem, alias).replace("og tilknytningen er fjernet", "og login er afvist")
    return None


def install(app) -> None:
    path = Path(app.extensions["web.settings"].login_options_file or DEFAULT_OPTIONS_FILE)
    try:
        app.extensions["web.login_options"] = LoginOptions.load(path)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: WEB_LOGIN_OPTIONS_FILE: {exc}") from None
    app.register_blueprint(bp)
    app.add_template_global(options, "login_options")
    app.add_template_global(links, "federation_links")
