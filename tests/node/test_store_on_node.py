"""The store on a real Kubernetes node, as its users see it: `helm install --wait` on the chart's defaults, the four
example CameraChannels, then the failures a store's cluster lives through, each checked the way a user checks it
(kubectl's view of pods and CameraChannels, SQL on the record, the live state in Redis).

The scenarios share one install and run in file order; each leaves the store healthy for the next. The figures
they print (seconds to Ready, to restart, to recover; rows produced and committed) are the closing note's numbers.
"""

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.node.store import CHART, NAMESPACE, RELEASE, StoreOnNode, wait_for
from tests.support.network_policy import External, Pod, cluster_from_api
from tests.support.node import GATEWAY

CHANNELS = ("channel_1", "channel_2", "channel_3", "channel_4")
WORKER_SELECTOR = "app.kubernetes.io/name=footfall-worker"
OPERATOR_SELECTOR = "app.kubernetes.io/name=footfall-operator"
TRITON_SELECTOR = "app.kubernetes.io/name=footfall-triton"


def _report(what: str, **figures: Any) -> None:
    print(f"\n[node] {what}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


def _running(store: StoreOnNode, channel: str) -> dict[str, Any] | None:
    status = store.status(channel)
    live = status.get("live") or {}
    if status.get("phase") == "Running" and (live.get("fps") or 0) > 0 and not live.get("stale"):
        return status
    return None


def _all_running(store: StoreOnNode) -> bool:
    return all(_running(store, channel) for channel in CHANNELS)


def _worker_restarts(store: StoreOnNode) -> dict[str, int]:
    return {channel: store.node.restarts(store.worker_pod(channel)) for channel in CHANNELS}


@pytest.fixture(scope="module")
def installed(store: StoreOnNode) -> StoreOnNode:
    store.install()
    return store


def test_helm_install_waits_for_the_operator_and_triton_on_the_defaults(installed: StoreOnNode) -> None:
    """F1: the defaults fit a 2-core node (Triton asked for all of it and stayed Pending)."""
    node = installed.node
    operators = node.pods(NAMESPACE, OPERATOR_SELECTOR)
    (triton,) = node.pods(NAMESPACE, TRITON_SELECTOR)
    assert len(operators) == 2  # the chart's default: one active, one standing by
    for pod in (*operators, triton):
        assert node.ready(pod) and node.restarts(pod) == 0, pod["status"]
    # one of them holds the Lease
    lease = node.get("lease", f"{RELEASE}-operator", "-n", NAMESPACE)
    assert lease["spec"]["holderIdentity"] in {pod["metadata"]["name"] for pod in operators}
    allocatable = node.get("node", "footfall-node")["status"]["allocatable"]
    _report("helm install --wait", seconds=installed.timings["helm install --wait"], node_cpu=allocatable["cpu"])


def test_the_stores_four_channels_stream_with_phase_fps_people_and_counts(installed: StoreOnNode) -> None:
    store = installed
    started = time.monotonic()
    store.apply_channels()
    wait_for("four Ready worker pods", lambda: all(store.node.ready(store.worker_pod(c)) for c in CHANNELS), 180)
    pods_ready_s = time.monotonic() - started
    wait_for("every CameraChannel Running with fps", lambda: _all_running(store), 120)
    running_s = time.monotonic() - started

    # what `kubectl get camch` shows: the printer columns, filled from the workers' heartbeats
    table = store.node.kubectl("get", "camch", "-n", NAMESPACE).stdout
    header = table.splitlines()[0].split()
    assert header[:7] == ["NAME", "PHASE", "FPS", "PEOPLE", "IN", "OUT", "RECONNECTS"], table
    for channel in CHANNELS:
        live = store.status(channel)["live"]
        assert live["state"] == "streaming" and live["fps"] > 0
        assert isinstance(live["peopleNow"], int) and isinstance(live["entries"], int)
        assert isinstance(live["exits"], int) and live["reconnects"] == 0
    # the door's counting line (channel_4) counts the visitors walking in and out of the one-by-one clip
    wait_for("people counted in and out at the door", lambda: _counted_both_ways(store), 180)

    # the record: every channel's tracks in PostgreSQL; the live state in Redis
    tracks = dict(store.sql("SELECT r.channel_id, count(*) FROM tracks t JOIN runs r ON r.id = t.run_id GROUP BY 1"))
    wait_for("tracks of every channel in PostgreSQL", lambda: _tracks_per_channel(store).keys() >= set(CHANNELS), 60)
    assert set(store.redis().smembers("footfall:channels")) >= set(CHANNELS)
    # the journal of each worker is on its own claim, bound to a local volume
    claims = store.node.get("pvc", "-n", NAMESPACE)["items"]
    assert sorted(c["metadata"]["labels"]["footfall.io/channel"] for c in claims) == list(CHANNELS)
    assert {c["status"]["phase"] for c in claims} == {"Bound"}
    _assert_network_policies_fit_the_running_pods(store)
    _report(
        "four channels",
        pods_ready_s=round(pods_ready_s, 1),
        running_s=round(running_s, 1),
        fps={c: store.status(c)["live"]["fps"] for c in CHANNELS},
        door={k: store.status("channel_4")["live"][k] for k in ("entries", "exits")},
        tracks=tracks,
    )


def _assert_network_policies_fit_the_running_pods(store: StoreOnNode) -> None:
    """The chart's NetworkPolicies, as installed, against the pods as they run (their real labels, ports and IPs).
    The node's bridge plugin does not enforce policy; the evaluator says what an enforcing plugin would allow."""
    node = store.node
    policy, pods = cluster_from_api(
        node.get("pods", "-n", NAMESPACE)["items"],
        node.get("networkpolicies", "-n", NAMESPACE)["items"],
        node.get("namespaces")["items"],
    )
    by_name = {pod.labels.get("app.kubernetes.io/name"): pod for pod in pods.values()}
    triton, operator = by_name["footfall-triton"], by_name["footfall-operator"]
    intruder = Pod("intruder", NAMESPACE, "10.244.0.250", {"app": "something-else"})
    gateway = External(GATEWAY)
    for channel in CHANNELS:
        (worker,) = [pod for pod in pods.values() if pod.name == store.worker_pod(channel)["metadata"]["name"]]
        camera_port = store.cameras[channel].port
        assert policy.allows(worker, triton, 8001), channel
        assert all(policy.allows(worker, gateway, port) for port in (5432, 6379, camera_port)), channel
        assert policy.allows(worker, gateway, 53, "UDP") and not policy.allows(worker, gateway, 22), channel
        assert policy.allows(operator, worker, 8080) and not policy.allows(intruder, worker, 8080), channel
    assert not policy.allows(intruder, triton, 8001) and not policy.allows(triton, gateway, 5432)
    assert policy.allows(operator, gateway, 6443) and policy.allows(operator, gateway, 6379)


def _counted_both_ways(store: StoreOnNode) -> dict[str, int] | None:
    live = store.status("channel_4").get("live") or {}
    return live if (live.get("entries") or 0) > 0 and (live.get("exits") or 0) > 0 else None


def _tracks_per_channel(store: StoreOnNode) -> dict[str, int]:
    return dict(store.sql("SELECT r.channel_id, count(*) FROM tracks t JOIN runs r ON r.id = t.run_id GROUP BY 1"))


def test_a_spec_edit_rolls_only_that_channel(installed: StoreOnNode) -> None:
    store = installed
    before = {channel: store.worker_pod(channel)["metadata"]["uid"] for channel in CHANNELS}
    restarts = _worker_restarts(store)
    patch = {"spec": {"processing": {"everyNFrames": 2}}}
    store.node.kubectl(
        "patch", "camch", store.resource_name("channel_3"), "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch)
    )
    started = time.monotonic()
    wait_for(
        "channel_3's new pod Ready",
        lambda: (
            store.worker_pod("channel_3")["metadata"]["uid"] != before["channel_3"]
            and store.node.ready(store.worker_pod("channel_3"))
        ),
        120,
    )
    rolled_s = time.monotonic() - started
    env = {e["name"]: e.get("value") for e in store.worker_pod("channel_3")["spec"]["containers"][0]["env"]}
    assert env["FOOTFALL_READER_PROCESS_EVERY"] == "2"
    for channel in ("channel_1", "channel_2", "channel_4"):
        assert store.worker_pod(channel)["metadata"]["uid"] == before[channel], f"{channel} was rolled too"
    assert {c: n for c, n in _worker_restarts(store).items() if c != "channel_3"} == {
        c: n for c, n in restarts.items() if c != "channel_3"
    }
    wait_for("channel_3 Running again", lambda: _running(store, "channel_3"), 60)
    _report("spec edit", rolled_and_ready_s=round(rolled_s, 1), others_untouched=True)


def test_a_camera_outage_makes_the_pod_not_ready_without_a_restart_and_it_recovers(installed: StoreOnNode) -> None:
    store = installed
    channel = "channel_2"
    camera = store.cameras[channel]
    restarts = store.node.restarts(store.worker_pod(channel))
    camera.stop()
    stopped = time.monotonic()
    wait_for("the pod NotReady", lambda: not store.node.ready(store.worker_pod(channel)), 60)
    not_ready_s = time.monotonic() - stopped
    degraded = wait_for(
        "the CameraChannel Degraded naming the camera",
        lambda: (c := store.condition(channel, "Degraded")).get("status") == "True" and c,
        60,
    )
    assert degraded["reason"] == "CameraNotStreaming", degraded
    assert store.status(channel)["phase"] == "Degraded"
    # long enough for the reader's backoff to reach its 20 s step: the return must not wait that out
    time.sleep(max(0.0, 35 - (time.monotonic() - stopped)))
    assert store.node.restarts(store.worker_pod(channel)) == restarts  # a camera outage is no reason to restart
    camera.start()
    returned = time.monotonic()
    wait_for("the stream back", lambda: store.live(channel).get("state") == "streaming", 60, interval_s=0.2)
    streaming_s = time.monotonic() - returned
    wait_for("the pod Ready again", lambda: store.node.ready(store.worker_pod(channel)), 60)
    ready_s = time.monotonic() - returned
    wait_for("the CameraChannel Running again", lambda: _running(store, channel), 60)
    running_s = time.monotonic() - returned
    assert store.node.restarts(store.worker_pod(channel)) == restarts
    assert streaming_s < 10, f"the camera's return took {streaming_s:.1f} s to notice"  # F6: not the 20 s step
    _report(
        "camera outage",
        outage_s=round(returned - stopped, 1),
        not_ready_after_s=round(not_ready_s, 1),
        restarts=0,
        streaming_after_return_s=round(streaming_s, 1),
        pod_ready_after_return_s=round(ready_s, 1),
        crd_running_after_return_s=round(running_s, 1),
    )


def test_a_frozen_worker_is_restarted_by_its_liveness_probe(installed: StoreOnNode) -> None:
    store = installed
    channel = "channel_1"
    pod = store.worker_pod(channel)
    restarts = store.node.restarts(pod)
    (frozen_run,) = store.sql(
        "SELECT id FROM runs WHERE channel_id = %s AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1", channel
    )
    pid = store.node.container_pid(pod, "worker")
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        wait_for(
            "the CameraChannel Degraded, heartbeat lost",
            lambda: store.condition(channel, "Degraded").get("reason") == "HeartbeatLost",
            60,
        )
        # F4: it stays Degraded refresh after refresh (it used to flip to Pending, "nothing is failing")
        phases = set()
        while store.node.restarts(store.worker_pod(channel)) == restarts and time.monotonic() - stopped < 120:
            phases.add(store.status(channel).get("phase"))
            time.sleep(1)
        restarted_s = time.monotonic() - stopped
    finally:
        os.kill(pid, signal.SIGCONT) if _alive(pid) else None
    assert store.node.restarts(store.worker_pod(channel)) == restarts + 1, "the kubelet did not restart it"
    assert phases <= {"Running", "Degraded"}, phases
    wait_for("the CameraChannel Running again", lambda: _running(store, channel), 120)
    back_s = time.monotonic() - stopped
    # F5: the killed run's row is closed by its successor, at its last sign of life
    ended = wait_for(
        "the killed run closed",
        lambda: store.sql(
            "SELECT ended_at, exit_reason FROM runs WHERE id = %s AND ended_at IS NOT NULL", frozen_run[0]
        ),
        60,
    )
    assert ended[0][1] == "lost", ended
    _report(
        "SIGSTOP", restart_after_s=round(restarted_s, 1), running_again_after_s=round(back_s, 1), phases=sorted(phases)
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_a_deleted_pod_hands_over_without_losing_a_row_or_sharing_the_journal(installed: StoreOnNode) -> None:
    """The pod is deleted while PostgreSQL is away: what it could not commit waits in its journal, on the channel's
    claim, and the replacement commits it (on an emptyDir it was deleted with the pod). The replacement waits for
    the old pod to flush and exit (the journal's lock: never two readers of one camera, never two writers of one
    journal), and every row the old pod produced ends up in PostgreSQL."""
    store = installed
    channel = "channel_4"
    old = store.worker_pod(channel)
    (old_run,) = store.sql(
        "SELECT id FROM runs WHERE channel_id = %s AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1", channel
    )
    store.node.cut_forwarder("postgres")
    try:
        time.sleep(5)  # rows of the last seconds now wait in the old pod's memory and journal
        store.node.kubectl("delete", "pod", old["metadata"]["name"], "-n", NAMESPACE, "--wait=false")
        deleted = time.monotonic()
        wait_for("the old pod gone", lambda: not _pod_exists(store, old["metadata"]["name"]), 120)
        gone_s = time.monotonic() - deleted
        # (this host reaches PostgreSQL directly, pods only through the forwarder)
        (unended,) = store.sql("SELECT ended_at FROM runs WHERE id = %s", old_run[0])[0]
        assert unended is None  # its end too waits in the journal: the database was away until the pod was gone
    finally:
        store.node.restore_forwarders()

    def replacement_ready() -> bool:
        pods = store.worker_pods(channel)
        return bool(pods) and pods[-1]["metadata"]["uid"] != old["metadata"]["uid"] and store.node.ready(pods[-1])

    wait_for("a Ready replacement", replacement_ready, 180)
    ready_s = time.monotonic() - deleted
    wait_for(
        "the old run's end, replayed from the journal",
        lambda: store.sql("SELECT 1 FROM runs WHERE id = %s AND ended_at IS NOT NULL", old_run[0]),
        90,
    )
    (ended_at, reason, produced) = store.sql(
        "SELECT ended_at, exit_reason, rows_produced FROM runs WHERE id = %s", old_run[0]
    )[0]
    assert reason == "signal" and ended_at is not None  # a clean shutdown: the old pod closed its own run
    # The replacement's own run row reaches PostgreSQL through its writer after the journal it replays: wait for it
    # rather than read the newest run, which may still be the old one.
    ((new_started,),) = wait_for(
        "the replacement's run",
        lambda: store.sql(
            "SELECT started_at FROM runs WHERE channel_id = %s"
            " AND started_at > (SELECT started_at FROM runs WHERE id = %s)",
            channel,
            old_run[0],
        ),
        60,
    )
    assert new_started >= ended_at, "the replacement started before the old pod had finished"
    committed = _rows_of_run(store, old_run[0])
    assert produced is not None and committed == produced, f"produced {produced}, committed {committed}"
    _report(
        "pod delete, PostgreSQL away",
        old_pod_gone_s=round(gone_s, 1),
        replacement_ready_s=round(ready_s, 1),
        rows_produced=produced,
        rows_committed=committed,
    )


def _pod_exists(store: StoreOnNode, name: str) -> bool:
    return any(pod["metadata"]["name"] == name for pod in store.node.all_pods(NAMESPACE, WORKER_SELECTOR))


def _rows_of_run(store: StoreOnNode, run_id: str) -> dict[str, int]:
    counts = {}
    for table in ("tracks", "track_points", "events"):
        ((count,),) = store.sql(f"SELECT count(*) FROM {table} WHERE run_id = %s", run_id)  # noqa: S608 - our tables
        counts[table] = count
    return counts


def test_without_triton_workers_count_skipped_frames_and_recover_without_restarts(installed: StoreOnNode) -> None:
    store = installed
    restarts = _worker_restarts(store)
    failed_before = {channel: int(store.live(channel).get("frames_failed") or 0) for channel in CHANNELS}
    # a deleted Triton pod is replaced at once; a Triton that stays away is scaled to nothing for a while
    store.node.kubectl("delete", "pod", "-n", NAMESPACE, "-l", TRITON_SELECTOR, "--wait=false")
    store.node.kubectl("scale", "deployment", f"{RELEASE}-triton", "-n", NAMESPACE, "--replicas=0")
    away = time.monotonic()
    reason = wait_for(
        "the CameraChannels naming Triton",
        lambda: (
            all(store.condition(c, "Degraded").get("reason") == "TritonUnavailable" for c in CHANNELS)
            and store.condition("channel_1", "Degraded")
        ),
        90,
    )
    assert "Triton at" in reason["message"], reason
    failed = {channel: int(store.live(channel).get("frames_failed") or 0) for channel in CHANNELS}
    assert all(failed[c] > failed_before[c] for c in CHANNELS), (failed_before, failed)
    store.node.kubectl("scale", "deployment", f"{RELEASE}-triton", "-n", NAMESPACE, "--replicas=1")
    back = time.monotonic()
    wait_for("every channel Running again", lambda: _all_running(store), 180)
    recovered_s = time.monotonic() - back
    assert _worker_restarts(store) == restarts, "a Triton outage restarted a worker"
    _report(
        "Triton away",
        away_s=round(back - away, 1),
        recovered_after_return_s=round(recovered_s, 1),
        frames_without_detection={c: failed[c] - failed_before[c] for c in CHANNELS},
        restarts=0,
    )


def test_the_operator_runs_without_cluster_dns_and_reports_api_trouble_as_not_ready(installed: StoreOnNode) -> None:
    """F2: kopf's service-account login dialled kubernetes.default.svc (crash loop without DNS), and its /healthz
    said 200 while the API refused it."""
    store = installed
    node = store.node
    deployment = f"{RELEASE}-operator"
    no_dns = {"spec": {"template": {"spec": {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": [GATEWAY], "searches": ["nowhere.invalid"]}}}}}  # fmt: skip
    node.kubectl("patch", "deployment", deployment, "-n", NAMESPACE, "--type=strategic", "-p", json.dumps(no_dns))
    node.kubectl("rollout", "status", f"deployment/{deployment}", "-n", NAMESPACE, "--timeout=120s", timeout_s=150)
    pods = node.pods(NAMESPACE, OPERATOR_SELECTOR)  # both replicas, the active one and the standby
    for pod in pods:
        resolv = node.kubectl("exec", "-n", NAMESPACE, pod["metadata"]["name"], "--", "cat", "/etc/resolv.conf")
        assert "cluster.local" not in resolv.stdout, resolv.stdout
        assert node.ready(pod) and node.restarts(pod) == 0
    # the active one still reconciles: a status written after the replicas started
    started = min(pod["status"]["startTime"] for pod in pods)
    wait_for(
        "a status written by the DNS-less operator",
        lambda: (store.status("channel_1").get("live") or {}).get("readTime", "") > started,
        60,
    )

    def readiness() -> list[bool]:
        return [node.ready(pod) for pod in node.pods(NAMESPACE, OPERATOR_SELECTOR)]

    # their API access taken away: not ready (and liveness only after minutes, not restarted for a blip)
    node.kubectl("delete", "rolebinding", deployment, "-n", NAMESPACE)
    wait_for("every operator replica NotReady", lambda: not any(readiness()), 60)
    node.helm("upgrade", RELEASE, str(CHART), "-n", NAMESPACE, "--reuse-values", "--wait", "--timeout", "180s")
    wait_for("the operator replicas Ready again", lambda: all(readiness()) and len(readiness()) == 2, 120)
    restarts = [node.restarts(pod) for pod in node.pods(NAMESPACE, OPERATOR_SELECTOR)]
    _report("operator without DNS", ready=True, restarts=restarts)


def test_the_retention_cronjob_runs_in_the_cluster_and_keeps_the_recent_record(installed: StoreOnNode) -> None:
    store, node = installed, installed.node
    (cronjob,) = node.get("cronjob", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=footfall-retention")["items"]
    events_before = store.sql("SELECT count(*) FROM events")[0][0]
    started = time.monotonic()
    # what `kubectl create job --from=cronjob/...` does (this kubectl knows only batch/v1 CronJobs; the node's
    # Kubernetes 1.20 serves batch/v1beta1): a Job of the CronJob's template
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "retention-now", "namespace": NAMESPACE},
        "spec": cronjob["spec"]["jobTemplate"]["spec"],
    }
    node.kubectl("create", "-f", "-", input_text=json.dumps(job))
    wait_for(
        "the retention Job to succeed",
        lambda: (node.get("job", "retention-now", "-n", NAMESPACE).get("status") or {}).get("succeeded"),
        180,
    )
    took_s = time.monotonic() - started
    (pod,) = node.all_pods(NAMESPACE, "job-name=retention-now")
    summary = json.loads(node.logs(NAMESPACE, pod["metadata"]["name"]).splitlines()[-1])
    assert summary["raw_days"] == 90 and summary["rollup_days"] is None and summary["rows_dropped"] == 0
    # today's record is kept, and the coming week's partitions exist (the job's or the workers' upkeep)
    assert store.sql("SELECT count(*) FROM events")[0][0] >= events_before > 0
    week_ahead = datetime.now(UTC) + timedelta(days=6)
    assert store.sql("SELECT to_regclass(%s) IS NOT NULL", f"events_p{week_ahead:%Y%m%d}") == [(True,)]
    node.kubectl("delete", "job", "retention-now", "-n", NAMESPACE, "--wait=false")
    _report("retention Job", seconds_to_succeed=round(took_s, 1), summary=summary["summary"])


def test_deleting_a_camera_channel_removes_its_worker_and_its_live_entry(installed: StoreOnNode) -> None:
    store = installed
    channel = "channel_3"
    name = store.resource_name(channel)
    store.node.kubectl("delete", "camch", name, "-n", NAMESPACE, "--wait=false")
    deleted = time.monotonic()
    selector = f"footfall.io/channel={channel}"

    def gone() -> bool:
        for kind in ("deployment", "replicaset", "pod", "configmap", "pvc"):
            if store.node.get(kind, "-n", NAMESPACE, "-l", selector)["items"]:
                return False
        return True

    wait_for("every child gone", gone, 120)
    gone_s = time.monotonic() - deleted
    wait_for(
        "the channel out of footfall:channels", lambda: channel not in store.redis().smembers("footfall:channels"), 60
    )
    _report("CameraChannel delete", children_gone_s=round(gone_s, 1))


def test_helm_uninstall_then_removing_the_channels_leaves_nothing(installed: StoreOnNode) -> None:
    store = installed
    node = store.node
    node.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "120s")
    # (the Deployments go at once; their pods after their grace period)
    wait_for(
        "the operator's and Triton's pods gone",
        lambda: not node.all_pods(NAMESPACE, OPERATOR_SELECTOR) and not node.all_pods(NAMESPACE, TRITON_SELECTOR),
        120,
    )
    # The CameraChannels are the user's, not the release's (and Helm never deletes a CRD): their workers stay
    # until they are deleted, which the garbage collector does without the operator.
    assert node.pods(NAMESPACE, WORKER_SELECTOR)
    node.kubectl("delete", "camch", "--all", "-n", NAMESPACE, "--wait=true", timeout_s=180)
    wait_for("no worker left", lambda: not node.all_pods(NAMESPACE, WORKER_SELECTOR), 120)
    assert not node.get("pvc", "-n", NAMESPACE)["items"]
