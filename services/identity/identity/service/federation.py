"""Use cases of MitID / regional IdP login for the calling user: the state of their links, the check
after linking (a profile without a health-professional authorisation tied to an organisation is
unlinked again), unlinking, and the record of a federated login. Every one is audited, and
identity's copy of the MitID link (service/mitid_links.py) follows what it read or left in Keycloak."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from servicekit.errors import Forbidden, InvalidInput, NotFound
from servicekit.logs import correlation_id
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import user_repository
from ..adapters.keycloak_federation import FederatedLink, KeycloakFederation
from ..adapters.tables import federation_audit
from ..domain.federation import ALIASES, ProfessionalProfile
from . import mitid_links

ACCEPTED = "accepted"
NOT_LINKED = "not_linked"


def _caller(uow: UnitOfWork, caller: Principal):
    if caller.kind != "user":
        raise Forbidden("Only a person has IdP links.")
    user = user_repository.get(uow.session, caller.user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _alias(alias: str) -> str:
    if alias not in ALIASES:
        raise NotFound(f"No identity provider '{alias}'.")
    return alias


def _audit(uow: UnitOfWork, user_id: uuid.UUID, alias: str, action: str, outcome: str,
           link: FederatedLink | None, profile: ProfessionalProfile | None) -> None:
    uow.session.execute(federation_audit.insert().values(
        id=uuid.uuid4(), user_id=user_id, alias=alias, action=action, outcome=outcome,
        upstream_user_id=link.upstream_user_id if link else None,
        upstream_username=link.upstream_username if link else None,
        professional_uuid=profile.professional_uuid if profile else None,
        organisation_cvr=profile.organisation_cvr if profile else None,
        correlation_id=(correlation_id.get() or None), occurred_at=datetime.now(timezone.utc)))


def link_status(uow: UnitOfWork, federation: KeycloakFederation, caller: Principal) -> list[dict[str, Any]]:
    """One entry per identity provider: linked or not, and with which profile."""
    user = _caller(uow, caller)
    links = federation.links(user.keycloak_id)
    attributes = federation.attributes(user.keycloak_id) if links else {}
    result = []
    for alias in ALIASES:
        link = links.get(alias)
        profile = ProfessionalProfile.from_attributes(alias, attributes) if link else None
        result.append({"alias": alias, "linked": link is not None,
                       "upstream_username": link.upstream_username if link else None,
                       "organisation_name": profile.organisation_name if profile else None,
                       "organisation_cvr": profile.organisation_cvr if profile else None,
                       "health_authorisation": profile.health_authorisation if profile else None})
    return result


def check_link(uow: UnitOfWork, federation: KeycloakFederation, caller: Principal, alias: str) -> dict[str, Any]:
    """After Keycloak linked ``alias``: keep the link only if its profile may be used; else remove it
    and refuse (InvalidInput with the reasons as codes)."""
    user = _caller(uow, caller)
    alias = _alias(alias)
    links = federation.links(user.keycloak_id)
    link = links.get(alias)
    if link is None:
        _audit(uow, user.id, alias, "link", NOT_LINKED, None, None)
        mitid_links.remember(uow, user.id, links)
        uow.commit()
        raise InvalidInput("No link to this identity provider was made.", errors={"link": [NOT_LINKED]},
                           codes={"link": NOT_LINKED})
    profile = ProfessionalProfile.from_attributes(alias, federation.attributes(user.keycloak_id))
    problems = profile.problems()
    if problems:
        federation.unlink(user.keycloak_id, alias)
        _audit(uow, user.id, alias, "link", problems[0], link, profile)
        mitid_links.remember(uow, user.id, set(links) - {alias})
        uow.commit()
        raise InvalidInput("The chosen profile cannot be used for DANBIO; the link was removed.",
                           errors={"profile": problems}, codes={"profile": problems[0]})
    _audit(uow, user.id, alias, "link", ACCEPTED, link, profile)
    mitid_links.remember(uow, user.id, links)
    uow.commit()
    return {"alias": alias, "linked": True, "upstream_username": link.upstream_username,
            "organisation_name": profile.organisation_name, "organisation_cvr": profile.organisation_cvr,
            "health_authorisation": profile.health_authorisation}


def unlink(uow: UnitOfWork, federation: KeycloakFederation, caller: Principal, alias: str) -> None:
    user = _caller(uow, caller)
    alias = _alias(alias)
    links = federation.links(user.keycloak_id)
    link = links.get(alias)
    profile = ProfessionalProfile.from_attributes(alias, federation.attributes(user.keycloak_id)) if link else None
    federation.unlink(user.keycloak_id, alias)
    _audit(uow, user.id, alias, "unlink", ACCEPTED if link else NOT_LINKED, link, profile)
    mitid_links.remember(uow, user.id, set(links) - {alias})
    uow.commit()


def record_login(uow: UnitOfWork, federation: KeycloakFederation, caller: Principal, alias: str) -> None:
    """A login through ``alias`` just happened: audit it, and refuse it (ending the user's Keycloak
    sessions) when the linked profile no longer carries what DANBIO requires."""
    user = _caller(uow, caller)
    alias = _alias(alias)
    links = federation.links(user.keycloak_id)
    link = links.get(alias)
    if link is None:
        _audit(uow, user.id, alias, "login", NOT_LINKED, None, None)
        mitid_links.remember(uow, user.id, links)
        uow.commit()
        federation.logout(user.keycloak_id)
        raise InvalidInput("The user has no link to this identity provider.", errors={"link": [NOT_LINKED]},
                           codes={"link": NOT_LINKED})
    profile = ProfessionalProfile.from_attributes(alias, federation.attributes(user.keycloak_id))
    problems = profile.problems()
    _audit(uow, user.id, alias, "login", problems[0] if problems else ACCEPTED, link, profile)
    mitid_links.remember(uow, user.id, links)
    uow.commit()
    if problems:
        federation.logout(user.keycloak_id)
        raise InvalidInput("The linked profile no longer carries what DANBIO requires.",
                           errors={"profile": problems}, codes={"profile": problems[0]})
