"""Every overlay renders with kustomize, and every object it renders is valid: Kubernetes' kinds
against kubernetes-validate's schemas, the operators' resources against the vendored CRD schemas."""
import copy

import pytest
import yaml

from . import manifests, schemas


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_overlay_renders_the_whole_system(overlay):
    objects = manifests.render(overlay)
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "Deployment", "Job", "Service", "ConfigMap", "PodDisruptionBudget",
            "HorizontalPodAutoscaler", "NetworkPolicy", "Ingress", "Cluster", "RabbitmqCluster",
            "Keycloak", "KeycloakRealmImport"} <= kinds
    namespaces = {obj["metadata"]["name"] for obj in manifests.by_kind(objects, "Namespace")}
    assert len(namespaces) == 1
    (namespace,) = namespaces
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, f"{obj['kind']}/{obj['metadata']['name']}"
    # The hosts ConfigMap only feeds replacements; it must not be deployed.
    assert not [cm for cm in manifests.by_kind(objects, "ConfigMap") if cm["metadata"]["name"] == "danbio-hosts"]


@pytest.mark.parametrize("version", schemas.KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_every_object_matches_its_schema(overlay, version):
    failures = {}
    for obj in manifests.render(overlay):
        found = schemas.problems(obj, version)
        if found:
            failures[f"{obj['kind']}/{obj['metadata']['name']}"] = found
    assert not failures, yaml.safe_dump(failures)


def test_validation_is_strict_for_built_in_and_custom_kinds():
    """A misspelt field must fail, or the test above proves nothing."""
    objects = manifests.render("prod")
    deployment = copy.deepcopy(manifests.find(objects, "Deployment", "identity"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    cluster = copy.deepcopy(manifests.find(objects, "Cluster", "identity-db"))
    cluster["spec"]["primaryUpdateStrategy"] = "whenever"
    keycloak = copy.deepcopy(manifests.find(objects, "Keycloak", "keycloak"))
    keycloak["spec"]["hostnme"] = {}
    rabbit = copy.deepcopy(manifests.find(objects, "RabbitmqCluster", "rabbitmq"))
    rabbit["spec"]["replicas"] = "three"
    realm_import = copy.deepcopy(manifests.find(objects, "KeycloakRealmImport", "danbio"))
    del realm_import["spec"]["keycloakCRName"]
    for broken in (deployment, cluster, keycloak, rabbit, realm_import):
        assert schemas.problems(broken, schemas.KUBERNETES_VERSIONS[0]), broken["kind"]
    unknown = {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    assert schemas.problems(unknown, schemas.KUBERNETES_VERSIONS[0])


def test_every_vendored_crd_has_its_provenance_recorded():
    readme = (manifests.CRD_DIR / "README.md").read_text(encoding="utf-8")
    for path in manifests.CRD_DIR.glob("*.yaml"):
        assert path.name in readme, f"{path.name} is not described in crds/README.md"
    used = {(obj["apiVersion"], obj["kind"]) for overlay in manifests.OVERLAYS for obj in manifests.render(overlay)}
    assert set(schemas.vendored_crds()) <= used, "a vendored CRD nothing uses"
