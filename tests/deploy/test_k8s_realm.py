"""The KeycloakRealmImport carries exactly deploy/keycloak/realm-danbio.json (the realm make run and
the Keycloak tests import), but for the web client's public addresses, with every secret
placeholder fed from a declared Secret."""
import copy
import json
import re
import subprocess
import sys

from . import manifests

REALM_FILE = manifests.ROOT / "deploy" / "keycloak" / "realm-danbio.json"
TOOL = manifests.K8S / "tools" / "realm_import.py"


def without_web_addresses(realm):
    realm = copy.deepcopy(realm)
    for client in realm["clients"]:
        if client["clientId"] == "web":
            client.pop("redirectUris")
            client.pop("baseUrl")  # the login theme's "Glemt adgangskode?" link goes there
            client["attributes"].pop("post.logout.redirect.uris")
    return realm


def test_generated_realm_import_is_up_to_date():
    result = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_realm_import_is_the_realm_file_with_public_addresses():
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    for overlay in manifests.OVERLAYS:
        imported = manifests.find(manifests.render(overlay), "KeycloakRealmImport", "danbio")
        assert imported["spec"]["keycloakCRName"] == manifests.find(manifests.render(overlay), "Keycloak", "keycloak")[
            "metadata"]["name"]
        assert without_web_addresses(imported["spec"]["realm"]) == without_web_addresses(realm)
        (web,) = [c for c in imported["spec"]["realm"]["clients"] if c["clientId"] == "web"]
        assert all(uri.startswith("https://") for uri in web["redirectUris"])
        assert web["baseUrl"].startswith("https://")


def test_every_secret_placeholder_of_the_realm_comes_from_a_declared_secret():
    text = REALM_FILE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(DANBIO_[A-Z0-9_]+)\}", text))
    assert used, "the realm file has no secret placeholders any more: update this test"
    imported = manifests.find(manifests.render("prod"), "KeycloakRealmImport", "danbio")
    placeholders = imported["spec"]["placeholders"]
    assert set(placeholders) == used
    declared = manifests.declared_secrets()
    for name, placeholder in placeholders.items():
        secret = placeholder["secret"]
        assert secret["key"] in declared[secret["name"]]["keys"], name
