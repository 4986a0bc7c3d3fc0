"""The operator bench's steady-state and restart measurements, with every channel of the largest scenario present:
the API server's request rate while nothing changes, an operator restart (how long until every channel is
re-checked, and whether any unchanged worker was rolled), and a failover between two replicas (SIGKILL of the
leader, the standby taking the Lease, a CameraChannel created after the kill getting its Deployment). Every worker
heartbeating at once: operator_bench_heartbeats.py.
"""

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from operator_bench_procs import ControlPlane, Operator, poll
from operator_bench_watch import MANAGED_SELECTOR, LogFollower, Watcher, camera_channel

from footfall_operator.children import CONFIG_HASH_ANNOTATION
from footfall_operator.crd import GROUP, PLURAL, VERSION

LEASE_NAMESPACE = "bench-system"
LEASE_NAME = "footfall-operator"
# The refresher's line at the end of its first round after a start (refresher.py): every channel re-checked.
FIRST_ROUND = "first refresh round"


def request_delta(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    """Requests per "VERB resource" between two reads of apiserver_request_total, watches left out (a watch is
    one long request, counted when it ends)."""
    delta = {key: after[key] - before.get(key, 0) for key in after}
    return {key: value for key, value in sorted(delta.items()) if value > 0 and not key.startswith("WATCH")}


# The requests only the operator makes: apiserver_request_total has no client label, and while 1 000 fresh
# Deployments roll out the controller manager writes replicasets, pods, deployments/status and events meanwhile.
# It watches what it needs and never reads a child by name nor lists it, nor touches CameraChannels' status.
_OPERATOR_RESOURCES = ("camerachannels", "camerachannels/status", "leases", "secrets")
_OPERATOR_CHILD_VERBS = ("GET", "LIST", "POST", "PUT")
_CHILDREN = ("configmaps", "deployments", "persistentvolumeclaims")


def operator_share(requests: dict[str, int]) -> dict[str, int]:
    """The part of `requests` the operator made (see the rule above)."""
    share = {}
    for key, count in requests.items():
        verb, _, resource = key.partition(" ")
        if resource in _OPERATOR_RESOURCES or (resource in _CHILDREN and verb in _OPERATOR_CHILD_VERBS):
            share[key] = count
    return share


def idle_window(plane: ControlPlane, operator: Operator, seconds: float) -> dict[str, Any]:
    """The operator's CPU and the API server's requests by verb and resource over `seconds` of nothing happening."""
    requests_before, cpu_before, began = plane.apiserver_requests(), operator.cpu_s(), time.monotonic()
    time.sleep(seconds)
    requests_after, cpu_after, elapsed = plane.apiserver_requests(), operator.cpu_s(), time.monotonic() - began
    operator.check_alive()
    requests = request_delta(requests_before, requests_after)
    return {
        "seconds": elapsed,
        "cpu_s": cpu_after - cpu_before,
        "cpu_percent": 100 * (cpu_after - cpu_before) / elapsed,
        "requests": requests,
        "requests_per_s": sum(requests.values()) / elapsed,
        "operator_requests_per_s": sum(operator_share(requests).values()) / elapsed,
        "status_patches": requests.get("PATCH camerachannels/status", 0) + requests.get("PATCH camerachannels", 0),
    }


def baseline_window(plane: ControlPlane, seconds: float) -> dict[str, Any]:
    """The control plane's own requests with no operator running: what the idle numbers are compared with."""
    before, began = plane.apiserver_requests(), time.monotonic()
    time.sleep(seconds)
    requests = request_delta(before, plane.apiserver_requests())
    elapsed = time.monotonic() - began
    return {"seconds": elapsed, "requests": requests, "requests_per_s": sum(requests.values()) / elapsed}


def workers_state(plane: ControlPlane, namespace: str) -> dict[str, tuple[int, str]]:
    """Each worker Deployment's (generation, pod template config hash): either moves on a rollout."""
    raw = plane.apps.list_namespaced_deployment(
        namespace, label_selector=MANAGED_SELECTOR, _preload_content=False, _request_timeout=60
    )
    state = {}
    for item in json.loads(raw.data)["items"]:
        template = item["spec"]["template"]["metadata"].get("annotations") or {}
        state[item["metadata"]["name"]] = (item["metadata"]["generation"], template.get(CONFIG_HASH_ANNOTATION, ""))
    return state


def rolled(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> dict[str, int]:
    return {
        "workers": len(before),
        "generation_changed": sum(1 for name, (gen, _) in before.items() if after.get(name, (gen, ""))[0] != gen),
        "template_changed": sum(1 for name, (_, h) in before.items() if after.get(name, (0, h))[1] != h),
        "missing": sum(1 for name in before if name not in after),
    }


def _resumed_objects(follower: LogFollower) -> dict[str, float]:
    """CameraChannels kopf reports resumed (its "Resuming is processed" line), and when."""
    seen: dict[str, float] = {}
    for stamp, line in follower.lines():
        if "Resuming is processed" in str(line.get("message", "")):
            name = (line.get("object") or {}).get("name")
            if name:
                seen.setdefault(name, stamp)
    return seen


def restart(
    plane: ControlPlane,
    old: Operator,
    start_operator: Callable[[str], Operator],
    namespace: str,
    channels: int,
    after_s: float,
    timeout_s: float,
) -> tuple[dict[str, Any], Operator]:
    """SIGTERM the operator and start another with every channel present; returns the numbers and the new one.

    Re-checked: the refresher's first round after the start has gone over every channel (its log line), or, for
    an operator whose refresher does not say so, kopf has resumed every channel. Then `after_s` more (at least a
    refresh round) before the workers are compared: a changed generation or pod template is a rollout.
    """
    before = workers_state(plane, namespace)
    requests_before = plane.apiserver_requests()
    old.stop()
    new = start_operator("restarted")
    follower = LogFollower(new.log_path)
    try:

        def rechecked() -> float | None:
            new.check_alive()
            first = follower.first(
                lambda line: FIRST_ROUND in str(line.get("message", "")) and line.get("channels", 0) >= channels
            )
            resumed = _resumed_objects(follower)
            everyone = max(resumed.values()) if len(resumed) >= channels else None
            done = [stamp for stamp in (first, everyone) if stamp is not None]
            return min(done) if done else None

        done_at = poll("every channel re-checked after the restart", rechecked, timeout_s, interval_s=0.2)
        resumed = len(_resumed_objects(follower))
        time.sleep(after_s)
        new.check_alive()
        after = workers_state(plane, namespace)
        window_s = time.monotonic() - new.started
        requests = request_delta(requests_before, plane.apiserver_requests())
    finally:
        follower.stop()
    return {
        "channels": channels,
        "rechecked_s": done_at - new.started,
        "kopf_resumed": resumed,
        "window_s": window_s,
        "rollout": rolled(before, after),
        "requests": requests,
        "cpu_s": new.cpu_s(),
        **new.memory(),
    }, new


def failover(
    plane: ControlPlane,
    watcher: Watcher,
    leader: Operator,
    start_operator: Callable[[str], Operator],
    namespace: str,
    timeout_s: float,
) -> tuple[dict[str, Any], Operator]:
    """A standby beside `leader`, then SIGKILL of the leader: when the standby holds the Lease, and when a
    CameraChannel created right after the kill has its Deployment. Returns the numbers and the new leader."""
    leader_name = poll("the leader's Lease", lambda: plane.lease_holder(LEASE_NAMESPACE, LEASE_NAME), 60)
    standby = start_operator("standby")
    follower = LogFollower(standby.log_path)
    try:
        poll(
            "the standby to stand by",
            lambda: standby.check_alive() or follower.first(lambda line: "standing by" in str(line.get("message"))),
            60,
        )
    finally:
        follower.stop()
    identity = standby.identity
    plane.create_namespace(namespace)
    key = (namespace, "cam-after-kill")
    watcher.expect([key])
    body = camera_channel(namespace, key[1], "bench_failover_0", 0)
    killed = time.monotonic()
    leader.kill()
    plane.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body, _request_timeout=30)
    created = time.monotonic()
    poll(
        "the standby to hold the Lease",
        lambda: standby.check_alive() or plane.lease_holder(LEASE_NAMESPACE, LEASE_NAME) == identity,
        timeout_s,
        interval_s=0.05,
    )
    held = time.monotonic()
    watcher.wait("the new CameraChannel's Deployment", lambda: key in watcher.deployment_seen, timeout_s)
    with watcher.changed:
        deployed = watcher.deployment_seen[key]
    return {
        "killed_leader": leader_name,
        "new_leader": identity,
        "created_after_kill_ms": 1000 * (created - killed),
        "kill_to_lease_s": held - killed,
        "kill_to_deployment_s": deployed - killed,
    }, standby


def report_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    baseline, idle = results.get("baseline"), results["idle"]
    if baseline:
        lines.append(
            f"control plane alone (no operator, no channels), {baseline['seconds']:.0f} s: "
            f"{baseline['requests_per_s']:.2f} requests/s {json.dumps(baseline['requests'], sort_keys=True)}"
        )
    lines.append(
        f"API server requests while idle with {idle['channels']} channels and the operator, {idle['seconds']:.0f} s: "
        f"{idle['requests_per_s']:.2f} requests/s in all, {idle['operator_requests_per_s']:.2f}/s the operator's "
        f"(marked *; the rest is the controller manager still rolling out new Deployments), "
        f"{idle['status_patches']} CameraChannel PATCHes"
    )
    mine = operator_share(idle["requests"])
    for key, count in sorted(idle["requests"].items(), key=lambda item: -item[1]):
        lines.append(f"  {'*' if key in mine else ' '} {key:<40} {count:>7}  {count / idle['seconds']:>8.2f} /s")
    if results.get("restart"):
        restart_ = results["restart"]
        roll = restart_["rollout"]
        mine = operator_share(restart_["requests"])
        writes = {k: v for k, v in mine.items() if k.split()[0] in ("POST", "PUT", "PATCH", "DELETE")}
        lines += [
            f"operator restart (SIGTERM, a new process) with {restart_['channels']} channels present: every channel "
            f"re-checked {restart_['rechecked_s']:.1f} s after the start (kopf resumed {restart_['kopf_resumed']}); "
            f"after {restart_['window_s']:.0f} s: {roll['generation_changed']} of {roll['workers']} worker "
            f"Deployments changed generation, {roll['template_changed']} pod templates changed, "
            f"{roll['missing']} missing",
            f"  the operator's requests from the stop to then: {sum(mine.values())}, of them writes "
            f"{json.dumps(writes, sort_keys=True)}; the new operator: {restart_['cpu_s']:.1f} CPU s, "
            f"RSS {restart_['rss_mib']:.0f} MiB",
        ]
    if results.get("failover"):
        fail = results["failover"]
        lines.append(
            f"failover (SIGKILL of the leader {fail['killed_leader']}, a standby running): the standby held the Lease "
            f"{fail['kill_to_lease_s']:.1f} s after the kill; a CameraChannel created "
            f"{fail['created_after_kill_ms']:.0f} ms after the kill had its Deployment "
            f"{fail['kill_to_deployment_s']:.1f} s after the kill; unchanged workers rolled by the new leader: "
            f"{fail['rollout']['generation_changed']} generations, {fail['rollout']['template_changed']} templates"
        )
    if results.get("heartbeats"):
        beats = results["heartbeats"]
        running = (
            f"after {beats['all_running_s']:.0f} s" if beats["all_running_s"] is not None else "not within the window"
        )
        lines.append(
            f"{beats['channels']} workers heartbeating at once (every 2 s, counts moving), {beats['seconds']:.0f} s: "
            f"{beats['status_patches']} status PATCHes ({beats['status_patches_per_s']:.1f}/s; the refresher's cap "
            f"{results['status_writes_per_s']:g}/s), {beats['deferred']:.0f} changed statuses left to a later round; "
            f"all Running {running} ({beats['running_at_end']} at the end)"
        )
    return lines
