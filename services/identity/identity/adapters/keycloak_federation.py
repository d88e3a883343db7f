"""The links between a Keycloak user and upstream identities (MitID, a region's IdP), through
Keycloak's admin API with identity's service account (manage-users / view-users suffice)."""
from __future__ import annotations

from dataclasses import dataclass

from .keycloak_directory import KeycloakUserDirectory, keycloak_errors
from ..domain.federation import CLAIMS, attribute


@dataclass(frozen=True)
class FederatedLink:
    alias: str
    upstream_user_id: str     # the upstream `sub`
    upstream_username: str


class KeycloakFederation:
    """Uses the directory's admin client (one service-account token for both)."""

    def __init__(self, directory: KeycloakUserDirectory):
        self.directory = directory

    def links(self, keycloak_id: str) -> dict[str, FederatedLink]:
        with keycloak_errors():
            rows = self.directory._client().get_user_social_logins(keycloak_id)
        return {row["identityProvider"]: FederatedLink(row["identityProvider"], row.get("userId") or "",
                                                       row.get("userName") or "") for row in rows}

    def attributes(self, keycloak_id: str) -> dict[str, list[str]]:
        with keycloak_errors():
            return dict(self.directory._client().get_user(keycloak_id).get("attributes") or {})

    def unlink(self, keycloak_id: str, alias: str) -> None:
        """Remove the link and the claims its profile left on the user (both idempotent)."""
        with keycloak_errors():
            client = self.directory._client()
            if alias in self.links(keycloak_id):
                client.delete_user_social_login(keycloak_id, alias)
            user = client.get_user(keycloak_id)
            attributes = dict(user.get("attributes") or {})
            ours = {attribute(alias, claim) for claim in CLAIMS}
            if ours & set(attributes):
                kept = {name: values for name, values in attributes.items() if name not in ours}
                client.update_user(keycloak_id, {"username": user["username"], "email": user.get("email"),
                                                 "firstName": user.get("firstName"),
                                                 "lastName": user.get("lastName"), "attributes": kept})

    def logout(self, keycloak_id: str) -> None:
        self.directory.logout(keycloak_id)
