"""Rendering the Kubernetes overlays and reading what they hold (used by the tests in this folder).

Pure functions over the rendered objects, plus the one subprocess that renders them (kustomize,
installed into the cache by deploy/k8s/tools/kustomize.sh).
"""
from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
KUSTOMIZE_SCRIPT = K8S / "tools" / "kustomize.sh"
SECRETS_FILE = K8S / "secrets.yaml"
CRD_DIR = K8S / "crds"

# Our own images: one per service, built from services/<name>/Dockerfile.
SERVICES = ("identity", "patients", "notifications", "gateway", "web")
DATA_SERVICES = ("identity", "patients", "notifications", "web")  # each owns a database


def web_command(service: str) -> list[str]:
    """A service's web process: gunicorn with servicekit's settings; the gateway on Granian
    (gateway/server.py), with the same BIND / WEB_* environment."""
    if service == "gateway":
        return ["python", "-m", "gateway", "serve"]
    return ["gunicorn", "-c", "python:servicekit.gunicorn_conf", f"{service}.app:create_app()"]
WORKLOAD_KINDS = ("Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob")


@functools.lru_cache(maxsize=1)
def kustomize_binary() -> str:
    """Install (once, into the cache) and return kustomize; a failure is a test failure."""
    result = subprocess.run(["bash", str(KUSTOMIZE_SCRIPT)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"could not install kustomize:\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1]


@functools.lru_cache(maxsize=None)
def render(overlay: str) -> tuple[dict, ...]:
    result = subprocess.run([kustomize_binary(), "build", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build overlays/{overlay} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def by_kind(objects, kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def find(objects, kind: str, name: str) -> dict:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError(f"{kind}/{name} is not in the rendered output")


def pod_templates(objects) -> Iterator[tuple[dict, dict]]:
    """(workload, pod template) for every object that makes pods."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield obj, obj["spec"]["template"]
        elif obj["kind"] == "CronJob":
            yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]


def containers(pod_spec: dict) -> list[dict]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def service_of(image: str) -> str | None:
    """The danbio service an image is of ("[registry/]danbio/<service>:<tag>"), else None."""
    path = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image.split("@", 1)[0]
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == "danbio" and parts[-1] in SERVICES:
        return parts[-1]
    return None


def image_tag(image: str) -> str | None:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1]
    return last.split(":", 1)[1] if ":" in last else None


# --- label selectors -----------------------------------------------------------------------------

def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A metav1.LabelSelector against labels; None matches nothing, {} everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator}")
    return True


# --- secrets -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def declared_secrets() -> dict[str, dict]:
    document = yaml.safe_load(SECRETS_FILE.read_text(encoding="utf-8"))
    return {entry["name"]: entry for entry in document["secrets"]}


def secret_references(objects) -> set[tuple[str, str | None, str]]:
    """(secret, key or None for the whole Secret, where) for every Secret the objects read."""
    refs: set[tuple[str, str | None, str]] = set()
    for workload, template in pod_templates(objects):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = template["spec"]
        for container in containers(spec):
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"], where))
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    refs.add((source["secretRef"]["name"], None, where))
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                refs.add((volume["secret"]["secretName"], None, where))
    for ingress in by_kind(objects, "Ingress"):
        for tls in ingress["spec"].get("tls", []):
            for key in ("tls.crt", "tls.key"):
                refs.add((tls["secretName"], key, f"Ingress/{ingress['metadata']['name']}"))
    for keycloak in by_kind(objects, "Keycloak"):
        db = keycloak["spec"].get("db", {})
        for field in ("usernameSecret", "passwordSecret"):
            if field in db:
                refs.add((db[field]["name"], db[field]["key"], f"Keycloak/{keycloak['metadata']['name']}"))
    for realm_import in by_kind(objects, "KeycloakRealmImport"):
        for placeholder in (realm_import["spec"].get("placeholders") or {}).values():
            secret = placeholder["secret"]
            refs.add((secret["name"], secret["key"], f"KeycloakRealmImport/{realm_import['metadata']['name']}"))
    return refs


# --- environment as Kubernetes builds it ---------------------------------------------------------

_DEPENDENT = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: earlier variables only; $$ escapes; unknown references stay."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))
    return _DEPENDENT.sub(replace, value)


def container_environment(container: dict, objects, secret_values: dict[tuple[str, str], str]) -> dict[str, str]:
    """The environment a container starts with: envFrom first, then env in order (with $(VAR))."""
    config_maps = {cm["metadata"]["name"]: cm.get("data", {}) for cm in by_kind(objects, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        elif "secretRef" in source:
            name = source["secretRef"]["name"]
            env.update({key: value for (secret, key), value in secret_values.items() if secret == name})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
            continue
        source = item["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = secret_values[(ref["name"], ref["key"])]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]][ref["key"]]
        else:
            raise AssertionError(f"unsupported env source {source}")
    return env
