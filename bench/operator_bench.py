"""The operator's numbers on a real control plane: how long from a CameraChannel applied to its worker Deployment
existing and to its status written, for 1, 50 and 1 000 channels created at once; how long a spec change takes to
reach the Deployment's pod template and the status; what the operator process costs (CPU seconds, RSS, CPU over an
idle window with every channel present); the API server's request rate in that window, by verb and resource; an
operator restart with every channel present (time until all are re-checked; worker Deployments whose generation or
pod template changed, which must be none); and a failover between two replicas (SIGKILL of the leader, the standby
taking the Lease, a CameraChannel created after the kill getting its Deployment). Printed as a table and written as
JSON (`--json-out`, default ~/.cache/footfall/bench/operator-<time>.json); never asserted.

    make bench                                          # ... and this, with --channels 1,50,1000
    .venv/bin/python bench/operator_bench.py --channels 1,50 --repeats 3

Real parts only, all private and removed at the end (Ctrl+C included): etcd + kube-apiserver +
kube-controller-manager from hack/kube.sh on free loopback ports, the CRD from `footfall-operator crd`, real
`footfall-operator` processes (JSON logs beside the JSON, in operator-<time>/) with the production status interval
(10 s) and leader election on a Lease, and a redis-server for the live state they read. No kubelet: worker Pods stay
Pending, which is all the operator needs to see. Every camera source is 127.0.0.1.

Times are taken in this process from two watches (Deployments labelled managed-by=footfall-operator, and
CameraChannels), started before anything is created; "applied" is the moment the create (or patch) call returned.
Parts: operator_bench_procs.py (the processes), operator_bench_watch.py (watches, log follower),
operator_bench_scale.py (idle, restart, failover), operator_bench_heartbeats.py (every worker heartbeating),
operator_bench_report.py (the table).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.support (as other benches)

import operator_bench_heartbeats  # noqa: E402
import operator_bench_scale as scale  # noqa: E402
from operator_bench_procs import VENV_BIN, ControlPlane, Operator, RedisServer, poll  # noqa: E402
from operator_bench_report import git, report, severities  # noqa: E402
from operator_bench_watch import MANAGED_SELECTOR, Key, Watcher, camera_channel, summary_ms  # noqa: E402

from footfall_operator.crd import GROUP, PLURAL, VERSION  # noqa: E402
from footfall_operator.settings import OperatorSettings  # noqa: E402

CACHE = Path.home() / ".cache" / "footfall"


@dataclass
class Run:
    """One scenario run: `channels` CameraChannels created at once in a fresh namespace, then one spec change."""

    channels: int
    namespace: str
    create_calls_s: float = 0.0  # first create call to last create returned
    to_deployment_s: list[float] = field(default_factory=list)
    to_status_s: list[float] = field(default_factory=list)
    all_done_s: float = 0.0  # first create call to the last Deployment and status seen
    update_to_template_s: float | None = None
    update_to_status_s: float | None = None
    operator_cpu_s: float = 0.0  # during the run


def run_once(
    plane: ControlPlane, watcher: Watcher, operator: Operator, channels: int, label: str, timeout_s: float
) -> Run:
    namespace = f"bench-{label}"
    plane.create_namespace(namespace)
    names = [f"cam-{i:03d}" for i in range(channels)]
    keys = [(namespace, name) for name in names]
    watcher.expect(keys)
    bodies = [
        camera_channel(namespace, name, f"bench_{label}_{i}".replace("-", "_"), i) for i, name in enumerate(names)
    ]
    run = Run(channels, namespace)
    cpu_before = operator.cpu_s()
    applied: dict[Key, float] = {}
    began = time.monotonic()
    for key, body in zip(keys, bodies, strict=True):
        plane.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        applied[key] = time.monotonic()
    run.create_calls_s = time.monotonic() - began

    def all_reconciled() -> bool:
        return all(key in watcher.deployment_seen and 1 in watcher.observed.get(key, {}) for key in keys)

    watcher.wait(f"{channels} Deployments and statuses", all_reconciled, timeout_s)
    operator.check_alive()
    with watcher.changed:
        run.to_deployment_s = [watcher.deployment_seen[key] - applied[key] for key in keys]
        run.to_status_s = [watcher.observed[key][1] - applied[key] for key in keys]
        last = max(max(watcher.deployment_seen[key], watcher.observed[key][1]) for key in keys)
    run.all_done_s = last - began

    # A spec change on the first channel, once the controller manager has rolled its Deployment out (an edit of a
    # running channel): the pod template's config hash, and the status's observedGeneration.
    key = keys[0]
    watcher.wait("the first Deployment rolled out", lambda: watcher.rolled_out.get(key, False), timeout_s)
    with watcher.changed:
        hashes_before = len(watcher.template_hashes[key])
    patch = {"spec": {"processing": {"everyNFrames": 2}}}
    plane.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, key[1], patch)
    patched = time.monotonic()

    def updated() -> bool:
        return len(watcher.template_hashes[key]) > hashes_before and 2 in watcher.observed[key]

    watcher.wait("the spec change to reach the Deployment and the status", updated, timeout_s)
    with watcher.changed:
        run.update_to_template_s = watcher.template_hashes[key][hashes_before][1] - patched
        run.update_to_status_s = watcher.observed[key][2] - patched
    run.operator_cpu_s = operator.cpu_s() - cpu_before
    return run


def remove_channels(plane: ControlPlane, namespace: str, timeout_s: float = 120) -> None:
    """Delete a namespace's CameraChannels and wait until the garbage collector has removed their Deployments."""
    plane.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)

    def gone() -> bool:
        left = plane.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
        deployments = plane.apps.list_namespaced_deployment(namespace, label_selector=MANAGED_SELECTOR).items
        return not left and not deployments

    poll(f"the CameraChannels and Deployments of {namespace} to go", gone, timeout_s)


# -- main -----------------------------------------------------------------------------------------------------


@contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM as KeyboardInterrupt, so `finally` blocks run and everything is stopped."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_scenarios(
    args: argparse.Namespace, plane: ControlPlane, watcher: Watcher, operator: Operator, counts: list[int]
) -> list[dict[str, Any]]:
    scenarios = []
    for position, count in enumerate(counts):
        repeats = args.repeats if count == 1 else 1
        runs = []
        for repeat in range(repeats):
            label = f"{count}ch-{repeat + 1}"
            run = run_once(plane, watcher, operator, count, label, timeout_s=max(120, 5 * count))
            runs.append(run)
            print(
                f"  {label}: applied -> Deployment max {max(run.to_deployment_s) * 1000:.0f} ms, -> status max "
                f"{max(run.to_status_s) * 1000:.0f} ms, all done {run.all_done_s:.3f} s; change -> template "
                f"{run.update_to_template_s * 1000:.0f} ms, -> status {run.update_to_status_s * 1000:.0f} ms",
                flush=True,
            )
            last = position == len(counts) - 1 and repeat == repeats - 1
            if not last:
                remove_channels(plane, run.namespace, timeout_s=max(120, count))
        scenarios.append(
            {
                "channels": count,
                "to_deployment_ms": summary_ms([s for run in runs for s in run.to_deployment_s]),
                "to_status_ms": summary_ms([s for run in runs for s in run.to_status_s]),
                "update_to_template_ms": summary_ms([run.update_to_template_s or 0.0 for run in runs]),
                "update_to_status_ms": summary_ms([run.update_to_status_s or 0.0 for run in runs]),
                "runs": [asdict(run) for run in runs],
            }
        )
    return scenarios


def bench(args: argparse.Namespace, stack: ExitStack, out_dir: Path) -> dict[str, Any]:
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="footfall-operator-bench-")))
    counts = sorted({int(c) for c in args.channels.split(",")})
    loadavg_start = os.getloadavg()

    print("starting a private control plane (etcd, kube-apiserver, kube-controller-manager) ...", flush=True)
    plane = ControlPlane(work / "run")
    stack.callback(plane.stop)
    plane.start()
    crd = subprocess.run([str(VENV_BIN / "footfall-operator"), "crd"], capture_output=True, text=True, check=True)
    plane.kubectl("apply", "-f", "-", input_text=crd.stdout)
    plane.kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}", "--timeout=60s")
    plane.create_namespace(scale.LEASE_NAMESPACE)
    print(f"the control plane alone for {args.baseline_seconds:.0f} s ...", flush=True)
    baseline = scale.baseline_window(plane, args.baseline_seconds)

    redis = RedisServer(work)
    stack.callback(redis.stop)
    replicas = iter(range(1, 100))

    def start_operator(role: str) -> Operator:
        number = next(replicas)
        identity = f"bench-operator-{number}"
        # Every replica with leader election, as the chart runs them: the Lease in a namespace of its own.
        election = {
            "FOOTFALL_OPERATOR_LEADER_ELECTION_NAMESPACE": scale.LEASE_NAMESPACE,
            "FOOTFALL_OPERATOR_POD_NAME": identity,
        }
        log_path = out_dir / f"operator-{number}-{role}.log"
        started = Operator(plane.kubeconfig, redis.url, log_path, args.status_interval, extra_env=election)
        stack.callback(started.stop)
        return started

    operator = start_operator("first")
    watcher = Watcher(plane)
    watcher.start()
    stack.callback(watcher.stop)

    # A warm-up channel proves the operator and both watches are up before anything is timed, then goes.
    warmup = run_once(plane, watcher, operator, 1, "warmup", timeout_s=180)
    operator_ready_s = time.monotonic() - operator.started
    remove_channels(plane, "bench-warmup")
    print(
        f"operator up: warm-up channel reconciled {operator_ready_s:.1f} s after the operator started "
        f"(applied -> Deployment {warmup.to_deployment_s[0] * 1000:.0f} ms)",
        flush=True,
    )
    scenarios = run_scenarios(args, plane, watcher, operator, counts)
    largest = scenarios[-1]["runs"][-1]["namespace"]

    # Steady state with the largest count present: the refresher's rounds, nothing else happening.
    print(f"settling {args.settle_seconds:.0f} s, then {args.idle_seconds:.0f} s idle ...", flush=True)
    time.sleep(args.settle_seconds)
    operator.check_alive()
    idle = {"channels": counts[-1], **scale.idle_window(plane, operator, args.idle_seconds)}
    operator_idle_end = {
        "cpu_s": operator.cpu_s(),
        "uptime_s": time.monotonic() - operator.started,
        **operator.memory(),
    }
    logs = [operator.log_path]
    results: dict[str, Any] = {"baseline": baseline, "idle": idle}
    if args.restart:
        print(f"restarting the operator with {counts[-1]} channels present ...", flush=True)
        results["restart"], operator = scale.restart(
            plane, operator, start_operator, largest, counts[-1], after_s=args.status_interval * 2, timeout_s=600
        )
        logs.append(operator.log_path)
    if args.failover:
        print("a standby beside the operator, then SIGKILL of the operator ...", flush=True)
        before = scale.workers_state(plane, largest)
        results["failover"], operator = scale.failover(
            plane, watcher, operator, start_operator, "bench-failover", timeout_s=300
        )
        time.sleep(args.status_interval * 2)
        results["failover"]["rollout"] = scale.rolled(before, scale.workers_state(plane, largest))
        logs.append(operator.log_path)
    if args.heartbeat_seconds > 0:
        print(f"every worker heartbeating for {args.heartbeat_seconds:.0f} s ...", flush=True)
        ids = [f"bench_{largest.removeprefix('bench-')}_{i}".replace("-", "_") for i in range(counts[-1])]
        results["heartbeats"] = operator_bench_heartbeats.heartbeats(
            plane, operator, redis.url, largest, ids, args.heartbeat_seconds
        )
    text = "\n".join(path.read_text(errors="replace") for path in logs)
    return {
        **results,
        "commit": git("rev-parse", "--short", "HEAD"),
        "operator_tree_dirty": bool(git("status", "--porcelain", "operator/")),
        "status_interval_s": args.status_interval,
        "status_writes_per_s": OperatorSettings.model_fields["status_writes_per_s"].default,
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg_start,
        "loadavg_end": os.getloadavg(),
        "operator_ready_s": operator_ready_s,
        "scenarios": scenarios,
        "operator_idle_end": operator_idle_end,
        "operator_logs": [str(path) for path in logs],
        "operator_log_severities": dict(severities(text)),
        "operator_log_lost_races": text.count("lost a race"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", default="1,50", help="comma list of channel counts, each created at once")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the 1-channel case (larger counts: one)")
    parser.add_argument("--status-interval", type=float, default=10.0, help="FOOTFALL_OPERATOR_STATUS_INTERVAL_S")
    parser.add_argument(
        "--settle-seconds", type=float, default=20.0, help="wait before the idle window (statuses settle)"
    )
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="the idle window with every channel present")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="the control plane alone, measured first")
    parser.add_argument("--restart", action=argparse.BooleanOptionalAction, default=True, help="measure a restart")
    parser.add_argument("--failover", action=argparse.BooleanOptionalAction, default=True, help="measure a failover")
    parser.add_argument(
        "--heartbeat-seconds", type=float, default=60.0, help="every worker heartbeating at the end (0: skip)"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = args.json_out or CACHE / "bench" / f"operator-{stamp}.json"
    out_dir = out.with_suffix("")  # operator-<time>/ beside the JSON: the operators' logs
    out_dir.mkdir(parents=True, exist_ok=True)
    with interrupted_by_sigterm(), ExitStack() as stack:
        try:
            results = bench(args, stack, out_dir)
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the operators, redis and the control plane", file=sys.stderr)
            return 130
    print("\n" + report(results))
    out.write_text(json.dumps(results, indent=2))
    print(f"written: {out} (operator logs: {out_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
