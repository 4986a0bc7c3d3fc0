"""1 000 malformed CameraChannels against the real apiserver while the operator runs (issue 18).

Every one must end as an apiserver rejection naming the field or a stored CameraChannel whose InvalidSpec
condition gives the reason and the field; odd but valid ones run. Meanwhile the operator never restarts nor logs
an error, and valid channels applied in between still get their worker (their times are printed, not asserted:
speed is for the bench).
"""

import base64
import json
import statistics
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from footfall_contract.config.text import control_character
from footfall_operator.camera_secret import CAMERA_SECRET_LABEL
from footfall_operator.children import worker_name
from footfall_operator.crd import GROUP, PLURAL, VERSION
from tests.operator.channels import channel, condition
from tests.operator.hostile_specs import (
    BAD_SECRETS,
    FOREIGN_SECRET,
    Condition,
    HostileChannel,
    Rejected,
    hostile_channels,
)
from tests.support.kube import KubeCluster, OperatorProcess, wait_until

COUNT = 1000
CANARY_EVERY = 100
FOREIGN_PASSWORD = "billing-db-password-never-shown"


def _secret(namespace: str, name: str, data: dict[str, bytes], labelled: bool) -> dict[str, Any]:
    labels = {CAMERA_SECRET_LABEL: "true"} if labelled else {}
    encoded = {key: base64.b64encode(value).decode() for key, value in data.items()}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": encoded}


class DeploymentWatch:
    """When each named Deployment first appeared, polled on a thread while the test floods the apiserver."""

    def __init__(self, cluster: KubeCluster, namespace: str) -> None:
        self._cluster, self._namespace = cluster, namespace
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "DeploymentWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for item in self._cluster.apps.list_namespaced_deployment(self._namespace).items:
                self.first_seen.setdefault(item.metadata.name, time.monotonic())


def _create(cluster: KubeCluster, hostile: HostileChannel) -> ApiException | None:
    namespace = hostile.manifest["metadata"]["namespace"]
    try:
        cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, hostile.manifest)
    except ApiException as error:
        return error
    return None


def _outcome(stored: dict[str, Any], deployments: set[str]) -> str | None:
    """What a stored CameraChannel got so far: 'InvalidSpec:<reason>', 'runs', or None (nothing yet)."""
    invalid = condition(stored, "InvalidSpec")
    if invalid is None:
        return None
    if invalid["status"] == "True":
        return f"InvalidSpec:{invalid['reason']}"
    return "runs" if worker_name(stored["metadata"]["name"]) in deployments else None


def _expected(hostile: HostileChannel) -> str:
    expect = hostile.family.expect
    return f"InvalidSpec:{expect.reason}" if isinstance(expect, Condition) else "runs"


@pytest.fixture
def flooded(cluster: KubeCluster, namespace: str) -> Iterator[str]:
    """The test's namespace, emptied of CameraChannels afterwards whatever happened: a thousand left behind would
    slow every later test's refresher rounds."""
    yield namespace
    cluster.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    wait_until(
        "the CameraChannels gone",
        lambda: not cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"],
        timeout_s=120,
    )


def test_a_thousand_malformed_channels_each_get_a_rejection_or_a_condition_and_the_operator_carries_on(
    cluster: KubeCluster, operator: OperatorProcess, flooded: str
):
    namespace = flooded
    cluster.core.create_namespaced_secret(
        namespace,
        _secret(namespace, FOREIGN_SECRET, {"username": b"billing", "password": FOREIGN_PASSWORD.encode()}, False),
    )
    for name, data in BAD_SECRETS.items():
        cluster.core.create_namespaced_secret(namespace, _secret(namespace, name, data, True))
    holder = channel("held-holder", namespace, channelId="held")
    cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, holder)

    hostiles = hostile_channels(namespace, COUNT)
    rejected: dict[str, ApiException] = {}
    canaries: dict[str, float] = {}
    with DeploymentWatch(cluster, namespace) as watch:
        created = time.monotonic()
        cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, channel("before", namespace))
        wait_until("the first valid channel's Deployment", lambda: worker_name("before") in watch.first_seen, 60)
        baseline_s = watch.first_seen[worker_name("before")] - created
        for index, hostile in enumerate(hostiles):
            if index % CANARY_EVERY == 0:
                name = f"canary-{index // CANARY_EVERY}"
                canaries[name] = time.monotonic()
                cluster.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, channel(name, namespace)
                )
            if (error := _create(cluster, hostile)) is not None:
                rejected[hostile.name] = error
        flood_s = time.monotonic() - canaries["canary-0"]
        wait_until(
            "every canary's Deployment",
            lambda: all(worker_name(name) in watch.first_seen for name in canaries),
            timeout_s=120,
        )
        canary_s = {name: watch.first_seen[worker_name(name)] - created for name, created in canaries.items()}

    # every apiserver rejection is one the schema was meant to give, naming the field
    for hostile in hostiles:
        expect = hostile.family.expect
        if isinstance(expect, Rejected):
            assert hostile.name in rejected, f"{hostile.family.name}: {hostile.name} was accepted by the apiserver"
            error = rejected[hostile.name]
            assert error.status == 422 and expect.field in (error.body or ""), (hostile.family.name, error.body[:500])
        else:
            assert hostile.name not in rejected, (hostile.family.name, rejected.get(hostile.name))

    stored = [hostile for hostile in hostiles if hostile.name not in rejected]

    def outcomes() -> dict[str, str | None] | None:
        items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
        deployments = {item.metadata.name for item in cluster.apps.list_namespaced_deployment(namespace).items}
        by_name = {item["metadata"]["name"]: item for item in items}
        found = {hostile.name: _outcome(by_name[hostile.name], deployments) for hostile in stored}
        return found if all(found.values()) else None

    started = time.monotonic()
    final = wait_until("a condition on every stored CameraChannel", outcomes, timeout_s=300, interval_s=2)
    settled_s = time.monotonic() - started
    wrong = {h.name: (h.family.name, final[h.name]) for h in stored if final[h.name] != _expected(h)}
    assert not wrong, wrong

    items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    for item in items:
        invalid = condition(item, "InvalidSpec")
        if invalid and invalid["status"] == "True":
            assert invalid["message"].startswith("spec."), invalid["message"]  # names the field
            assert control_character(invalid["message"]) is None, invalid["message"]  # escaped, never raw
    statuses = json.dumps([item.get("status") for item in items])
    assert FOREIGN_PASSWORD not in statuses and "s3cret" not in statuses

    assert operator.alive, "the operator exited"
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.liveness_port}/healthz", timeout=5) as response:
        assert response.status == 200
    log_lines = [json.loads(line) for line in operator.log_text().splitlines() if line.startswith("{")]
    errors = [line for line in log_lines if str(line.get("severity", "")).lower() in ("error", "critical")]
    assert not errors, errors[:5]

    _report(hostiles, rejected, final, baseline_s, canary_s, flood_s, settled_s)


def _report(
    hostiles: list[HostileChannel],
    rejected: dict[str, ApiException],
    final: dict[str, str],
    baseline_s: float,
    canary_s: dict[str, float],
    flood_s: float,
    settled_s: float,
) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    for hostile in hostiles:
        got = "rejected by the apiserver (422)" if hostile.name in rejected else final[hostile.name]
        tally[(hostile.family.name, got)] += 1
    print(
        f"\n[hostile] {len(hostiles)} CameraChannels in {flood_s:.1f} s; "
        f"every stored one settled {settled_s:.1f} s later"
    )
    for (family, got), count in sorted(tally.items()):
        print(f"[hostile] {count:4d} x {family}: {got}")
    times = list(canary_s.values())
    print(
        f"[hostile] CR -> Deployment of a valid channel: {baseline_s:.2f} s before the flood; {len(times)} applied "
        f"among the hostile ones: p50 {statistics.median(times):.2f} s, max {max(times):.2f} s"
    )
