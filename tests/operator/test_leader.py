"""Leader election on the real API server's Lease: first the elector's rules in this process, then two real
`footfall-operator` processes of which only one reconciles, until the active one is SIGKILLed and the other
takes over.

The Lease timings are shortened (seconds, not client-go's 15/10/2) so a takeover fits a test; the rules are the
same. Nothing here times anything: every wait is "until it happens", with a generous limit."""

import json
import threading
from pathlib import Path

import kubernetes

from footfall_operator.leader import LeaderElector, LeaseConfig
from tests.operator.channels import apply, channel, deployment
from tests.support.kube import KubeCluster, OperatorProcess, wait_until
from tests.support.redis_server import RedisServer

LEASE = "footfall-operator"


def elector(cluster: KubeCluster, namespace: str, identity: str, duration_s: float = 3.0) -> LeaderElector:
    config = LeaseConfig(
        namespace, LEASE, identity, lease_duration_s=duration_s, renew_deadline_s=duration_s - 1, retry_period_s=0.2
    )
    return LeaderElector(cluster.api_client, config)


def test_one_candidate_leads_and_the_other_takes_over_at_once_after_a_release(cluster: KubeCluster, namespace: str):
    first, second = elector(cluster, namespace, "first"), elector(cluster, namespace, "second")
    assert first.try_acquire_or_renew()  # no Lease yet: created, held
    assert not second.try_acquire_or_renew()
    assert (
        second.holder == "first" and second.standby_reason() == f"standby: Lease {namespace}/{LEASE} is held by first"
    )
    assert first.try_acquire_or_renew()  # a renewal
    first.release()
    assert cluster.lease_holder(namespace, LEASE) is None
    # released: free now, not one lease duration later
    assert second.try_acquire_or_renew()
    assert cluster.lease_holder(namespace, LEASE) == "second" and not first.leading


def test_a_lease_nobody_renews_is_taken_once_it_has_been_seen_unchanged_for_its_duration(
    cluster: KubeCluster, namespace: str
):
    crashed, standby = elector(cluster, namespace, "crashed"), elector(cluster, namespace, "standby")
    assert crashed.try_acquire_or_renew()  # and then never again, as after a SIGKILL
    assert not standby.try_acquire_or_renew()  # seen now: its clock starts
    wait_until("the standby to take the expired Lease", standby.try_acquire_or_renew, timeout_s=30, interval_s=0.2)
    lease = kubernetes.client.CoordinationV1Api(cluster.api_client).read_namespaced_lease(LEASE, namespace)
    assert lease.spec.holder_identity == "standby" and lease.spec.lease_transitions == 1
    assert not crashed.try_acquire_or_renew()  # back from the dead: it sees the new holder and waits


def test_a_leader_whose_lease_is_taken_gives_up(cluster: KubeCluster, namespace: str):
    leader = elector(cluster, namespace, "leader", duration_s=30)
    assert leader.try_acquire_or_renew()
    lost: list[str] = []
    done = threading.Event()
    leader.keep_renewing(on_lost=lambda reason: (lost.append(reason), done.set()))
    try:
        # another replica that decided the Lease had expired (its write is what a takeover writes)
        api = kubernetes.client.CoordinationV1Api(cluster.api_client)
        lease = api.read_namespaced_lease(LEASE, namespace)
        lease.spec.holder_identity = "usurper"
        api.replace_namespaced_lease(LEASE, namespace, lease)
        assert done.wait(30), "the leader never noticed"
        assert "held by usurper" in lost[0] and not leader.leading
    finally:
        leader.release()
    assert cluster.lease_holder(namespace, LEASE) == "usurper"  # a deposed leader releases nothing it lost


def replica(cluster: KubeCluster, redis: RedisServer, tmp_path: Path, namespace: str, identity: str) -> OperatorProcess:
    election = {
        "FOOTFALL_OPERATOR_LEADER_ELECTION_NAMESPACE": namespace,
        "FOOTFALL_OPERATOR_POD_NAME": identity,
        "FOOTFALL_OPERATOR_LEASE_DURATION_S": "6",
        "FOOTFALL_OPERATOR_RENEW_DEADLINE_S": "4",
        "FOOTFALL_OPERATOR_RETRY_PERIOD_S": "0.5",
    }
    process = OperatorProcess(cluster, tmp_path / f"{identity}.log", redis_url=redis.url, extra_env=election)
    process.start()
    return process


def created_deployments(process: OperatorProcess) -> list[str]:
    return [
        line["message"].split(" (config")[0]
        for line in map(json.loads, filter(str.strip, process.log_text().splitlines()))
        if line["message"].startswith("created Deployment/")
    ]


def test_two_replicas_one_reconciles_and_the_standby_takes_over_when_the_leader_is_killed(
    cluster: KubeCluster, namespace: str, live_redis: RedisServer, tmp_path: Path
):
    first = replica(cluster, live_redis, tmp_path, namespace, "operator-a")
    second = third = None
    try:
        wait_until("operator-a to hold the Lease", lambda: cluster.lease_holder(namespace, LEASE) == "operator-a", 60)
        second = replica(cluster, live_redis, tmp_path, namespace, "operator-b")
        wait_until("operator-b to stand by", lambda: "standing by" in second.log_text(), 60)
        assert second.status()["role"] == f"standby: Lease {namespace}/{LEASE} is held by operator-a"
        assert second.status()["ready"]["ok"]  # a standby able to take over is Ready

        apply(cluster, channel("before-kill", namespace))
        wait_until("before-kill's Deployment", lambda: deployment(cluster, namespace, "before-kill"), 60)
        assert created_deployments(first) == ["created Deployment/before-kill-worker"]
        assert created_deployments(second) == []  # the standby reconciled nothing

        first.kill()
        apply(cluster, channel("after-kill", namespace))
        wait_until("operator-b to take the Lease", lambda: cluster.lease_holder(namespace, LEASE) == "operator-b", 60)
        wait_until("after-kill's Deployment", lambda: deployment(cluster, namespace, "after-kill"), 60)
        assert created_deployments(second) == ["created Deployment/after-kill-worker"]
        assert second.status()["role"] == "active"

        # a standby stopped while it waits exits cleanly and leaves the Lease alone
        third = replica(cluster, live_redis, tmp_path, namespace, "operator-c")
        wait_until("operator-c to stand by", lambda: "standing by" in third.log_text(), 60)
        assert third.stop() == 0
        assert cluster.lease_holder(namespace, LEASE) == "operator-b"
        assert second.alive
    finally:
        for process in (first, second, third):
            if process is not None and process.alive:
                process.stop()
    # the leader stopped by SIGTERM handed the Lease back
    assert cluster.lease_holder(namespace, LEASE) is None
