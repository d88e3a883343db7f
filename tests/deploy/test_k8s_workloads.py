"""The rules every workload in every overlay follows: probes on the real endpoints, non-root and
read-only, limits, pinned images, a PodDisruptionBudget, an autoscaled web process, a migration
Job per database, declared Secrets, and a NetworkPolicy over every pod."""
import pytest

from servicekit.config import ProcessSettings, load
from servicekit.web import create_service_app

from . import manifests

OVERLAYS = manifests.OVERLAYS


def workloads(overlay):
    return list(manifests.pod_templates(manifests.render(overlay)))


def name_of(workload):
    return f"{workload['kind']}/{workload['metadata']['name']}"


def operations_paths() -> set[str]:
    """The routes every danbio web process serves without a principal (servicekit.web)."""
    app = create_service_app(load(ProcessSettings, "probe-check", {}), title="probe check", blueprints=[],
                             readiness={}, openapi=False)
    return {rule.rule for rule in app.url_map.iter_rules()}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_serving_container_has_startup_liveness_and_readiness_probes(overlay):
    served = operations_paths()
    assert {"/healthz", "/readyz"} <= served
    for workload, template in workloads(overlay):
        for container in manifests.containers(template["spec"]):
            where = f"{name_of(workload)} {container['name']}"
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            if not ports:
                # Workers and jobs serve nothing: the process itself exits when it fails.
                assert not any(k in container for k in ("startupProbe", "livenessProbe", "readinessProbe")), where
                assert workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] in (
                    "worker", "migrate"), where
                continue
            assert ports == {"http": 8000}, where  # BIND=0.0.0.0:8000 in every image
            expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
            for probe, path in expected.items():
                assert probe in container, f"{where}: no {probe}"
                http_get = container[probe]["httpGet"]
                assert http_get["path"] == path and http_get["path"] in served, where
                assert http_get["port"] in ports or http_get["port"] in ports.values(), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_non_root_read_only_without_capabilities(overlay):
    for workload, template in workloads(overlay):
        spec = template["spec"]
        where = name_of(workload)
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, where
        assert pod_security.get("runAsUser", 0) != 0, where
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), where
        tmp_volumes = {volume["name"] for volume in spec.get("volumes", []) if "emptyDir" in volume}
        for container in manifests.containers(spec):
            security = container.get("securityContext", {})
            here = f"{where} {container['name']}"
            assert security.get("runAsNonRoot") is True, here
            assert security.get("readOnlyRootFilesystem") is True, here
            assert security.get("allowPrivilegeEscalation") is False, here
            assert security.get("capabilities", {}).get("drop") == ["ALL"], here
            assert not security.get("capabilities", {}).get("add"), here
            assert not security.get("privileged"), here
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in tmp_volumes, f"{here}: /tmp must be an emptyDir (read-only root)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits_and_a_pinned_image(overlay):
    for workload, template in workloads(overlay):
        for container in manifests.containers(template["spec"]):
            here = f"{name_of(workload)} {container['name']}"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{here}: {bound}"
            image = container["image"]
            tag = manifests.image_tag(image)
            assert tag and tag != "latest", f"{here}: image {image} is not pinned"
            assert manifests.service_of(image), f"{here}: {image} is not one of our images"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_operator_images_are_pinned(overlay):
    objects = manifests.render(overlay)
    images = [obj["spec"]["imageName"] for obj in manifests.by_kind(objects, "Cluster")]
    images += [obj["spec"]["image"] for obj in manifests.by_kind(objects, "RabbitmqCluster")]
    images += [obj["spec"]["image"] for obj in manifests.by_kind(objects, "Keycloak")]
    for image in images:
        tag = manifests.image_tag(image)
        assert tag and tag != "latest" and any(ch.isdigit() for ch in tag), image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_its_processes_and_their_companions(overlay):
    objects = manifests.render(overlay)
    deployments = {d["metadata"]["name"]: d for d in manifests.by_kind(objects, "Deployment")}
    jobs = {j["metadata"]["name"]: j for j in manifests.by_kind(objects, "Job")}
    services = manifests.by_kind(objects, "Service")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in manifests.by_kind(objects, "HorizontalPodAutoscaler")}
    pdbs = manifests.by_kind(objects, "PodDisruptionBudget")
    clusters = {c["metadata"]["name"] for c in manifests.by_kind(objects, "Cluster")}

    def pod_labels(workload):
        return workload["spec"]["template"]["metadata"]["labels"]

    for service in manifests.SERVICES:
        assert service in deployments, f"{service}: no web Deployment"
        assert service in hpas, f"{service}: no HorizontalPodAutoscaler"
        web = deployments[service]
        command = web["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command == manifests.web_command(service), service
        assert "replicas" not in web["spec"], f"{service}: the HPA owns the web replicas"
        hpa = hpas[service]
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert [s for s in services if manifests.selector_matches({"matchLabels": s["spec"]["selector"]},
                                                                   pod_labels(web))], f"{service}: no Service"
        workers = [d for d in deployments.values() if d["metadata"]["name"] == f"{service}-worker"]
        if service in ("identity", "patients", "notifications"):
            (worker,) = workers
            assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == [
                "python", "-m", service, "worker"]
            assert worker["spec"]["replicas"] >= 1
        else:
            assert not workers, f"{service} has no worker process"
        for workload in [web, *workers]:
            assert [p for p in pdbs if manifests.selector_matches(p["spec"]["selector"], pod_labels(workload))], (
                f"{workload['metadata']['name']}: no PodDisruptionBudget")
        if service in manifests.DATA_SERVICES:
            assert f"{service}-migrate" in jobs, f"{service}: no migration Job"
            job = jobs[f"{service}-migrate"]
            spec = job["spec"]["template"]["spec"]
            commands = [c["command"] for c in manifests.containers(spec)]
            assert commands[0] == ["python", "-m", service, "migrate"], service
            assert spec["restartPolicy"] in ("OnFailure", "Never")
            assert f"{service}-db" in clusters, f"{service}: no database"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_key_referenced_is_declared_and_every_declared_one_is_used(overlay):
    declared = manifests.declared_secrets()
    references = manifests.secret_references(manifests.render(overlay))
    for secret, key, where in references:
        assert secret in declared, f"{where} reads Secret {secret}, which deploy/k8s/secrets.yaml does not list"
        assert key is not None, f"{where} reads all of Secret {secret}: reference its keys one by one"
        assert key in declared[secret]["keys"], f"{where} reads {secret}/{key}, not listed in secrets.yaml"
    used = {(secret, key) for secret, key, _ in references}
    listed = {(name, key) for name, entry in declared.items() for key in entry["keys"]}
    assert listed - used == set(), "listed in secrets.yaml but read by nothing"
    assert not manifests.by_kind(manifests.render(overlay), "Secret"), "no Secret (or value) is committed"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_config_map_referenced_exists(overlay):
    objects = manifests.render(overlay)
    names = {cm["metadata"]["name"] for cm in manifests.by_kind(objects, "ConfigMap")}
    for workload, template in manifests.pod_templates(objects):
        for container in manifests.containers(template["spec"]):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in names, name_of(workload)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_covered_by_network_policies_both_ways(overlay):
    objects = manifests.render(overlay)
    policies = manifests.by_kind(objects, "NetworkPolicy")
    default_deny = [p for p in policies if p["spec"]["podSelector"] == {}
                    and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
                    and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert default_deny, "no default-deny policy over the whole namespace"
    for workload, template in manifests.pod_templates(objects):
        labels = template["metadata"]["labels"]
        own = [p for p in policies if p not in default_deny and p["spec"]["podSelector"] != {}
               and manifests.selector_matches(p["spec"]["podSelector"], labels)]
        assert [p for p in own if "Egress" in p["spec"]["policyTypes"]], (
            f"{name_of(workload)}: no NetworkPolicy allows what it must reach")
        component = labels["app.kubernetes.io/component"]
        if component == "web":
            assert [p for p in own if "Ingress" in p["spec"]["policyTypes"]], (
                f"{name_of(workload)}: no NetworkPolicy says who may reach it")
