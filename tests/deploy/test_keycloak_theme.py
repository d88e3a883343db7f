"""Realm danbio's login theme (deploy/keycloak/themes/danbio: the "Glemt adgangskode?" link) goes
wherever Keycloak runs: the Keycloak image of the Kubernetes manifests, the compose file, and the
local Keycloak of dev/servers/keycloak.sh; and its link points at the web UI everywhere. What the
page shows is tested against a real Keycloak in tests/keycloak/test_login_theme.py and in the
browser in tests/e2e/test_browser_keycloak_reset_link.py."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from . import manifests
from .test_compose import compose_document
from .test_images import ignored

ROOT = manifests.ROOT
THEMES = ROOT / "deploy" / "keycloak" / "themes"
REALM = json.loads((ROOT / "deploy" / "keycloak" / "realm-danbio.json").read_text(encoding="utf-8"))
DOCKERFILE = ROOT / "deploy" / "keycloak" / "Dockerfile"
KEYCLOAK_SH = ROOT / "dev" / "servers" / "keycloak.sh"
# Keycloak's own login themes (org.keycloak.keycloak-themes, META-INF/keycloak-themes.json).
BUILT_IN_LOGIN_THEMES = {"base", "keycloak", "keycloak.v2"}


def properties(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def pinned_keycloak_version() -> str:
    return re.search(r"^KC_VERSION=(\S+)$", KEYCLOAK_SH.read_text(encoding="utf-8"), re.M).group(1)


def dockerfile_steps() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            steps.append((keyword.upper(), rest.strip()))
    return steps


def test_the_realm_selects_a_theme_of_ours_built_on_keycloaks_own():
    theme = REALM["loginTheme"]
    login = THEMES / theme / "login"
    assert (login / "theme.properties").is_file(), f"realm danbio uses login theme {theme!r}, not in {THEMES}"
    assert properties(login / "theme.properties")["parent"] in BUILT_IN_LOGIN_THEMES
    assert REALM["resetPasswordAllowed"] is False, "one reset flow (the web UI's, by SMS code), not Keycloak's too"


def test_the_link_is_danish_and_goes_to_the_web_uis_reset_page():
    login = THEMES / REALM["loginTheme"] / "login"
    assert properties(login / "messages" / "messages_da.properties")["danbioForgotPassword"] == "Glemt adgangskode?"
    assert properties(login / "messages" / "messages_en.properties")["danbioForgotPassword"]
    settings = properties(login / "theme.properties")
    # The path is the web UI's route of the reset's first page (services/web, account.forgot_password).
    reset = (ROOT / "services" / "web" / "web" / "account" / "reset.py").read_text(encoding="utf-8")
    route = re.search(r'@bp\.get\("([^"]+)"\)\ndef forgot_password\(', reset).group(1)
    assert "/" + settings["danbioPasswordResetPath"] == route
    (web,) = [client for client in REALM["clients"] if client["clientId"] == settings["danbioWebClientId"]]
    assert re.fullmatch(r"https?://[^/]+/", web["baseUrl"]), "the link needs the web client's absolute base URL"
    footer = (login / "footer.ftl").read_text(encoding="utf-8")
    assert 'msg("danbioForgotPassword")' in footer and "client.baseUrl" in footer
    assert not re.search(r"https?://[\w.-]+", footer), "no address written in the theme"


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_kubernetes_runs_our_keycloak_image_and_links_to_the_overlays_web_host(overlay):
    objects = manifests.render(overlay)
    keycloak = manifests.find(objects, "Keycloak", "keycloak")
    image = keycloak["spec"]["image"]
    assert image.split("@")[0].rsplit(":", 1)[0].endswith("/danbio/keycloak"), image
    assert keycloak["spec"]["startOptimized"] is True
    (web,) = [c for c in manifests.find(objects, "KeycloakRealmImport", "danbio")["spec"]["realm"]["clients"]
              if c["clientId"] == "web"]
    public_url = manifests.find(objects, "ConfigMap", "web-config")["data"]["WEB_PUBLIC_URL"]
    assert web["baseUrl"] == f"{public_url}/"
    assert web["redirectUris"] == [f"{public_url}/auth/callback"]


def test_keycloak_image_carries_the_theme_and_is_built_as_the_cr_runs_it():
    steps = dockerfile_steps()
    args = dict(rest.split("=", 1) for keyword, rest in steps if keyword == "ARG" and "=" in rest)
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0]) for keyword, rest in steps
             if keyword == "FROM"]
    assert len(froms) == 2, "a build stage (kc.sh build) and the runtime stage"
    assert set(froms) == {f"quay.io/keycloak/keycloak:{pinned_keycloak_version()}"}, froms
    copies = [rest.split() for keyword, rest in steps if keyword == "COPY" and not rest.startswith("--from=")]
    assert ["deploy/keycloak/themes/", "/opt/keycloak/themes/"] in copies
    for source, _ in copies:
        assert (ROOT / source).exists() and not ignored(source.rstrip("/")), f"COPY {source}: not in the build context"
    assert not ignored("deploy/keycloak/themes/danbio/login/footer.ftl")
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    keycloak = manifests.find(manifests.render("prod"), "Keycloak", "keycloak")
    assert f"KC_DB={keycloak['spec']['db']['vendor']}" in env
    assert "KC_HEALTH_ENABLED=true" in env, "the operator's probes use the health endpoints"
    assert any(keyword == "RUN" and "kc.sh build" in rest for keyword, rest in steps)
    runtime = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"):]
    assert ("COPY", "--from=build /opt/keycloak/ /opt/keycloak/") in runtime
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1] != "0" and users[-1].isdigit()


def test_compose_keycloak_mounts_the_themes():
    keycloak = compose_document()["services"]["keycloak"]
    assert "../keycloak/themes:/opt/keycloak/themes:ro" in keycloak["volumes"]
    assert keycloak["image"] == f"quay.io/keycloak/keycloak:{pinned_keycloak_version()}"


def test_local_keycloak_script_copies_the_themes_idempotently(tmp_path):
    """dev/servers/keycloak.sh themes (start does the same): every theme replaced as a whole, one it
    copied before and no longer has removed, anything else in themes/ left alone."""
    state = tmp_path / "state"
    home = state / "keycloak" / f"keycloak-{pinned_keycloak_version()}"
    (home / "themes" / "gone").mkdir(parents=True)
    (home / "themes" / "gone" / ".danbio-staged").touch()
    (home / "themes" / "someone-elses").mkdir()
    (home / ".danbio-unpacked").touch()  # an unpacked distribution: nothing to fetch
    stale = home / "themes" / REALM["loginTheme"] / "login" / "stale.ftl"
    stale.parent.mkdir(parents=True)
    stale.touch()
    env = {**os.environ, "DANBIO_STATE_DIR": str(state), "DANBIO_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):
        result = subprocess.run(["bash", str(KEYCLOAK_SH), "themes"], env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        staged = home / "themes" / REALM["loginTheme"]
        source_files = {p.relative_to(THEMES / REALM["loginTheme"]) for p in (THEMES / REALM["loginTheme"]).rglob("*")
                        if p.is_file()}
        staged_files = {p.relative_to(staged) for p in staged.rglob("*") if p.is_file()} - {Path(".danbio-staged")}
        assert staged_files == source_files
        for name in source_files:
            assert (staged / name).read_bytes() == (THEMES / REALM["loginTheme"] / name).read_bytes()
        assert not (home / "themes" / "gone").exists() and (home / "themes" / "someone-elses").is_dir()
        assert not [p for p in (home / "themes").iterdir() if p.name.startswith(".staging")]
