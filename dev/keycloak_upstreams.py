"""Simulated upstream identity providers: MitID and the regions' own IdPs, as extra realms in the
same Keycloak, which realm danbio brokers to over OIDC exactly as it would to the real ones.

Real MitID (through NemLog-in or a broker) and the regions' IdPs cannot be reached from a developer's
machine or CI, so development and tests use these (deploy/README.md says how production points the
same aliases at the real endpoints):

  deploy/keycloak/simulated/realm-<key>-sim.json   one upstream realm each (mitid, region-midt,
                                                    region-syd, region-nord): test users carrying a
                                                    professional UUID, organisation CVR and — or not —
                                                    a health-professional authorisation
  deploy/keycloak/simulated/identity-providers.json the danbio realm's identity providers (same
                                                    aliases) with the mappers that keep those claims

Their placeholders are filled here, not by Keycloak: ``${DANBIO_SIM_REALM_PREFIX}`` (prefix of the
upstream realm names: empty for `make run`, the test realm's name for a test session, so sessions
never share upstream realms), ``${DANBIO_SIM_ISSUER_BASE}`` (``<keycloak>/realms/<prefix>``) and
``${DANBIO_SIM_BROKER_URL}`` (``<keycloak>/realms/<danbio realm>/broker``, where the upstream realms
send the browser back).

Applied like the danbio realm itself (dev/keycloak_realm.py): created if missing, re-created when the
file changed (a fingerprint attribute), by `make run` (ensure) and by each test session (create).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIM_DIR = REPO / "deploy" / "keycloak" / "simulated"
IDP_FILE = SIM_DIR / "identity-providers.json"
UPSTREAM_KEYS = ("mitid", "region-midt", "region-syd", "region-nord")
PLACEHOLDER = re.compile(r"\$\{(DANBIO_SIM_[A-Z0-9_]+)\}")
FINGERPRINT_ATTRIBUTE = "danbioRealmFileSha256"  # as dev/keycloak_realm.py


def sim_values(keycloak_url: str, danbio_realm: str, prefix: str = "") -> dict[str, str]:
    url = keycloak_url.rstrip("/")
    return {"DANBIO_SIM_REALM_PREFIX": prefix, "DANBIO_SIM_ISSUER_BASE": f"{url}/realms/{prefix}",
            "DANBIO_SIM_BROKER_URL": f"{url}/realms/{danbio_realm}/broker"}


def _filled(path: Path, values: dict[str, str]) -> str:
    text = path.read_text("utf-8")
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)} (placeholders in {path.name})")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def upstream_representations(values: dict[str, str]) -> list[dict]:
    """The simulated upstream realms, named ``<prefix><key>-sim``, each with its fingerprint."""
    realms = []
    for key in UPSTREAM_KEYS:
        text = _filled(SIM_DIR / f"realm-{key}-sim.json", values)
        realm = json.loads(text)
        realm.setdefault("attributes", {})[FINGERPRINT_ATTRIBUTE] = hashlib.sha256(text.encode()).hexdigest()
        realms.append(realm)
    return realms


def add_identity_providers(representation: dict, values: dict[str, str]) -> dict:
    """The danbio realm ``representation`` with the identity providers of the simulated upstreams
    (and their mappers); its fingerprint then covers them too."""
    text = _filled(IDP_FILE, values)
    providers = json.loads(text)
    representation["identityProviders"] = providers["identityProviders"]
    representation["identityProviderMappers"] = providers["identityProviderMappers"]
    attributes = representation.setdefault("attributes", {})
    combined = (attributes.get(FINGERPRINT_ATTRIBUTE, "") + text).encode()
    attributes[FINGERPRINT_ATTRIBUTE] = hashlib.sha256(combined).hexdigest()
    return representation


def ensure_upstreams(master_admin, values: dict[str, str]) -> dict[str, str]:
    """realm name -> 'created' / 'replaced' / 'unchanged' (the upstream realms hold no state worth keeping)."""
    from dev.keycloak_realm import ensure_realm

    return {realm["realm"]: ensure_realm(master_admin, realm) for realm in upstream_representations(values)}


def create_upstreams(master_admin, values: dict[str, str], *, extra_attributes: dict[str, str] | None = None) -> list[str]:
    """Create the upstream realms afresh (a test session); their names."""
    names = []
    for realm in upstream_representations(values):
        realm["attributes"].update(extra_attributes or {})
        master_admin.create_realm(realm)
        names.append(realm["realm"])
    return names


def delete_upstreams(master_admin, values: dict[str, str]) -> None:
    from keycloak.exceptions import KeycloakDeleteError

    for key in UPSTREAM_KEYS:
        try:
            master_admin.delete_realm(f"{values['DANBIO_SIM_REALM_PREFIX']}{key}-sim")
        except KeycloakDeleteError as exc:
            if exc.response_code != 404:
                raise
