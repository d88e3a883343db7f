"""The realm file deploy/keycloak/realm-danbio.json, applied to a Keycloak that is already running.

Keycloak imports the realm file only when it starts, and skips a realm it already has
(--import-realm). This tool brings a running Keycloak in step with the file, through the admin API
as the bootstrap admin (development and tests only):

  python dev/keycloak_realm.py ensure    create the realm if missing; re-create it if the file (or a
                                         secret) changed since it was created — its users are lost
  python dev/keycloak_realm.py replace   delete and re-create the realm from the file

Placeholders ``${NAME}`` are filled as Keycloak fills them at import: from the environment, and here
from dev/keycloak-dev.env for the variables the environment does not set.

Environment: DANBIO_KEYCLOAK_URL (default http://127.0.0.1:8180), DANBIO_KEYCLOAK_REALM (danbio),
DANBIO_KC_ADMIN_USER / DANBIO_KC_ADMIN_PASSWORD (admin / admin, the dev bootstrap admin).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Mapping

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakGetError

REPO = Path(__file__).resolve().parents[1]
REALM_FILE = REPO / "deploy" / "keycloak" / "realm-danbio.json"
DEV_ENV_FILE = REPO / "dev" / "keycloak-dev.env"
# Only our own placeholders: the file also holds Keycloak's message keys such as ${profileScopeConsentText}.
PLACEHOLDER = re.compile(r"\$\{(DANBIO_[A-Z0-9_]+)\}")
# A realm attribute: which file content (with its secrets) the realm was created from.
FINGERPRINT_ATTRIBUTE = "danbioRealmFileSha256"


def dev_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """NAME -> value for every variable of dev/keycloak-dev.env; the environment wins."""
    environ = os.environ if environ is None else environ
    values = {}
    for line in DEV_ENV_FILE.read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = environ.get(name.strip()) or value.strip()
    return values


def placeholders(text: str | None = None) -> set[str]:
    return set(PLACEHOLDER.findall(REALM_FILE.read_text("utf-8") if text is None else text))


def realm_text(values: Mapping[str, str]) -> str:
    """The realm file with its placeholders filled; ValueError naming any variable without a value."""
    text = REALM_FILE.read_text("utf-8")
    missing = sorted(name for name in placeholders(text) if not values.get(name))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)} (placeholders in {REALM_FILE.name})")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def realm_representation(values: Mapping[str, str], *, name: str | None = None) -> dict:
    """The realm as Keycloak's admin API takes it, named ``name`` (default: as in the file)."""
    text = realm_text(values)
    representation = json.loads(text)
    if name:
        representation["realm"] = name
    attributes = representation.setdefault("attributes", {})
    attributes[FINGERPRINT_ATTRIBUTE] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return representation


def master_admin(url: str, *, username: str = "admin", password: str = "admin") -> KeycloakAdmin:
    """Keycloak's admin API as the bootstrap admin of the master realm."""
    return KeycloakAdmin(server_url=url, username=username, password=password, realm_name="master",
                         user_realm_name="master", timeout=30)


def realm_exists(admin: KeycloakAdmin, name: str) -> dict | None:
    try:
        return admin.get_realm(name)
    except KeycloakGetError as exc:
        if exc.response_code == 404:
            return None
        raise


def replace_realm(admin: KeycloakAdmin, representation: dict) -> None:
    """Delete the realm if present, then create it from ``representation``."""
    if realm_exists(admin, representation["realm"]) is not None:
        admin.delete_realm(representation["realm"])
    admin.create_realm(representation)


def ensure_realm(admin: KeycloakAdmin, representation: dict) -> str:
    """'created', 'replaced' or 'unchanged': make the live realm match ``representation``."""
    current = realm_exists(admin, representation["realm"])
    if current is None:
        admin.create_realm(representation)
        return "created"
    wanted = representation["attributes"][FINGERPRINT_ATTRIBUTE]
    if (current.get("attributes") or {}).get(FINGERPRINT_ATTRIBUTE) == wanted:
        return "unchanged"
    replace_realm(admin, representation)
    return "replaced"


def missing_login_theme(admin: KeycloakAdmin, representation: dict) -> str | None:
    """The realm's login theme if this Keycloak does not have it, else None. Keycloak takes a realm
    naming a theme it lacks, and shows its built-in theme instead (no "Glemt adgangskode?" link)."""
    theme = representation.get("loginTheme")
    if not theme:
        return None
    available = {found["name"] for found in admin.get_server_info().get("themes", {}).get("login", [])}
    return None if theme in available else theme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev/keycloak_realm.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["ensure", "replace"])
    options = parser.parse_args(argv)
    url = os.environ.get("DANBIO_KEYCLOAK_URL") or "http://127.0.0.1:8180"
    name = os.environ.get("DANBIO_KEYCLOAK_REALM") or "danbio"
    admin = master_admin(url, username=os.environ.get("DANBIO_KC_ADMIN_USER") or "admin",
                         password=os.environ.get("DANBIO_KC_ADMIN_PASSWORD") or "admin")
    representation = realm_representation(dev_values(), name=name)
    # Development only: the simulated MitID and regional IdPs (issue 8), and realm danbio's
    # identity providers pointing at them (dev/keycloak_upstreams.py).
    sys.path.insert(0, str(REPO))
    from dev import keycloak_upstreams

    sim_values = keycloak_upstreams.sim_values(url, name)
    keycloak_upstreams.add_identity_providers(representation, sim_values)
    for upstream, upstream_outcome in keycloak_upstreams.ensure_upstreams(admin, sim_values).items():
        print(f"keycloak realm {upstream} (simulated upstream IdP): {upstream_outcome}")
    if options.command == "replace":
        replace_realm(admin, representation)
        outcome = "replaced"
    else:
        outcome = ensure_realm(admin, representation)
    messages = {"created": "created from the realm file", "unchanged": "matches the realm file",
                "replaced": "re-created from the changed realm file (its users were deleted)"}
    print(f"keycloak realm {name} at {url}: {messages[outcome]}")
    theme = missing_login_theme(admin, representation)
    if theme:
        print(f"warning: Keycloak at {url} has no login theme {theme!r} (deploy/keycloak/themes): its login page "
              "lacks the \"Glemt adgangskode?\" link until it is restarted with dev/servers/keycloak.sh",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
