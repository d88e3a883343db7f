"""Every container of ours starts: its environment, as Kubernetes builds it from the rendered
ConfigMaps and the declared Secrets, loads the service's own settings class, and no setting falls
back to a development default (a loopback address, an SQLite file, the embedded broker)."""
import dataclasses
import importlib
import subprocess

import pytest
import yaml

from servicekit.config import env_name, load

from . import manifests
from .secret_values import values_for_declared_secrets

SETTINGS = {
    "identity": "identity.settings:IdentitySettings",
    "patients": "patients.settings:PatientsSettings",
    "notifications": "notifications.settings:NotificationsSettings",
    "gateway": "gateway.settings:GatewaySettings",
    "web": "web.settings:WebSettings",
}
# Settings whose default is fine in a cluster, and why.
DEFAULT_IS_FINE = {
    ("web", "DANBIO_BROKER_URL"): "the web UI never touches the broker",
    ("notifications", "NOTIFICATIONS_SMS_OUTBOX_PATH"): "only read by the development SMS provider (outbox)",
    ("notifications", "NOTIFICATIONS_DEV_MAILBOX_DIR"): "only read by the development mailbox, which is off",
}
DEVELOPMENT_MARKS = ("127.0.0.1", "localhost", "sqlite", "sqla+")
# Read by the web server (servicekit/gunicorn_conf.py, gateway/server.py), or only there to build
# another variable.
READ_ELSEWHERE = {"BIND", "WEB_CONCURRENCY", "WEB_THREADS", "WEB_TIMEOUT", "FORWARDED_ALLOW_IPS",
                  "RABBITMQ_USERNAME", "RABBITMQ_PASSWORD"}
# Optional for the service, but a cluster without them is broken.
MUST_BE_SET = {"identity": {"IDENTITY_KEYCLOAK_CLIENT_SECRET"}, "web": {"DANBIO_KC_WEB_SECRET"}}


def settings_class(service):
    module, name = SETTINGS[service].split(":")
    return getattr(importlib.import_module(module), name)


def danbio_containers(objects):
    for workload, template in manifests.pod_templates(objects):
        for container in manifests.containers(template["spec"]):
            service = manifests.service_of(container["image"])
            if service:
                yield workload, container, service


def check_settings(service, environment, where):
    cls = settings_class(service)
    settings = load(cls, service, environment)
    known = {env_name(f, service) for f in dataclasses.fields(cls) if "env" in f.metadata}
    unread = set(environment) - known - READ_ELSEWHERE
    assert not unread, f"{where}: nothing reads {sorted(unread)} (a typo, or a setting that went away?)"
    for variable in MUST_BE_SET.get(service, ()):
        assert environment.get(variable), f"{where}: {variable} must be set"
    if service == "web":
        settings.check()  # https public address
    for field in dataclasses.fields(cls):
        if "env" not in field.metadata:
            continue
        variable = env_name(field, service)
        if variable in environment or (service, variable) in DEFAULT_IS_FINE:
            continue
        default = field.metadata["default"]
        shown = repr(getattr(settings, field.name)).lower()
        assert not callable(default), f"{where}: {variable} is not set and would be computed for development"
        assert not any(mark in shown for mark in DEVELOPMENT_MARKS), f"{where}: {variable} falls back to {shown}"
    return settings


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_every_container_of_ours_gets_a_complete_production_environment(overlay):
    objects = manifests.render(overlay)
    (namespace,) = [ns["metadata"]["name"] for ns in manifests.by_kind(objects, "Namespace")]
    secret_values = values_for_declared_secrets(namespace)
    environments: dict[str, dict[str, str]] = {}
    for workload, container, service in danbio_containers(objects):
        where = f"{workload['kind']}/{workload['metadata']['name']} {container['name']}"
        environment = manifests.container_environment(container, objects, secret_values)
        assert not [v for v in environment.values() if "$(" in v], f"{where}: unexpanded $(VAR)"
        settings = check_settings(service, environment, where)
        if hasattr(settings, "broker_url") and service != "web":
            assert settings.broker_url.startswith("amqp://") and "@rabbitmq:5672/" in settings.broker_url, where
        # One service, one configuration: web, worker and migration read the same settings.
        assert environments.setdefault(service, environment) == environment, f"{where} differs from its service"
    assert set(environments) == set(manifests.SERVICES)


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_the_hosts_agree_everywhere(overlay):
    objects = manifests.render(overlay)
    config = {cm["metadata"]["name"]: cm["data"] for cm in manifests.by_kind(objects, "ConfigMap")}
    ingress = manifests.find(objects, "Ingress", "danbio")
    web_host, api_host, login_host = (rule["host"] for rule in ingress["spec"]["rules"])
    assert ingress["spec"]["tls"][0]["hosts"] == [web_host, api_host, login_host]
    keycloak = manifests.find(objects, "Keycloak", "keycloak")
    realm = manifests.find(objects, "KeycloakRealmImport", "danbio")["spec"]["realm"]
    issuer = f"{keycloak['spec']['hostname']['hostname']}/realms/{realm['realm']}"
    assert issuer == f"https://{login_host}/realms/{realm['realm']}"
    assert config["gateway-config"]["GATEWAY_ISSUER"] == issuer
    assert config["web-config"]["WEB_OIDC_ISSUER"] == issuer
    public_url = config["web-config"]["WEB_PUBLIC_URL"]
    assert public_url == f"https://{web_host}"
    (web_client,) = [c for c in realm["clients"] if c["clientId"] == "web"]
    assert web_client["redirectUris"] == [f"{public_url}/auth/callback"]
    assert web_client["attributes"]["post.logout.redirect.uris"] == f"{public_url}/"
    assert config["notifications-config"]["NOTIFICATIONS_WEB_URL"] == public_url
    assert config["notifications-config"]["NOTIFICATIONS_SET_PASSWORD_URL"].startswith(f"{public_url}/")
    backends = {rule["host"]: {p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
                for rule in ingress["spec"]["rules"]}
    assert backends == {web_host: {"web"}, api_host: {"gateway"}, login_host: {"keycloak-service"}}


def test_dev_secrets_script_makes_every_secret_you_provide_in_a_form_the_services_accept():
    result = subprocess.run(["bash", str(manifests.K8S / "tools" / "dev-secrets.sh"), "danbio-dev"],
                            capture_output=True, text=True, timeout=60, check=True)
    made = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(result.stdout) if doc}
    yours = {name: entry for name, entry in manifests.declared_secrets().items() if entry["provider"] == "you"}
    assert {name: set(doc["stringData"]) for name, doc in made.items()} == {
        name: set(entry["keys"]) for name, entry in yours.items()}
    assert made["danbio-tls"]["type"] == "kubernetes.io/tls"
    objects = manifests.render("dev")
    secret_values = values_for_declared_secrets("danbio-dev")
    secret_values.update({(name, key): value for name, doc in made.items() for key, value in doc["stringData"].items()})
    for workload, container, service in danbio_containers(objects):
        environment = manifests.container_environment(container, objects, secret_values)
        check_settings(service, environment, f"{workload['metadata']['name']} {container['name']}")
