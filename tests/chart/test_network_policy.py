"""Least privilege on the network: the chart's NetworkPolicies, checked by evaluating them.

The test node's `bridge` plugin does not enforce NetworkPolicy, so the rendered policies go through
tests/support/network_policy.py, an evaluator of the API's semantics, which is itself tested first on the
Kubernetes documentation's examples. The pods are the real ones: Triton's and the operator's from the rendered
Deployments, the worker's from the operator's own children.py for the chart's example CameraChannel.
"""

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from footfall_operator.children import Owner, desired_children
from footfall_operator.crd import parse_spec
from footfall_operator.settings import WorkerDefaults
from tests.chart.test_chart import CHART, EXAMPLE_HOST, EXAMPLES, NAMESPACE, RELEASE, _env, by_kind, helm, render
from tests.support.network_policy import (
    Cluster,
    ContainerPort,
    Endpoint,
    External,
    Pod,
    cluster_from_api,
    pod_from_api,
    selects,
)

# -- the evaluator, on the Kubernetes documentation's examples ----------------------------------------------------


def _namespace_labels(**extra: dict[str, str]) -> dict[str, dict[str, str]]:
    names = ["default", "myproject", "other", "alice", "bob", *extra]
    return {name: {"kubernetes.io/metadata.name": name, **extra.get(name, {})} for name in names}


NAMESPACES = _namespace_labels(myproject={"project": "myproject"}, alice={"user": "alice"}, bob={"user": "bob"})
DB = Pod("db", "default", "10.1.0.10", {"role": "db"}, (ContainerPort(6379, "redis"),))
DB_7000 = Pod("db-2", "default", "10.1.0.14", {"role": "db"}, (ContainerPort(7000, "redis"),))
FRONTEND = Pod("frontend", "default", "10.1.0.11", {"role": "frontend"})
PROJECT_POD = Pod("tool", "myproject", "10.1.0.12")
OTHER_FRONTEND = Pod("frontend", "other", "10.1.0.13", {"role": "frontend"})
ALICE_CLIENT = Pod("client", "alice", "10.1.1.1", {"role": "client"})
ALICE_OTHER = Pod("other", "alice", "10.1.1.2", {"role": "other"})
BOB_CLIENT = Pod("client", "bob", "10.1.1.3", {"role": "client"})
DEFAULT_CLIENT = Pod("client", "default", "10.1.1.4", {"role": "client"})
PENDING = Pod("pending", "default", "", {"role": "frontend"})


def _policy(spec: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


# "The NetworkPolicy resource": ingress to role=db from an ipBlock with an exception, a namespace and a pod label
# on TCP 6379; egress from role=db to 10.0.0.0/24 on TCP 5978.
DOCS_EXAMPLE = _policy(
    {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                    {"podSelector": {"matchLabels": {"role": "frontend"}}},
                ],
                "ports": [{"protocol": "TCP", "port": 6379}],
            }
        ],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}],
    }
)
# "Behavior of to and from selectors": one peer with both selectors (AND) against two peers (OR)
AND_PEER = _policy(
    {
        "podSelector": {"matchLabels": {"role": "db"}},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"user": "alice"}},
                        "podSelector": {"matchLabels": {"role": "client"}},
                    }
                ]
            }
        ],
    }
)
OR_PEERS = _policy(
    {
        "podSelector": {"matchLabels": {"role": "db"}},
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"user": "alice"}}},
                    {"podSelector": {"matchLabels": {"role": "client"}}},
                ]
            }
        ],
    }
)
DENY_INGRESS = _policy({"podSelector": {}, "policyTypes": ["Ingress"]})
ALLOW_INGRESS = _policy({"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]})
DENY_EGRESS = _policy({"podSelector": {}, "policyTypes": ["Egress"]})
ALLOW_EGRESS = _policy({"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]})
DENY_ALL = _policy({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
# "Targeting a range of ports"
PORT_RANGE = _policy(
    {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}],
            }
        ],
    }
)
# "Targeting a Namespace by its name"
BY_NAMESPACE_NAME = _policy(
    {
        "podSelector": {"matchLabels": {"role": "db"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "myproject"}}}]}],
    }
)
# no policyTypes: Ingress always, Egress only because there are egress rules
DEFAULTED_EGRESS = _policy({"podSelector": {"matchLabels": {"role": "db"}}, "egress": [{"ports": [{"port": 53}]}]})
DEFAULTED_INGRESS = _policy({"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [{}], "egress": []})
NAMED_INGRESS = _policy({"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [{"ports": [{"port": "redis"}]}]})
NAMED_EGRESS = _policy(
    {
        "podSelector": {"matchLabels": {"role": "frontend"}},
        "policyTypes": ["Egress"],
        "egress": [{"ports": [{"port": "redis"}]}],
    }
)
ONLY_6379 = _policy({"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [{"ports": [{"port": 6379}]}]})
ONLY_7000 = _policy({"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [{"ports": [{"port": 7000}]}]})
FRONTEND_TO_10 = _policy(
    {
        "podSelector": {"matchLabels": {"role": "frontend"}},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}],
    }
)
DENY_ALL_OTHER = _policy(DENY_ALL["spec"], namespace="other")
ANY_IP_INGRESS = _policy({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})

SEMANTICS = [
    ("docs: a frontend pod reaches db:6379", [DOCS_EXAMPLE], FRONTEND, DB, 6379, "TCP", True),
    ("docs: another port is not in the rule", [DOCS_EXAMPLE], FRONTEND, DB, 6380, "TCP", False),
    ("docs: another protocol is not in the rule", [DOCS_EXAMPLE], FRONTEND, DB, 6379, "UDP", False),
    ("docs: any pod of a selected namespace", [DOCS_EXAMPLE], PROJECT_POD, DB, 6379, "TCP", True),
    ("docs: a podSelector alone is the policy's namespace", [DOCS_EXAMPLE], OTHER_FRONTEND, DB, 6379, "TCP", False),
    ("docs: inside the ipBlock", [DOCS_EXAMPLE], External("172.17.0.5"), DB, 6379, "TCP", True),
    ("docs: in the ipBlock's except", [DOCS_EXAMPLE], External("172.17.1.5"), DB, 6379, "TCP", False),
    ("docs: egress to the block's port", [DOCS_EXAMPLE], DB, External("10.0.0.5"), 5978, "TCP", True),
    ("docs: egress to another port", [DOCS_EXAMPLE], DB, External("10.0.0.5"), 5979, "TCP", False),
    ("docs: egress outside the block", [DOCS_EXAMPLE], DB, External("10.0.1.5"), 5978, "TCP", False),
    ("docs: db's egress is isolated, to pods too", [DOCS_EXAMPLE], DB, FRONTEND, 80, "TCP", False),
    ("docs: unselected pods are not isolated", [DOCS_EXAMPLE], FRONTEND, PROJECT_POD, 80, "TCP", True),
    ("AND: client in alice", [AND_PEER], ALICE_CLIENT, DB, 1, "TCP", True),
    ("AND: non-client in alice", [AND_PEER], ALICE_OTHER, DB, 1, "TCP", False),
    ("AND: client in the policy's namespace", [AND_PEER], DEFAULT_CLIENT, DB, 1, "TCP", False),
    ("OR: non-client in alice", [OR_PEERS], ALICE_OTHER, DB, 1, "TCP", True),
    ("OR: client in the policy's namespace", [OR_PEERS], DEFAULT_CLIENT, DB, 1, "TCP", True),
    ("OR: client in bob", [OR_PEERS], BOB_CLIENT, DB, 1, "TCP", False),
    ("default deny ingress", [DENY_INGRESS], FRONTEND, DB, 6379, "TCP", False),
    ("default deny ingress leaves egress", [DENY_INGRESS], DB, External("8.8.8.8"), 53, "UDP", True),
    ("policies add up: allow all ingress", [DENY_INGRESS, ALLOW_INGRESS], FRONTEND, DB, 6379, "TCP", True),
    ("default deny egress", [DENY_EGRESS], DB, External("8.8.8.8"), 53, "UDP", False),
    ("default deny egress leaves ingress", [DENY_EGRESS], External("8.8.8.8"), DB, 6379, "TCP", True),
    ("allow all egress", [DENY_EGRESS, ALLOW_EGRESS], DB, External("8.8.8.8"), 53, "UDP", True),
    ("default deny all", [DENY_ALL], External("8.8.8.8"), DB, 6379, "TCP", False),
    ("another namespace's policy selects none here", [DENY_ALL_OTHER], FRONTEND, DB, 1, "TCP", True),
    ("endPort: below the range", [PORT_RANGE], DB, External("10.0.0.5"), 31999, "TCP", False),
    ("endPort: its first port", [PORT_RANGE], DB, External("10.0.0.5"), 32000, "TCP", True),
    ("endPort: its last port", [PORT_RANGE], DB, External("10.0.0.5"), 32768, "TCP", True),
    ("endPort: above the range", [PORT_RANGE], DB, External("10.0.0.5"), 32769, "TCP", False),
    ("a namespace by its name", [BY_NAMESPACE_NAME], PROJECT_POD, DB, 1, "TCP", True),
    ("a namespace by its name, not another", [BY_NAMESPACE_NAME], FRONTEND, DB, 1, "TCP", False),
    ("policyTypes default: egress rules isolate egress", [DEFAULTED_EGRESS], DB, External("9.9.9.9"), 53, "TCP", True),
    ("policyTypes default: ...to those rules", [DEFAULTED_EGRESS], DB, External("9.9.9.9"), 80, "TCP", False),
    ("policyTypes default: ...and Ingress always", [DEFAULTED_EGRESS], FRONTEND, DB, 6379, "TCP", False),
    ("policyTypes default: egress [], no isolation", [DEFAULTED_INGRESS], DB, External("9.9.9.9"), 80, "TCP", True),
    ("named port: the destination's number", [NAMED_INGRESS], FRONTEND, DB, 6379, "TCP", True),
    ("named port: not another number", [NAMED_INGRESS], FRONTEND, DB, 7000, "TCP", False),
    ("named port: per pod", [NAMED_INGRESS], FRONTEND, DB_7000, 7000, "TCP", True),
    ("named port: per pod, not another's", [NAMED_INGRESS], FRONTEND, DB_7000, 6379, "TCP", False),
    ("named port: egress resolves on the destination", [NAMED_EGRESS], FRONTEND, DB, 6379, "TCP", True),
    ("named port: an outside address has none", [NAMED_EGRESS], FRONTEND, External("10.9.9.9"), 6379, "TCP", False),
    ("both directions: egress denies", [NAMED_EGRESS], FRONTEND, PROJECT_POD, 80, "TCP", False),
    ("both directions: ingress denies", [ONLY_7000], FRONTEND, DB, 6379, "TCP", False),
    ("two policies: one's port", [ONLY_6379, ONLY_7000], FRONTEND, DB, 6379, "TCP", True),
    ("two policies: the other's port", [ONLY_6379, ONLY_7000], FRONTEND, DB, 7000, "TCP", True),
    ("ipBlock matches pod IPs", [FRONTEND_TO_10], FRONTEND, DB, 6379, "TCP", True),
    ("ipBlock: a pod with no IP yet", [ANY_IP_INGRESS], PENDING, DB, 6379, "TCP", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policies", "source", "destination", "port", "protocol", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in SEMANTICS],
)
def test_the_evaluator_follows_the_api(
    policies: list[dict[str, Any]], source: Endpoint, destination: Endpoint, port: int, protocol: str, allowed: bool
):
    assert Cluster(tuple(policies), NAMESPACES).allows(source, destination, port, protocol) is allowed


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({}, {}, True),
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchLabels": {"a": "1"}}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "qa"]}]}, {"env": "qa"}, True),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "qa"]}]}, {"env": "dev"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {"env": "dev"}, True),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {"env": "prod"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": "x"}, False),
        (
            {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]},
            {"a": "1"},
            False,
        ),  # matchLabels AND matchExpressions
    ],
)
def test_label_selectors(selector: dict[str, Any], labels: dict[str, str], selected: bool):
    assert selects(selector, labels) is selected


# -- the chart's pods ---------------------------------------------------------------------------------------------

WORKER_IP, OTHER_WORKER_IP, TRITON_IP, OPERATOR_IP = "10.244.0.10", "10.244.0.11", "10.244.0.12", "10.244.0.13"
NODE = External("10.244.0.1")  # the test node (hack/cluster.sh): the API server's endpoint (6443) and its DNS
POSTGRES, REDIS, CAMERA = External("192.0.2.20"), External("192.0.2.21"), External(EXAMPLE_HOST)
ANYWHERE = External("198.51.100.7")
WORKER_HTTP = WorkerDefaults().http_port
TRITON_HTTP, TRITON_GRPC, TRITON_METRICS, OPERATOR_HEALTH = 8000, 8001, 8002, 8081


def worker_deployment(docs: list[dict[str, Any]], channel_index: int = 0, namespace: str = NAMESPACE) -> dict[str, Any]:
    """The example channel's worker Deployment, built by the operator's children.py with the defaults the
    rendered chart gives the operator."""
    env = {name.removeprefix("FOOTFALL_WORKER_").lower(): value for name, value in _env(docs).items()}
    defaults = WorkerDefaults(
        **{name: value for name, value in env.items() if value and name in WorkerDefaults.model_fields}
    )
    channel = [doc for doc in yaml.safe_load_all(EXAMPLES.read_text()) if doc][channel_index]
    owner = Owner(name=channel["metadata"]["name"], namespace=namespace, uid=f"uid-{channel_index}")
    return desired_children(owner, parse_spec(channel["spec"]), defaults).deployment


def pod_of(deployment: dict[str, Any], ip: str) -> Pod:
    """The pod a Deployment runs: its template's labels and containers, in its namespace."""
    template, metadata = deployment["spec"]["template"], deployment["metadata"]
    labels = template["metadata"]["labels"] | {"pod-template-hash": "5d8f7c"}  # the ReplicaSet adds one
    return pod_from_api(
        {
            "metadata": {
                "name": f"{metadata['name']}-5d8f7c-x2k9q",
                "namespace": metadata["namespace"],
                "labels": labels,
            },
            "spec": template["spec"],
            "status": {"podIP": ip},
        }
    )


def chart_deployment(docs: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == f"{RELEASE}-footfall-{suffix}"]
    return deployment


NAMESPACE_NAMES = [NAMESPACE, "elsewhere", "monitoring", "kube-system", "store-a", "store-b", "ml"]
CHART_NAMESPACES = {name: {"kubernetes.io/metadata.name": name} for name in NAMESPACE_NAMES}


def store(*values: str, worker_namespace: str = NAMESPACE) -> tuple[Cluster, dict[str, Endpoint]]:
    """The chart rendered with `values`, and every endpoint of the matrix by name."""
    docs = render(*values)
    pods: dict[str, Endpoint] = {
        "worker": pod_of(worker_deployment(docs, 0, worker_namespace), WORKER_IP),
        "other worker": pod_of(worker_deployment(docs, 1, worker_namespace), OTHER_WORKER_IP),
        "operator": pod_of(chart_deployment(docs, "operator"), OPERATOR_IP),
        "intruder": Pod("intruder", NAMESPACE, "10.244.0.20", {"app": "intruder"}, (ContainerPort(8080, "http"),)),
        # another namespace's pod wearing the workers' label: a label is trusted in its own namespace only
        "lookalike": Pod("lookalike", "elsewhere", "10.244.0.21", {"app.kubernetes.io/name": "footfall-worker"}),
        "prometheus": Pod("prometheus-0", "monitoring", "10.244.0.22", {"app.kubernetes.io/name": "prometheus"}),
        "coredns": Pod(
            "coredns", "kube-system", "10.244.0.23", {"k8s-app": "kube-dns"},
            (ContainerPort(53, "dns", "UDP"), ContainerPort(53, "dns-tcp", "TCP")),
        ),
        "node": NODE, "postgres": POSTGRES, "redis": REDIS, "camera": CAMERA, "anywhere": ANYWHERE,
    }  # fmt: skip
    if any(d["metadata"]["name"] == f"{RELEASE}-footfall-triton" for d in by_kind(docs, "Deployment")):
        pods["triton"] = pod_of(chart_deployment(docs, "triton"), TRITON_IP)
    return Cluster(tuple(by_kind(docs, "NetworkPolicy")), CHART_NAMESPACES), pods


MATRIX = [
    ("worker", "triton", TRITON_GRPC, "TCP", True),
    ("worker", "triton", TRITON_HTTP, "TCP", False),  # the worker speaks gRPC only
    ("worker", "triton", TRITON_METRICS, "TCP", False),
    ("intruder", "triton", TRITON_GRPC, "TCP", False),
    ("lookalike", "triton", TRITON_GRPC, "TCP", False),
    ("operator", "triton", TRITON_GRPC, "TCP", False),
    ("prometheus", "triton", TRITON_METRICS, "TCP", True),
    ("prometheus", "triton", TRITON_GRPC, "TCP", False),
    ("intruder", "triton", TRITON_METRICS, "TCP", False),
    ("worker", "postgres", 5432, "TCP", True),
    ("worker", "redis", 6379, "TCP", True),
    ("worker", "camera", 554, "TCP", True),
    ("worker", "camera", 8554, "TCP", False),  # only the ports the values name
    ("worker", "anywhere", 22, "TCP", False),
    ("worker", "anywhere", 443, "TCP", False),
    ("worker", "coredns", 53, "UDP", True),
    ("worker", "coredns", 53, "TCP", True),
    ("worker", "node", 53, "UDP", True),  # the test node's DNS is the node's dnsmasq
    ("worker", "node", 6443, "TCP", False),  # workers have no business with the API server
    ("worker", "other worker", WORKER_HTTP, "TCP", False),
    ("worker", "intruder", 8080, "TCP", False),
    ("operator", "worker", WORKER_HTTP, "TCP", True),
    ("prometheus", "worker", WORKER_HTTP, "TCP", True),
    ("prometheus", "worker", 22, "TCP", False),  # the http port only, whatever else a pod may listen on
    ("intruder", "worker", WORKER_HTTP, "TCP", False),
    ("lookalike", "worker", WORKER_HTTP, "TCP", False),
    ("anywhere", "worker", WORKER_HTTP, "TCP", False),
    ("triton", "worker", WORKER_HTTP, "TCP", False),
    ("triton", "postgres", 5432, "TCP", False),
    ("triton", "coredns", 53, "UDP", False),
    ("triton", "anywhere", 443, "TCP", False),
    ("triton", "node", 6443, "TCP", False),
    ("operator", "node", 6443, "TCP", True),  # the API server's endpoint after the `kubernetes` Service's DNAT
    ("operator", "anywhere", 443, "TCP", True),  # a managed cluster's API server on 443
    ("operator", "redis", 6379, "TCP", True),
    ("operator", "coredns", 53, "UDP", True),
    ("operator", "postgres", 5432, "TCP", False),
    ("operator", "camera", 554, "TCP", False),
    ("operator", "anywhere", 22, "TCP", False),
    ("prometheus", "operator", OPERATOR_HEALTH, "TCP", True),
    ("intruder", "operator", OPERATOR_HEALTH, "TCP", False),
    ("worker", "operator", OPERATOR_HEALTH, "TCP", False),
]


@pytest.fixture(scope="module")
def default_store() -> tuple[Cluster, dict[str, Endpoint]]:
    return store()


def _ids(case: tuple[str, str, int, str, bool]) -> str:
    source, destination, port, protocol, allowed = case
    return f"{source}->{destination}:{port}/{protocol}:{'allowed' if allowed else 'denied'}"


@pytest.mark.parametrize("case", MATRIX, ids=_ids)
def test_default_values_allow_exactly_the_matrix(
    default_store: tuple[Cluster, dict[str, Endpoint]], case: tuple[str, str, int, str, bool]
):
    cluster, pods = default_store
    source, destination, port, protocol, allowed = case
    assert cluster.allows(pods[source], pods[destination], port, protocol) is allowed


def test_every_chart_pod_is_isolated_both_ways(default_store: tuple[Cluster, dict[str, Endpoint]]):
    cluster, pods = default_store
    for name in ("worker", "other worker", "triton", "operator"):
        pod = pods[name]
        assert isinstance(pod, Pod)
        assert cluster.isolated(pod, "Ingress") and cluster.isolated(pod, "Egress"), name
    assert not cluster.isolated(pods["intruder"], "Ingress")  # the chart selects its own pods only


def test_disabled_renders_no_network_policy():
    assert not by_kind(render("--set", "networkPolicy.enabled=false"), "NetworkPolicy")
    assert len(by_kind(render(), "NetworkPolicy")) == 3


def test_no_metrics_from_means_nobody_scrapes():
    # an empty `from` would admit everybody: an empty metricsFrom must drop the rule, not empty it
    cluster, pods = store("--set-json", "networkPolicy.metricsFrom=[]")
    for destination, port in [("worker", WORKER_HTTP), ("triton", TRITON_METRICS), ("operator", OPERATOR_HEALTH)]:
        assert not cluster.allows(pods["prometheus"], pods[destination], port), destination
        assert not cluster.allows(pods["intruder"], pods[destination], port), destination
    assert cluster.allows(pods["operator"], pods["worker"], WORKER_HTTP)
    assert cluster.allows(pods["worker"], pods["triton"], TRITON_GRPC)


CAMERAS_ON_AN_NVR = {"networkPolicy": {"egress": {"cameras": {"ports": [554, 8554], "cidrs": ["192.0.2.0/28"]}}}}


def test_camera_ports_and_addresses_from_a_values_file(tmp_path: Path):
    values = tmp_path / "cameras.yaml"
    values.write_text(yaml.safe_dump(CAMERAS_ON_AN_NVR))
    cluster, pods = store("-f", str(values))
    worker = pods["worker"]
    assert cluster.allows(worker, CAMERA, 554) and cluster.allows(worker, CAMERA, 8554)
    assert not cluster.allows(worker, ANYWHERE, 554)  # outside the cameras' block
    # the entry replaced the cameras only: PostgreSQL and Redis keep their defaults
    assert cluster.allows(worker, POSTGRES, 5432) and cluster.allows(worker, REDIS, 6379)


def test_null_drops_a_service():
    cluster, pods = store("--set", "networkPolicy.egress.postgresql=null")
    assert not cluster.allows(pods["worker"], POSTGRES, 5432)
    assert cluster.allows(pods["worker"], REDIS, 6379)


def test_the_test_node_with_its_camera_ports():
    """What tests/node/store.py passes (the simulated cameras listen on free ports at the node's gateway):
    everything the node test uses is allowed."""
    ports = [40001, 40002, 40003, 40004]
    cluster, pods = store("--set", f"networkPolicy.egress.cameras.ports={{{','.join(map(str, ports))}}}")
    worker, operator = pods["worker"], pods["operator"]
    for port in ports:
        assert cluster.allows(worker, NODE, port)
    assert cluster.allows(worker, NODE, 5432) and cluster.allows(worker, NODE, 6379)
    assert cluster.allows(worker, NODE, 53, "UDP") and cluster.allows(operator, NODE, 6379)
    assert cluster.allows(operator, NODE, 6443) and cluster.allows(worker, pods["triton"], TRITON_GRPC)


def test_workers_in_watched_namespaces():
    values = ("--set", "operator.watchNamespaces={store-a,store-b}")
    docs = render(*values)
    policies = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in by_kind(docs, "NetworkPolicy")}
    assert policies == {
        ("store-a", f"{RELEASE}-footfall-worker"),
        ("store-b", f"{RELEASE}-footfall-worker"),
        (NAMESPACE, f"{RELEASE}-footfall-triton"),
        (NAMESPACE, f"{RELEASE}-footfall-operator"),
    }
    cluster, pods = store(*values, worker_namespace="store-a")
    worker = pods["worker"]
    assert cluster.allows(worker, pods["triton"], TRITON_GRPC)
    assert cluster.allows(pods["operator"], worker, WORKER_HTTP)
    assert cluster.allows(pods["prometheus"], worker, WORKER_HTTP)
    assert not cluster.allows(pods["intruder"], worker, WORKER_HTTP)
    assert not cluster.allows(pods["lookalike"], pods["triton"], TRITON_GRPC)  # elsewhere is not watched
    assert not cluster.allows(worker, pods["triton"], TRITON_HTTP)


def test_cluster_wide_lets_workers_of_any_namespace_reach_triton():
    cluster, pods = store("--set", "operator.clusterWide=true", worker_namespace="store-b")
    assert cluster.allows(pods["worker"], pods["triton"], TRITON_GRPC)
    assert cluster.allows(pods["operator"], pods["worker"], WORKER_HTTP)


def test_a_triton_elsewhere_gets_its_port():
    cluster, pods = store("--set", "triton.enabled=false", "--set", "worker.tritonUrl=triton.shared:8101")
    assert "triton" not in pods
    assert cluster.allows(pods["worker"], ANYWHERE, 8101)
    assert not cluster.allows(pods["worker"], ANYWHERE, TRITON_GRPC)


def test_the_charts_own_triton_by_cluster_ip_opens_no_port_elsewhere():
    cluster, pods = store("--set", "triton.service.clusterIP=10.96.0.50", "--set", "worker.tritonUrl=10.96.0.50:8001")
    assert cluster.allows(pods["worker"], pods["triton"], TRITON_GRPC)
    assert not cluster.allows(pods["worker"], ANYWHERE, TRITON_GRPC)


EXTRA_EGRESS = {
    "networkPolicy": {
        "worker": {
            "extraEgress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ml"}},
                            "podSelector": {"matchLabels": {"app": "triton-gpu"}},
                        }
                    ],
                    "ports": [{"port": 8001, "protocol": "TCP"}],
                }
            ]
        }
    }
}


def test_extra_egress_reaches_a_channels_own_triton(tmp_path: Path):
    values = tmp_path / "extra.yaml"
    values.write_text(yaml.safe_dump(EXTRA_EGRESS))
    cluster, pods = store("-f", str(values))
    gpu = Pod("triton-gpu-0", "ml", "10.244.0.40", {"app": "triton-gpu"}, (ContainerPort(8001, "grpc"),))
    assert cluster.allows(pods["worker"], gpu, 8001)
    assert not cluster.allows(pods["operator"], gpu, 8001)


@pytest.mark.parametrize("kubernetes_version", ["1.25.0", kubernetes_validate.latest_version()])
def test_policies_of_every_values_shape_are_valid_kubernetes(tmp_path: Path, kubernetes_version: str):
    """tests/chart/test_chart.py validates the chart's variants; these are the network policy's own shapes."""
    (tmp_path / "cameras.yaml").write_text(yaml.safe_dump(CAMERAS_ON_AN_NVR))
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump(EXTRA_EGRESS))
    shapes = [
        ["--set-json", "networkPolicy.metricsFrom=[]"],
        ["-f", str(tmp_path / "cameras.yaml"), "-f", str(tmp_path / "extra.yaml")],
        ["--set", "networkPolicy.egress.postgresql=null", "--set", "networkPolicy.egress.dns=null"],
        ["--set", "triton.enabled=false", "--set", "worker.tritonUrl=triton.shared:8101"],
    ]
    for values in shapes:
        policies = by_kind(render(*values), "NetworkPolicy")
        assert policies
        for policy in policies:
            kubernetes_validate.validate(policy, kubernetes_version, strict=True)
    done = helm("lint", "--strict", str(CHART), "--set", "connections.create=true",
                "--set", "connections.redisUrl=redis://r:6379/0", *shapes[1])  # fmt: skip
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "networkPolicy.enabled=maybe"], "/networkPolicy/enabled"),
        (["--set", "networkPolicy.egress.cameras.ports={70000}"], "/networkPolicy/egress/cameras/ports/0"),
        (["--set", "networkPolicy.egress.cameras.ports=null"], "missing property 'ports'"),
        (["--set", "networkPolicy.egress.redis.cidrs={redis.local}"], "/networkPolicy/egress/redis/cidrs/0"),
        (["--set", "networkPolicy.egress.ftp.ports={21}"], "ftp"),
        (["--set", "networkPolicy.metricsFrom[0].podSelectr.app=x"], "podSelectr"),
        (["--set", "networkPolicy.worker.extraEgress[0].ports[0].protocol=ICMP"], "extraEgress/0/ports/0/protocol"),
    ],
)  # fmt: skip
def test_bad_network_policy_values_are_refused_naming_the_value(values: list[str], message: str):
    done = helm("template", RELEASE, str(CHART), *values, check=False)
    assert done.returncode != 0
    assert message in done.stderr


# -- the evaluator on live objects --------------------------------------------------------------------------------


def _kubectl_list(kind: str, items: list[dict[str, Any]]) -> str:
    """JSON as `kubectl get <kind> -o json` prints it."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})


def test_cluster_from_kubectl_json():
    docs = render()
    template = worker_deployment(docs)["spec"]["template"]
    running = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "kidsplaza-thanhxuan-channel-1-worker-6c9d-q8x2z",
            "namespace": NAMESPACE,
            "uid": "0d1c",
            "labels": template["metadata"]["labels"] | {"pod-template-hash": "6c9d"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "1"}],
        },
        "spec": template["spec"],
        "status": {"phase": "Running", "podIP": WORKER_IP, "podIPs": [{"ip": WORKER_IP}]},
    }
    triton_template = chart_deployment(docs, "triton")["spec"]["template"]
    triton = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ff-footfall-triton-7f-abcde", "namespace": NAMESPACE,
                     "labels": triton_template["metadata"]["labels"]},
        "spec": triton_template["spec"],
        "status": {"phase": "Running", "podIP": TRITON_IP},
    }  # fmt: skip
    pending = {"metadata": {"name": "pending", "namespace": NAMESPACE, "labels": {}}, "spec": {"containers": [{}]}}
    # as the API server returns them: defaulted, with server-side fields
    policies = [
        p | {"metadata": p["metadata"] | {"uid": "u", "resourceVersion": "1", "generation": 1}}
        for p in by_kind(docs, "NetworkPolicy")
    ]
    # a v1.20 namespace has no kubernetes.io/metadata.name label, nor any label
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}, "status": {}}]

    cluster, pods = cluster_from_api(
        json.loads(_kubectl_list("Pod", [running, triton, pending]))["items"],
        json.loads(_kubectl_list("NetworkPolicy", policies))["items"],
        json.loads(_kubectl_list("Namespace", namespaces))["items"],
    )
    worker = pods[f"{NAMESPACE}/kidsplaza-thanhxuan-channel-1-worker-6c9d-q8x2z"]
    assert worker.ip == WORKER_IP and worker.ports == (ContainerPort(WORKER_HTTP, "http", "TCP"),)
    assert pods[f"{NAMESPACE}/pending"].ip == ""
    assert cluster.allows(worker, pods[f"{NAMESPACE}/ff-footfall-triton-7f-abcde"], TRITON_GRPC)
    assert not cluster.allows(pods[f"{NAMESPACE}/pending"], pods[f"{NAMESPACE}/ff-footfall-triton-7f-abcde"], 8001)
    assert cluster.allows(worker, POSTGRES, 5432) and not cluster.allows(worker, ANYWHERE, 22)
