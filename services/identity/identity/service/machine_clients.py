"""Machine clients (the patient platform) calling the gateway with client credentials.

Their access token's ``sub`` is the Keycloak service-account user of the client. identity has no
row for it; it asks Keycloak whose service account the subject is, and grants the roles configured
for that client (IDENTITY_MACHINE_CLIENTS). A client not configured gets nothing. Answers are kept
in memory: a service account belongs to its client for life (a re-created client gets a new id).
"""
from __future__ import annotations

import threading

from servicekit.principal import Principal

from ..adapters.keycloak_directory import UserDirectory


class MachineClients:
    def __init__(self, directory: UserDirectory, roles_by_client: dict[str, frozenset[str]]):
        self.directory = directory
        self.roles_by_client = roles_by_client
        self._known: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def principal(self, keycloak_subject: str) -> Principal | None:
        """The client principal of a service-account subject; None for anything else."""
        with self._lock:
            known = self._known.get(keycloak_subject)
        if known is not None or not self.roles_by_client:
            return known
        client_id = self.directory.service_account_client(keycloak_subject)
        roles = self.roles_by_client.get(client_id or "")
        if not roles:
            return None
        principal = Principal(subject=f"client:{client_id}", kind="client", username=client_id,
                              client_roles=roles)
        with self._lock:
            self._known[keycloak_subject] = principal
        return principal
