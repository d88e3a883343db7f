"""deploy/compose/compose.yaml, checked without Docker: the Compose Specification's JSON schema
(shipped by check-jsonschema), its references, and — with a .env made by generate-env.sh and the
file's ${...} interpolated as Compose does — every danbio container's settings load."""
import json
import re
import subprocess
from importlib import resources

import jsonschema
import pytest
import yaml

from servicekit.config import load

from . import manifests
from .test_k8s_settings import settings_class

COMPOSE_DIR = manifests.ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def compose_document():
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def read_env_file(path) -> dict[str, str]:
    """Compose's .env: KEY=value, single-quoted values taken literally."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(node, env):
    """${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR and $$, as Compose does."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if not isinstance(node, str):
        return node

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3)
        value = env.get(name)
        unset = value is None or (operator in (":-", ":?") and value == "")
        if operator in (":-", "-") and unset:
            return argument
        if operator in (":?", "?") and unset:
            raise AssertionError(f"${{{name}}} is required: {argument}")
        if value is None:
            raise AssertionError(f"${{{name}}} is not set and has no default")
        return value
    return INTERPOLATION.sub(replace, node)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run(["bash", str(COMPOSE_DIR / "generate-env.sh"), "--output", str(path)],
                   check=True, capture_output=True, text=True, timeout=60)
    return read_env_file(path)


def test_compose_file_follows_the_compose_specification():
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose_document())]
    assert not errors, "\n".join(errors)


def test_every_reference_in_the_compose_file_resolves():
    document = compose_document()
    services, volumes = document["services"], document.get("volumes", {})
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in volumes, f"{name}: volume {source} is not declared"
        image = service["image"]
        assert manifests.image_tag(image) not in (None, "latest"), f"{name}: {image} is not pinned"
        if "build" in service:
            context = (COMPOSE_DIR / service["build"]["context"]).resolve()
            assert context == manifests.ROOT, f"{name}: build context must be the repository root"
            dockerfile = service["build"]["dockerfile"]
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile} missing"
            assert dockerfile == f"services/{manifests.service_of(image)}/Dockerfile", name
        else:
            assert manifests.service_of(image) is None, f"{name}: our image without a build section"
    # Every process kind of every service is there.
    for service in manifests.SERVICES:
        assert service in services
    for service in ("identity", "patients", "notifications"):
        assert services[f"{service}-worker"]["command"] == ["python", "-m", service, "worker"]
    for service in manifests.DATA_SERVICES:
        assert f"{service}-migrate" in services


def test_every_variable_the_compose_file_needs_comes_from_generate_env(env_file):
    interpolate(compose_document(), env_file)  # raises on a required variable left unset
    needed = {m.group(1) for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text(encoding="utf-8")) if m.group(1)}
    optional = {m.group(1) for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text(encoding="utf-8"))
                if m.group(1) and m.group(2) in (":-", "-")}
    assert needed - optional <= set(env_file), sorted(needed - optional - set(env_file))
    assert set(env_file) <= needed, f"generate-env.sh writes unused {sorted(set(env_file) - needed)}"


def test_every_danbio_container_starts_with_its_compose_environment(env_file):
    services = interpolate(compose_document(), env_file)["services"]
    checked = set()
    for name, service in services.items():
        kind = manifests.service_of(service["image"])
        if not kind:
            continue
        environment = {key: str(value) for key, value in service["environment"].items()}
        settings = load(settings_class(kind), kind, environment)
        if kind == "web":
            settings.check()
        checked.add(kind)
    assert checked == set(manifests.SERVICES)


def test_databases_keycloak_and_realm_agree(env_file):
    services = interpolate(compose_document(), env_file)["services"]
    init_script = (COMPOSE_DIR / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    (databases_line,) = [line for line in init_script.splitlines() if line.startswith("for database in")]
    created = set(databases_line.split(" in ", 1)[1].rstrip("; do").split())
    postgres_env = services["postgres"]["environment"]
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            match = re.fullmatch(r"postgresql://(\w+):([^@]+)@postgres:5432/(\w+)", str(value))
            if match:
                user, password, database = match.groups()
                assert user == database and database in created, f"{name}: {key}"
                assert postgres_env[f"{database.upper()}_DB_PASSWORD"] == password, f"{name}: {key} password"
    keycloak = services["keycloak"]["environment"]
    assert keycloak["KC_DB_PASSWORD"] == postgres_env["KEYCLOAK_DB_PASSWORD"] and "keycloak" in created
    realm_text = (manifests.ROOT / "deploy" / "keycloak" / "realm-danbio.json").read_text(encoding="utf-8")
    for placeholder in set(re.findall(r"\$\{(DANBIO_[A-Z0-9_]+)\}", realm_text)):
        assert keycloak.get(placeholder), f"Keycloak would keep the literal ${{{placeholder}}} as a secret"
    assert services["identity"]["environment"]["IDENTITY_KEYCLOAK_CLIENT_SECRET"] == keycloak["DANBIO_KC_IDENTITY_SECRET"]
    assert services["web"]["environment"]["DANBIO_KC_WEB_SECRET"] == keycloak["DANBIO_KC_WEB_SECRET"]
    issuer = f"{keycloak['KC_HOSTNAME']}/realms/danbio"
    assert services["gateway"]["environment"]["GATEWAY_ISSUER"] == issuer
    assert services["web"]["environment"]["WEB_OIDC_ISSUER"] == issuer
    realm = json.loads(realm_text)
    (web_client,) = [c for c in realm["clients"] if c["clientId"] == "web"]
    assert f"{services['web']['environment']['WEB_PUBLIC_URL']}/auth/callback" in web_client["redirectUris"]
