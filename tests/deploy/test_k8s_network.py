"""Who can reach whom, computed from the rendered NetworkPolicies the way the API defines them
(a pod selected by a policy of a type accepts only what some rule of that type allows; both the
sender's egress and the receiver's ingress must allow a connection), over every pod we deploy,
every pod the operators make for us (by the labels they give them), and pods in other namespaces.

The expected set is the whole truth: anything reachable that is not listed fails, and so does
anything listed that is not reachable."""
from dataclasses import dataclass, field

import pytest

from . import manifests

INGRESS_NAMESPACE = "ingress-nginx"


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict = field(hash=False, compare=False)
    ports: tuple[int, ...] = ()


def our_pods(objects, namespace):
    pods = []
    for workload, template in manifests.pod_templates(objects):
        ports = tuple(port["containerPort"] for c in manifests.containers(template["spec"]) for port in c.get("ports", []))
        labels = template["metadata"]["labels"]
        pods.append(Pod(f"{labels['app.kubernetes.io/name']}-{labels['app.kubernetes.io/component']}",
                        namespace, labels, ports))
    for cluster in manifests.by_kind(objects, "Cluster"):
        name = cluster["metadata"]["name"]
        pods.append(Pod(name, namespace, {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}, (5432, 8000)))
    pods.append(Pod("rabbitmq", namespace, {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/component": "rabbitmq",
                                            "app.kubernetes.io/part-of": "rabbitmq"}, (5672, 15672, 4369, 25672)))
    keycloak_labels = {"app.kubernetes.io/managed-by": "keycloak-operator", "app.kubernetes.io/instance": "keycloak"}
    pods.append(Pod("keycloak", namespace, {"app": "keycloak", **keycloak_labels}, (8080, 9000, 7800, 57800)))
    pods.append(Pod("keycloak-realm-import", namespace, {"app": "keycloak-realm-import", **keycloak_labels}))
    pods.append(Pod("keycloak-operator", namespace, {"app.kubernetes.io/name": "keycloak-operator"}, (8080,)))
    return pods


OTHER_PODS = [
    Pod("ingress-controller", INGRESS_NAMESPACE, {"app.kubernetes.io/name": "ingress-nginx"}, (80, 443)),
    Pod("cnpg-operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}),
    Pod("rabbitmq-operator", "rabbitmq-system", {"app.kubernetes.io/name": "rabbitmq-cluster-operator"}),
    Pod("stranger", "default", {"app": "stranger"}, (8000,)),
]


def namespace_labels(namespace):
    return {"kubernetes.io/metadata.name": namespace}


def peer_matches(peer, policy_namespace, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # addresses outside the cluster; checked separately below
    if "namespaceSelector" in peer:
        if not manifests.selector_matches(peer["namespaceSelector"], namespace_labels(pod.namespace)):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return manifests.selector_matches(peer.get("podSelector", {}), pod.labels)


def port_matches(rule, port) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") in (None, port) and p.get("protocol", "TCP") == "TCP" for p in ports)


def allowed(policies, direction, pod: Pod, other: Pod, port: int) -> bool:
    """Whether pod's policies of this direction let it talk with other (on port)."""
    kind, rules_key, peers_key = ("Ingress", "ingress", "from") if direction == "in" else ("Egress", "egress", "to")
    selecting = [p for p in policies if p["metadata"]["namespace"] == pod.namespace
                 and kind in p["spec"]["policyTypes"] and manifests.selector_matches(p["spec"]["podSelector"], pod.labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(rules_key, []):
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers)) \
                    and port_matches(rule, port):
                return True
    return False


def reachable(objects, namespace):
    policies = manifests.by_kind(objects, "NetworkPolicy")
    pods = our_pods(objects, namespace) + OTHER_PODS
    edges = set()
    for source in pods:
        for target in pods:
            for port in target.ports:
                if allowed(policies, "out", source, target, port) and allowed(policies, "in", target, source, port):
                    edges.add((source.name, target.name, port))
    return edges


def expected_edges():
    edges = set()
    everywhere = ("ingress-controller", "cnpg-operator", "rabbitmq-operator", "stranger")
    # Pods outside our namespace are not ours to restrict: they reach each other freely.
    for source in everywhere:
        for target, ports in (("ingress-controller", (80, 443)), ("stranger", (8000,))):
            edges |= {(source, target, port) for port in ports}
    # In from outside: browsers and API clients, through the ingress controller only.
    edges |= {("ingress-controller", "web-web", 8000), ("ingress-controller", "gateway-web", 8000),
              ("ingress-controller", "keycloak", 8080)}
    # The web UI: its sessions, the gateway, Keycloak (directly and through the ingress, its public issuer).
    edges |= {("web-web", "web-db", 5432), ("web-web", "gateway-web", 8000), ("web-web", "keycloak", 8080),
              ("web-web", "ingress-controller", 80), ("web-web", "ingress-controller", 443),
              ("web-migrate", "web-db", 5432)}
    # The gateway: the services it routes to, Keycloak's keys, the broker (cache invalidation).
    edges |= {("gateway-web", f"{s}-web", 8000) for s in ("identity", "patients", "notifications")}
    edges |= {("gateway-web", "keycloak", 8080), ("gateway-web", "rabbitmq", 5672)}
    # Each data service: its own database from every process; the broker from web and worker.
    for service in ("identity", "patients", "notifications"):
        for component in ("web", "worker", "migrate"):
            edges.add((f"{service}-{component}", f"{service}-db", 5432))
        for component in ("web", "worker"):
            edges.add((f"{service}-{component}", "rabbitmq", 5672))
    # identity keeps Keycloak in step (admin API).
    edges |= {("identity-web", "keycloak", 8080), ("identity-worker", "keycloak", 8080)}
    # Keycloak: its database (also for the realm import), its peers' cache.
    edges |= {("keycloak", "keycloak-db", 5432), ("keycloak-realm-import", "keycloak-db", 5432),
              ("keycloak", "keycloak", 7800), ("keycloak", "keycloak", 57800)}
    # Databases: replication and status among their own instances; the operator.
    for db in ("identity-db", "patients-db", "notifications-db", "web-db", "keycloak-db"):
        edges |= {(db, db, 5432), (db, db, 8000), ("cnpg-operator", db, 5432), ("cnpg-operator", db, 8000)}
    # The broker: its nodes among themselves, the operators' management calls.
    edges |= {("rabbitmq", "rabbitmq", port) for port in (5672, 15672, 4369, 25672)}
    edges.add(("rabbitmq-operator", "rabbitmq", 15672))
    return edges


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_reachability_is_exactly_what_the_design_allows(overlay):
    objects = manifests.render(overlay)
    (namespace,) = [ns["metadata"]["name"] for ns in manifests.by_kind(objects, "Namespace")]
    actual, expected = reachable(objects, namespace), expected_edges()
    assert sorted(actual - expected) == [], "reachable, but should not be"
    assert sorted(expected - actual) == [], "should be reachable, but is not"


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_only_the_pods_that_must_leave_the_cluster_may(overlay):
    """Egress to addresses (ipBlock): the Kubernetes API for the operators' pods, the identity
    providers for Keycloak, the mail relay and SMS gateway for the notifications worker."""
    objects = manifests.render(overlay)
    external = {}
    for policy in manifests.by_kind(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            if any("ipBlock" in peer for peer in rule.get("to", [])):
                ports = tuple(sorted(p["port"] for p in rule.get("ports", [])))
                assert ports, f"{policy['metadata']['name']}: egress to addresses on every port"
                external.setdefault(policy["metadata"]["name"], set()).add(ports)
    api = {(443, 6443)}
    assert external == {
        "identity-db": api, "patients-db": api, "notifications-db": api, "web-db": api, "keycloak-db": api,
        "rabbitmq": api, "keycloak-operator": api,
        "keycloak": {(443,)},
        "notifications-worker-egress": {(25, 443, 465, 587)},
    }


def test_the_evaluator_notices_a_hole_and_a_wall():
    """Without the default deny and the database's own policy, anyone reaches the database; without
    the policy that admits the gateway, identity is cut off: the comparison above catches both."""
    objects = manifests.render("prod")

    def without(*names):
        return [obj for obj in objects if not (obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] in names)]

    assert ("stranger", "identity-db", 5432) in reachable(without("default-deny", "identity-db"), "danbio") - expected_edges()
    assert ("gateway-web", "identity-web", 8000) in expected_edges() - reachable(without("identity-web-ingress"), "danbio")
