"""Logging in with MitID or a region's own IdP (requirement D): which identity providers there are,
and whether a linked professional profile may be used for DANBIO.

Keycloak holds the links and, through the identity providers' mappers, copies the upstream claims
of the profile used into user attributes named ``<alias>.<claim>`` (FORCE sync: on every link and
login). identity reads them to decide.
"""
from __future__ import annotations

from dataclasses import dataclass

# Realm danbio's identity providers (deploy/keycloak/simulated/identity-providers.json in development;
# the same aliases in production).
ALIASES = ("mitid", "region-midt", "region-syd", "region-nord")
CLAIMS = ("professional_uuid", "organisation_cvr", "organisation_name", "health_authorisation")

# Why a profile is refused, in the order they are reported.
MISSING_AUTHORISATION = "missing_authorisation"
MISSING_ORGANISATION = "missing_organisation"
MISSING_PROFESSIONAL_ID = "missing_professional_id"


def attribute(alias: str, claim: str) -> str:
    return f"{alias}.{claim}"


@dataclass(frozen=True)
class ProfessionalProfile:
    """The upstream profile a link was made (or a login done) with."""

    professional_uuid: str | None
    organisation_cvr: str | None
    organisation_name: str | None
    health_authorisation: str | None

    @classmethod
    def from_attributes(cls, alias: str, attributes: dict[str, list[str]]) -> "ProfessionalProfile":
        def first(claim: str) -> str | None:
            values = [v for v in attributes.get(attribute(alias, claim)) or [] if v and v.strip()]
            return values[0].strip() if values else None

        return cls(*(first(claim) for claim in CLAIMS))

    def problems(self) -> list[str]:
        """Empty when the profile carries a health-professional authorisation tied to an organisation."""
        found = []
        if not self.health_authorisation:
            found.append(MISSING_AUTHORISATION)
        if not self.organisation_cvr:
            found.append(MISSING_ORGANISATION)
        if not self.professional_uuid:
            found.append(MISSING_PROFESSIONAL_ID)
        return found
