"""Kubernetes NetworkPolicy (networking.k8s.io/v1) evaluated: does a set of policies allow one connection?

The test node's network plugin (the plain `bridge`) does not enforce NetworkPolicy and no enforcing one installs
here, so the chart's policies are checked by evaluating them the way the API defines them
(https://kubernetes.io/docs/concepts/services-networking/network-policies/):

- a pod is isolated for a direction only if a policy in its namespace selects it with that policy type; an
  isolated pod accepts (sends) only what some selecting policy's rule allows: policies add up, never subtract;
- a connection needs both the source's egress and the destination's ingress;
- in a rule, no peers = every peer and no ports = every port; a podSelector alone means the policy's namespace;
  named ports are the destination pod's container ports, for egress as for ingress.

What the API leaves to the plugin is not modelled: traffic from the node itself (kubelet probes, which common
plugins admit), Services (policy sees the endpoint after DNAT: pass the pod and its target port), host-network
pods. ipBlock is matched against pod IPs too, as the upstream conformance tests (e2e netpol) expect.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Manifest = Mapping[str, Any]
Direction = Literal["Ingress", "Egress"]


@dataclass(frozen=True, slots=True)
class ContainerPort:
    number: int
    name: str = ""
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    namespace: str
    ip: str = ""  # "" while the pod has none (Pending): no ipBlock matches it
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ContainerPort, ...] = ()


@dataclass(frozen=True, slots=True)
class External:
    """An address outside the cluster (or the node itself): only an ipBlock selects it, never a selector."""

    ip: str


Endpoint = Pod | External


def selects(selector: Manifest, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: every matchLabels pair and every matchExpressions requirement; {} selects everything."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator, values = requirement["key"], requirement["operator"], requirement.get("values") or []
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values  # an absent label is "not in" anything
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise ValueError(f"unknown label selector operator {operator!r}")
        if not ok:
            return False
    return True


def policy_types(policy: Manifest) -> set[str]:
    """spec.policyTypes, or the API's default: Ingress always, Egress when the policy has egress rules."""
    spec = policy["spec"]
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def _in_block(block: Manifest, ip: str) -> bool:
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(block["cidr"], strict=False):
        return False
    return not any(address in ipaddress.ip_network(excluded, strict=False) for excluded in block.get("except") or [])


def _port_matches(rule_port: Manifest, destination: Endpoint, port: int, protocol: str) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:  # every port of that protocol
        return True
    if isinstance(wanted, str):
        # a name is looked up on the destination pod (for egress too); an outside address has no named ports
        if not isinstance(destination, Pod):
            return False
        return any(p.name == wanted and p.protocol == protocol and p.number == port for p in destination.ports)
    return wanted <= port <= rule_port.get("endPort", wanted)


@dataclass(frozen=True, slots=True)
class Cluster:
    """The policies (manifests with metadata.namespace) and every namespace's labels."""

    policies: tuple[Manifest, ...]
    namespace_labels: Mapping[str, Mapping[str, str]]

    def allows(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
        """Whether `source` may open a connection to `destination`'s `port`: its egress and the other's ingress."""
        return self._admits("Egress", source, destination, port, protocol) and self._admits(
            "Ingress", source, destination, port, protocol
        )

    def isolated(self, pod: Pod, direction: Direction) -> bool:
        return bool(self._selecting(pod, direction))

    def _selecting(self, pod: Pod, direction: Direction) -> list[Manifest]:
        return [
            policy
            for policy in self.policies
            if policy["metadata"]["namespace"] == pod.namespace
            and selects(policy["spec"].get("podSelector") or {}, pod.labels)
            and direction in policy_types(policy)
        ]

    def _admits(self, direction: Direction, source: Endpoint, destination: Endpoint, port: int, protocol: str) -> bool:
        """Whether the pod on this end (the source for Egress, the destination for Ingress) lets it through."""
        pod, peer = (source, destination) if direction == "Egress" else (destination, source)
        if not isinstance(pod, Pod):
            return True  # an outside address: no policy governs it
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True  # not isolated in this direction: everything goes
        rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for policy in selecting:
            for rule in policy["spec"].get(rules_key) or []:
                peers, ports = rule.get(peers_key) or [], rule.get("ports") or []
                if peers and not any(self._peer_matches(p, policy["metadata"]["namespace"], peer) for p in peers):
                    continue
                if ports and not any(_port_matches(p, destination, port, protocol) for p in ports):
                    continue
                return True
        return False

    def _peer_matches(self, peer: Manifest, policy_namespace: str, endpoint: Endpoint) -> bool:
        if "ipBlock" in peer:
            return _in_block(peer["ipBlock"], endpoint.ip)
        namespace_selector, pod_selector = peer.get("namespaceSelector"), peer.get("podSelector")
        if namespace_selector is None and pod_selector is None:
            raise ValueError(f"a NetworkPolicyPeer needs a selector or an ipBlock: {peer!r}")
        if not isinstance(endpoint, Pod):
            return False
        if namespace_selector is None:
            in_namespace = endpoint.namespace == policy_namespace  # a podSelector alone: the policy's namespace
        else:
            in_namespace = selects(namespace_selector, self.namespace_labels[endpoint.namespace])
        return in_namespace and (pod_selector is None or selects(pod_selector, endpoint.labels))


def pod_from_api(pod: Manifest) -> Pod:
    """A Pod from the API's JSON (`kubectl get pod -o json`, or the client's `sanitize_for_serialization`)."""
    metadata, spec = pod["metadata"], pod["spec"]
    ports = tuple(
        ContainerPort(number=p["containerPort"], name=p.get("name", ""), protocol=p.get("protocol", "TCP"))
        for container in spec.get("containers") or []
        for p in container.get("ports") or []
    )
    return Pod(
        name=metadata["name"],
        namespace=metadata.get("namespace", "default"),
        ip=(pod.get("status") or {}).get("podIP", ""),
        labels=dict(metadata.get("labels") or {}),
        ports=ports,
    )


def cluster_from_api(
    pods: Iterable[Manifest], policies: Iterable[Manifest], namespaces: Iterable[Manifest]
) -> tuple[Cluster, dict[str, Pod]]:
    """The evaluator's inputs from live objects, each the `items` of `kubectl get ... -o json` (camelCase, as
    kubectl and `ApiClient.sanitize_for_serialization` write them; the client's `to_dict()` is snake_case and
    is not read here). Returns the cluster and its pods by `namespace/name`."""
    by_name = {f"{p.namespace}/{p.name}": p for p in map(pod_from_api, pods)}
    labels = {ns["metadata"]["name"]: dict(ns["metadata"].get("labels") or {}) for ns in namespaces}
    return Cluster(policies=tuple(policies), namespace_labels=labels), by_name
