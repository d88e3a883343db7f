"""Validators for rendered objects: Kubernetes' own kinds against kubernetes-validate's bundled
schemas (strict: unknown fields fail), custom resources against the CRD subsets vendored in
deploy/k8s/crds (made strict the same way, their Kubernetes types resolved to the same bundle)."""
from __future__ import annotations

import copy
import functools
import json
import re
from importlib import resources

import jsonschema
import yaml
from referencing import Registry, Resource

from .manifests import CRD_DIR

# Validated against the oldest and the newest Kubernetes minor version we claim to support.
KUBERNETES_VERSIONS = ("1.30", "1.37")
DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
KUBERNETES_DEFINITION = "x-danbio-kubernetes-definition"


def _schema_dir(version: str):
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", f"v{version}.0-local-strict")


@functools.lru_cache(maxsize=None)
def _registry(version: str) -> Registry:
    definitions = json.loads(_schema_dir(version).joinpath("_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.lru_cache(maxsize=None)
def core_validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """kubernetes-validate's schema of a built-in kind, or None if it has none (a custom resource)."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(version).joinpath(f"{kind.lower()}-{group_version}.json")
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=Resource.from_contents(schema) @ _registry(version))


def _strict(node):
    """What the API server does with field validation Strict: unknown fields are errors. Nodes that
    name a Kubernetes type become references to kubernetes-validate's (strict) schema of it."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if KUBERNETES_DEFINITION in node:
        return {"$ref": f"{DEFINITIONS_ID}#/$defs/{node[KUBERNETES_DEFINITION]}"}
    node = {key: _strict(value) for key, value in node.items()}
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        node["additionalProperties"] = False
    return node


@functools.lru_cache(maxsize=1)
def vendored_crds() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the openAPIV3Schema of every vendored CRD version."""
    crds = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert crd["kind"] == "CustomResourceDefinition", path
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            crds[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return crds


@functools.lru_cache(maxsize=None)
def crd_validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    schema = vendored_crds().get((api_version, kind))
    if schema is None:
        return None
    schema = _strict(copy.deepcopy(schema))
    schema.setdefault("properties", {})
    schema["properties"].update({
        "apiVersion": {"type": "string", "enum": [api_version]},
        "kind": {"type": "string", "enum": [kind]},
        "metadata": {"$ref": f"{DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
    })
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def problems(obj: dict, version: str) -> list[str]:
    """Every schema violation of obj, or a single line saying no schema knows its kind."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    validator = core_validator(version, api_version, kind) or crd_validator(version, api_version, kind)
    if validator is None:
        return [f"no schema for {api_version} {kind} (neither Kubernetes' nor a vendored CRD)"]
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in validator.iter_errors(obj)]
