"""What the refresher costs the API server at a chain's scale: its status writes capped by a token bucket,
heartbeats behind real changes, and its reads one listing per kind a round instead of a GET per channel."""

import threading
import time
import urllib.request
from pathlib import Path

import pytest

from footfall_contract.heartbeat import LiveSnapshot
from footfall_operator.ratelimit import TokenBucket
from footfall_operator.refresher import significant
from footfall_worker.storage.live_state import LiveState
from tests.operator.channels import apply, camera_channel, channel, deployment
from tests.support.kube import KubeCluster, OperatorProcess, wait_until
from tests.support.redis_server import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_passes_its_burst_then_its_rate():
    clock = Clock()
    bucket = TokenBucket(rate_per_s=5, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_s() == pytest.approx(0.2)
    clock.now += 0.2
    assert bucket.try_take() and not bucket.try_take()
    clock.now += 60  # an idle minute saves up the burst, never more
    assert sum(bucket.try_take() for _ in range(10)) == 3


def test_a_token_that_would_come_after_the_deadline_is_not_waited_for():
    clock = Clock()
    bucket = TokenBucket(rate_per_s=1, burst=1, clock=clock)
    assert bucket.take(deadline=clock.now, stop=threading.Event())
    assert not bucket.take(deadline=clock.now + 0.5, stop=threading.Event())  # the next one is 1 s away
    stopped = threading.Event()
    stopped.set()
    assert not bucket.take(deadline=clock.now + 10, stop=stopped)


def test_bad_rates_are_refused():
    with pytest.raises(ValueError, match="rate_per_s > 0"):
        TokenBucket(rate_per_s=0, burst=1)


RUNNING = {
    "observedGeneration": 1,
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "True"}],
    "live": {"state": "streaming", "stale": False, "fps": 25.0, "peopleNow": 3, "heartbeatTime": "T1"},
}


@pytest.mark.parametrize(
    ("case", "new", "urgent"),
    [
        ("heartbeat and counts only", {**RUNNING, "live": {**RUNNING["live"], "peopleNow": 4, "heartbeatTime": "T2"}},
         False),
        ("stream stopped", {**RUNNING, "live": {**RUNNING["live"], "state": "backoff"}}, True),
        ("went stale", {**RUNNING, "live": {**RUNNING["live"], "stale": True, "staleReason": "no heartbeat"}}, True),
        ("phase", {**RUNNING, "phase": "Degraded"}, True),
        ("a condition", {**RUNNING, "conditions": [{"type": "Ready", "status": "False"}]}, True),
        ("a new generation", {**RUNNING, "observedGeneration": 2}, True),
    ],
)  # fmt: skip
def test_heartbeats_wait_behind_changes_that_are_news(case, new, urgent):
    assert significant(RUNNING, new) is urgent, case


def test_a_round_lists_the_children_instead_of_reading_each_one(
    cluster: KubeCluster, namespace: str, live_redis: RedisServer, tmp_path: Path
):
    """Over several refresh rounds (1 s apart in the tests) with twelve channels, an invalid one among them: no
    GET of a Deployment or ConfigMap by name (a GET a channel a round before), a LIST of each a round, and the
    channels still re-checked: a Deployment deleted behind the operator's back comes back.

    The operator watches this test's namespace only, so channels other tests left behind do not count."""
    operator = OperatorProcess(
        cluster, tmp_path / "operator.log", redis_url=live_redis.url,
        extra_env={"FOOTFALL_OPERATOR_NAMESPACES": namespace},
    )  # fmt: skip
    operator.start()
    try:
        _rounds_list_children(cluster, operator, namespace)
    finally:
        assert operator.stop() == 0


def _rounds_list_children(cluster: KubeCluster, operator: OperatorProcess, namespace: str) -> None:
    invalid = channel("listed-invalid", namespace, credentialsSecretRef={"name": "absent"})  # SecretNotFound
    apply(cluster, invalid)
    names = [f"listed-{i}" for i in range(12)]
    apply(cluster, *(channel(name, namespace) for name in names))
    for name in [*names, "listed-invalid"]:
        wait_until(f"{name}'s status", lambda name=name: camera_channel(cluster, namespace, name).get("status"), 60)
    rounds = operator.status_interval_s * 5
    before = cluster.apiserver_requests()
    time.sleep(rounds)  # a window of rounds to count requests over, not a time that is asserted
    after = cluster.apiserver_requests()
    delta = {key: after[key] - before.get(key, 0) for key in after}
    assert delta.get("GET deployments", 0) + delta.get("GET configmaps", 0) < len(names), delta
    assert delta.get("LIST deployments", 0) >= 3 and delta.get("LIST configmaps", 0) >= 3, delta

    old = deployment(cluster, namespace, names[0])
    cluster.apps.delete_namespaced_deployment(old["metadata"]["name"], namespace)
    wait_until(
        "the deleted Deployment re-created",
        lambda: (now := deployment(cluster, namespace, names[0])) and now["metadata"]["uid"] != old["metadata"]["uid"],
        60,
    )


def test_a_write_cap_below_the_changes_defers_heartbeats_but_starves_no_channel(
    cluster: KubeCluster, namespace: str, live_redis: RedisServer, tmp_path: Path
):
    """Six heartbeating workers, every status changing every round, and the refresher allowed one write a
    second (burst 1) with rounds 1 s apart: changes are left for later rounds (the deferred counter moves), yet
    every channel gets written, the longest unwritten first, until all six say Running."""
    names = [f"capped-{i}" for i in range(6)]
    operator = OperatorProcess(
        cluster, tmp_path / "operator.log", redis_url=live_redis.url,
        extra_env={
            "FOOTFALL_OPERATOR_NAMESPACES": namespace,
            "FOOTFALL_OPERATOR_STATUS_WRITES_PER_S": "1",
            "FOOTFALL_OPERATOR_STATUS_WRITE_BURST": "1",
        },
    )  # fmt: skip
    stop = threading.Event()
    states = [LiveState(live_redis.client(), name.replace("-", "_"), ttl_s=30, min_interval_s=0) for name in names]

    def beat() -> None:
        count = 0
        while not stop.is_set():
            count += 1
            for state in states:
                state.publish(LiveSnapshot(state="streaming", fps=25.0, people_now=count % 5), force=True)
            stop.wait(0.5)

    beats = threading.Thread(target=beat, daemon=True)
    operator.start()
    try:
        apply(cluster, *(channel(name, namespace) for name in names))
        beats.start()
        for name in names:
            wait_until(f"{name} Running", lambda name=name: _phase(cluster, namespace, name) == "Running", 90)
        wait_until(
            "changes deferred by the cap", lambda: _counter(operator, "footfall_operator_status_writes_deferred")
        )
    finally:
        stop.set()
        assert operator.stop() == 0


def _phase(cluster: KubeCluster, namespace: str, name: str) -> str | None:
    return (camera_channel(cluster, namespace, name).get("status") or {}).get("phase")


def _counter(operator: OperatorProcess, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.liveness_port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.split(" ")[0] in (name, f"{name}_total"):
                return float(line.split()[-1])
    return 0.0
