"""The operator's numbers on a real control plane: how long from a CameraChannel applied to its worker Deployment
existing and to its status written, for 1 and 50 channels created at once; how long a spec change takes to reach
the Deployment's pod template and the status; and what the operator process costs (CPU seconds, RSS, and CPU over
an idle window with every channel present, which is the refresher's steady-state cost). Printed as a table and
written as JSON (`--json-out`, default ~/.cache/footfall/bench/operator-<time>.json); never asserted.

    make bench                                          # ... and this, with --channels 1,50
    .venv/bin/python bench/operator_bench.py --channels 1,50 --repeats 3

Real parts only, all private and removed at the end (Ctrl+C included): etcd + kube-apiserver +
kube-controller-manager from hack/kube.sh on free loopback ports, the CRD from `footfall-operator crd`, a real
`footfall-operator` process (JSON log kept beside the JSON, in operator-<time>/operator.log) with the production
status interval (10 s), and a redis-server for the live state it reads. No kubelet: worker Pods stay Pending,
which is all the operator needs to see. Every camera source is 127.0.0.1.

Times are taken in this process from two watches (Deployments labelled managed-by=footfall-operator, and
CameraChannels), started before anything is created; "applied" is the moment the create (or patch) call returned.
The idle window (after --settle-seconds, so the statuses have settled) takes the operator's CPU from /proc and
counts the refresher's reconciles by its Deployment reads (one per channel per round) in the API server's
apiserver_request_total.
"""

import argparse
import json
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from footfall_operator.children import CONFIG_HASH_ANNOTATION, MANAGED_BY, worker_name
from footfall_operator.crd import GROUP, PLURAL, VERSION

REPO = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "footfall"
VENV_BIN = REPO / ".venv" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"
MANAGED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"
Key = tuple[str, str]  # (namespace, CameraChannel name)


# -- private processes: control plane, redis, operator ---------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port_range(offsets: tuple[int, ...]) -> int:
    """A base port with base + every offset free (kube.sh derives the controller manager's and etcd's extra ports)."""
    for _ in range(100):
        base = free_port()
        if base + max(offsets) < 65535 and all(_port_free(base + offset) for offset in offsets):
            return base
    raise RuntimeError("no free loopback port range for the control plane")


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager through hack/kube.sh, under a private name and run dir."""

    def __init__(self, run_dir: Path, name: str = "kube-bench") -> None:
        self.name = name
        self.run_dir = run_dir
        self.port = free_port_range((0, 1))
        self.etcd_port = free_port_range((0, 10, 20))

    def _script(self, command: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "FOOTFALL_KUBE_NAME": self.name,
            "FOOTFALL_RUN_DIR": str(self.run_dir),
            "FOOTFALL_KUBE_PORT": str(self.port),
            "FOOTFALL_ETCD_PORT": str(self.etcd_port),
        }
        return subprocess.run(
            [str(REPO / "hack" / "kube.sh"), command], env=env, capture_output=True, text=True, timeout=timeout_s
        )

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / self.name / "kubeconfig"

    def start(self) -> None:
        done = self._script("start", timeout_s=900)
        if done.returncode != 0:
            raise RuntimeError(f"the control plane did not start:\n{done.stderr[-4000:]}")
        self.kubectl_path = Path(self._script("bin", timeout_s=30).stdout.strip()) / "kubectl"
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        self.api_client = kubernetes.client.ApiClient(configuration)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.apps = kubernetes.client.AppsV1Api(self.api_client)
        self.custom = kubernetes.client.CustomObjectsApi(self.api_client)

    def stop(self) -> None:
        self._script("stop", timeout_s=60)

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        done = subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def create_namespace(self, name: str) -> None:
        """A namespace with its default ServiceAccount (made by the controller manager; Pods need it)."""
        self.core.create_namespace({"metadata": {"name": name}})

        def has_service_account() -> bool:
            try:
                self.core.read_namespaced_service_account("default", name)
            except ApiException:
                return False
            return True

        poll(f"namespace {name}'s service account", has_service_account, timeout_s=60)

    def apiserver_requests(self) -> Counter[str]:
        """apiserver_request_total from the API server's /metrics, summed by "VERB resource[/subresource]"."""
        configuration = self.api_client.configuration
        request = urllib.request.Request(
            f"{configuration.host}/metrics", headers={"Authorization": configuration.api_key["BearerToken"]}
        )
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            text = response.read().decode()
        counts: Counter[str] = Counter()
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels_text, value = line[len("apiserver_request_total{") :].rsplit("} ", 1)
            labels = dict(part.split("=", 1) for part in labels_text.split('",') if "=" in part)
            labels = {k: v.strip('"') for k, v in labels.items()}
            resource = labels.get("resource", "") + (f"/{labels['subresource']}" if labels.get("subresource") else "")
            counts[f"{labels.get('verb', '?')} {resource or '-'}"] += int(float(value))
        return counts


class RedisServer:
    """A throwaway redis-server on a free loopback port (no persistence): the live state the operator reads."""

    def __init__(self, work_dir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.dir = work_dir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        command += ["--daemonize", "no", "--dir", str(self.dir)]
        with (self.dir / "redis.log").open("ab") as log_file:
            # its own session: a Ctrl+C reaches the bench alone, which then stops everything in order
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        poll(f"redis-server on port {self.port}", self._ping, timeout_s=10, interval_s=0.02)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def _ping(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start: {(self.dir / 'redis.log').read_text()[-2000:]}")
        try:
            with socket.create_connection((HOST, self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        terminate(self.process)


class Operator:
    """`footfall-operator` as a process of its own, JSON logs to `log_path`, cluster-wide, default settings."""

    def __init__(self, kubeconfig: Path, redis_url: str, log_path: Path, status_interval_s: float) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "FOOTFALL_OPERATOR_REDIS_URL": redis_url,
            "FOOTFALL_OPERATOR_STATUS_INTERVAL_S": str(status_interval_s),
            "FOOTFALL_OPERATOR_LIVENESS_PORT": str(free_port()),
            "FOOTFALL_OPERATOR_LOG_FORMAT": "json",
            "FOOTFALL_WORKER_IMAGE": "registry.invalid/footfall:bench",
        }
        self.log_path = log_path
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "footfall-operator")],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"footfall-operator exited with {self.process.returncode}:\n{tail}")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the operator process so far (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory(self) -> dict[str, float]:
        """RSS and peak RSS in MiB, and threads (/proc/PID/status)."""
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
        return {"rss_mib": values["VmRSS"] / 1024, "peak_rss_mib": values["VmHWM"] / 1024, "threads": values["Threads"]}

    def log_severities(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                counts[str(json.loads(line).get("severity", "?"))] += 1
            except (json.JSONDecodeError, AttributeError):
                counts["not json"] += 1
        return counts

    def stop(self) -> int | None:
        return terminate(self.process, timeout_s=30)


def terminate(process: subprocess.Popen, timeout_s: float = 10) -> int | None:
    """SIGTERM, then SIGKILL after `timeout_s`; the exit code."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def poll(what: str, probe: Callable[[], Any], timeout_s: float, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# -- what the watches saw -------------------------------------------------------------------------------------


class Watcher:
    """Two watch threads stamping, on arrival, when each channel's Deployment first appeared, when its pod
    template's config hash changed, and when each CameraChannel's status.observedGeneration first reached N."""

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self.changed = threading.Condition()
        self.deployment_seen: dict[Key, float] = {}  # by the CameraChannel's key
        self.template_hashes: dict[Key, list[tuple[str, float]]] = {}  # each new hash and when it was first seen
        self.rolled_out: dict[Key, bool] = {}  # the controller manager has rolled out the Deployment's latest spec
        self.observed: dict[Key, dict[int, float]] = {}  # observedGeneration -> first seen
        self.failure: BaseException | None = None
        self._stopped = threading.Event()
        self._owner_of: dict[Key, Key] = {}  # (namespace, worker name) -> CameraChannel key

    def expect(self, keys: list[Key]) -> None:
        with self.changed:
            self._owner_of.update({(ns, worker_name(name)): (ns, name) for ns, name in keys})

    def start(self) -> None:
        watches = [
            ("deployments", self._plane.apps.list_deployment_for_all_namespaces, {"label_selector": MANAGED_SELECTOR}),
            (
                "camerachannels",
                self._plane.custom.list_cluster_custom_object,
                {"group": GROUP, "version": VERSION, "plural": PLURAL},
            ),
        ]
        for name, list_call, kwargs in watches:
            on_event = self._on_deployment if name == "deployments" else self._on_channel
            thread = threading.Thread(
                target=self._watch, args=(list_call, kwargs, on_event), name=f"watch-{name}", daemon=True
            )
            thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self, list_call: Callable[..., Any], kwargs: dict[str, Any], on_event: Callable) -> None:
        try:
            listing = list_call(**kwargs, _preload_content=False)
            resource_version = json.loads(listing.data)["metadata"]["resourceVersion"]
            while not self._stopped.is_set():
                stream = kubernetes.watch.Watch().stream(
                    list_call, **kwargs, resource_version=resource_version, timeout_seconds=60, deserialize=False
                )
                try:
                    for event in stream:
                        arrived = time.monotonic()
                        if event["type"] in ("ADDED", "MODIFIED"):
                            on_event(arrived, event["object"])
                        resource_version = event["object"]["metadata"]["resourceVersion"]
                except ApiException as error:
                    if error.status != 410:
                        raise
                    listing = list_call(**kwargs, _preload_content=False)  # expired: list again, watch on
                    resource_version = json.loads(listing.data)["metadata"]["resourceVersion"]
        except BaseException as error:  # handed to the main thread, which reports it
            if not self._stopped.is_set():
                with self.changed:
                    self.failure = error
                    self.changed.notify_all()

    def _on_deployment(self, arrived: float, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        config_hash = (template.get("annotations") or {}).get(CONFIG_HASH_ANNOTATION, "")
        status = obj.get("status") or {}
        rolled_out = status.get("observedGeneration", 0) >= metadata.get("generation", 0) and status.get(
            "updatedReplicas", 0
        ) >= (obj.get("spec") or {}).get("replicas", 1)
        with self.changed:
            key = self._owner_of.get((metadata["namespace"], metadata["name"]))
            if key is None:
                return
            self.deployment_seen.setdefault(key, arrived)
            self.rolled_out[key] = rolled_out
            hashes = self.template_hashes.setdefault(key, [])
            if not hashes or hashes[-1][0] != config_hash:
                hashes.append((config_hash, arrived))
            self.changed.notify_all()

    def _on_channel(self, arrived: float, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        generation = (obj.get("status") or {}).get("observedGeneration")
        if not isinstance(generation, int):
            return
        with self.changed:
            self.observed.setdefault((metadata["namespace"], metadata["name"]), {}).setdefault(generation, arrived)
            self.changed.notify_all()

    def wait(self, what: str, done: Callable[[], bool], timeout_s: float) -> None:
        """Until `done()` (called under the lock) holds; raises on timeout or a failed watch."""
        with self.changed:
            finished = self.changed.wait_for(lambda: self.failure is not None or done(), timeout_s)
            if self.failure is not None:
                raise RuntimeError(f"a watch failed: {self.failure!r}") from self.failure
            if not finished:
                raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# -- scenarios ------------------------------------------------------------------------------------------------


def camera_channel(namespace: str, name: str, channel_id: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CameraChannel",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "store": "benchstore",
            "channelId": channel_id,  # claimed across the whole cluster, so unique per scenario
            "displayName": f"bench {name}",
            "source": {"host": HOST, "port": 8554, "channel": index % 256 + 1},
        },
    }


def percentile(values: list[float], p: float) -> float:
    """Nearest rank (so p95 of fewer than 20 values is the max)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95), "max": max(ms)}


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


# -- report ---------------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    lines = [
        f"operator bench: status interval {results['status_interval_s']:g} s, {os.cpu_count()} CPUs, "
        f"kube-apiserver v1.20.2 on 127.0.0.1 (no kubelet); load average {results['loadavg_start'][0]:.2f} at the "
        f"start, {results['loadavg_end'][0]:.2f} at the end; commit {results['commit']}"
        + (" (operator/ modified)" if results["operator_tree_dirty"] else ""),
        "applied = the create/patch call returned; times are when this process's watches saw the change",
        "",
        f"{'scenario':<18} {'create calls':>12}  {'applied -> Deployment ms':>26}  {'applied -> status ms':>26}"
        f"  {'all done':>9}",
        f"{'':<18} {'s':>12}  {'p50':>8} {'p95':>8} {'max':>8}  {'p50':>8} {'p95':>8} {'max':>8}  {'s':>9}",
    ]
    for group in results["scenarios"]:
        deployment, status = group["to_deployment_ms"], group["to_status_ms"]
        runs = group["runs"]
        name = f"{group['channels']} ch" + (f" x {len(runs)} runs" if len(runs) > 1 else "")
        create = max(run["create_calls_s"] for run in runs)
        done = max(run["all_done_s"] for run in runs)
        lines.append(
            f"{name:<18} {create:>12.3f}  {deployment['p50']:>8.0f} {deployment['p95']:>8.0f} {deployment['max']:>8.0f}"
            f"  {status['p50']:>8.0f} {status['p95']:>8.0f} {status['max']:>8.0f}  {done:>9.3f}"
        )
    lines += [
        "",
        f"{'spec change (everyNFrames 1->2)':<34} {'-> template hash ms':>20}  {'-> observedGeneration 2 ms':>27}",
    ]
    for group in results["scenarios"]:
        for run in group["runs"]:
            lines.append(
                f"{'1 of ' + str(run['channels']) + ' ch (' + run['namespace'] + ')':<34} "
                f"{run['update_to_template_s'] * 1000:>20.0f}  {run['update_to_status_s'] * 1000:>27.0f}"
            )
    cpu = ", ".join(
        f"{g['channels']} ch {sum(r['operator_cpu_s'] for r in g['runs']):.2f} s" for g in results["scenarios"]
    )
    idle = results["idle"]
    end = results["operator_end"]
    lines += [
        "",
        f"operator CPU during the runs (create + change, all repeats): {cpu}",
        f"operator idle with {idle['channels']} channels: {idle['cpu_s']:.2f} CPU s in {idle['seconds']:.0f} s "
        f"({idle['cpu_percent']:.1f} % of a core), {idle['refresher_reconciles']} refresher reconciles "
        f"({idle['refresher_rounds']:.2f} rounds of {idle['channels']})",
        f"  = {idle['cpu_ms_per_reconcile']:.1f} ms CPU per channel reconcile, {idle['cpu_ms_per_round']:.0f} ms per "
        f"round; API: {idle['deployment_reads']} Deployment + {idle['configmap_reads']} ConfigMap reads, "
        f"{idle['status_patches']} status PATCHes",
        f"operator at the end: {end['cpu_s']:.2f} CPU s since start ({end['uptime_s']:.0f} s up), "
        f"RSS {end['rss_mib']:.0f} MiB (peak {end['peak_rss_mib']:.0f}), {end['threads']} threads; "
        f"log lines by severity {json.dumps(results['operator_log_severities'], sort_keys=True)}, "
        f"{results['operator_log_lost_races']} 'lost a race' (a 409 on a child, left to the refresher)",
    ]
    return "\n".join(lines)


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "?"


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

    redis = RedisServer(work)
    stack.callback(redis.stop)
    operator = Operator(plane.kubeconfig, redis.url, out_dir / "operator.log", args.status_interval)
    stack.callback(operator.stop)
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
                remove_channels(plane, run.namespace)
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

    # Steady state with the largest count present: the refresher's rounds, nothing else happening.
    print(f"settling {args.settle_seconds:.0f} s, then {args.idle_seconds:.0f} s idle ...", flush=True)
    time.sleep(args.settle_seconds)
    operator.check_alive()
    requests_before, cpu_before, idle_began = plane.apiserver_requests(), operator.cpu_s(), time.monotonic()
    time.sleep(args.idle_seconds)
    requests_after, cpu_after, idle_s = plane.apiserver_requests(), operator.cpu_s(), time.monotonic() - idle_began
    operator.check_alive()
    requests = {key: requests_after[key] - requests_before.get(key, 0) for key in requests_after}
    requests = {key: value for key, value in sorted(requests.items()) if value and not key.startswith("WATCH")}
    # Only the refresher reads a channel's Deployment while nothing changes (each reconcile reads it once; the
    # controller manager watches instead), so those reads count its reconciles; a window cuts rounds, hence
    # per reconcile. LIST camerachannels does not count rounds: the controller manager lists every resource too.
    reconciles = requests.get("GET deployments", 0)
    idle_cpu = cpu_after - cpu_before
    idle = {
        "channels": counts[-1],
        "seconds": idle_s,
        "cpu_s": idle_cpu,
        "cpu_percent": 100 * idle_cpu / idle_s,
        "refresher_reconciles": reconciles,
        "refresher_rounds": reconciles / counts[-1],
        "status_patches": requests.get("PATCH camerachannels/status", 0),
        "deployment_reads": requests.get("GET deployments", 0),
        "configmap_reads": requests.get("GET configmaps", 0),
        "cpu_ms_per_reconcile": 1000 * idle_cpu / reconciles if reconciles else None,
        "cpu_ms_per_round": 1000 * idle_cpu / reconciles * counts[-1] if reconciles else None,
        "apiserver_requests_all_clients": requests,
    }
    operator_end = {"cpu_s": operator.cpu_s(), "uptime_s": time.monotonic() - operator.started, **operator.memory()}
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "operator_tree_dirty": bool(git("status", "--porcelain", "operator/")),
        "status_interval_s": args.status_interval,
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg_start,
        "loadavg_end": os.getloadavg(),
        "operator_ready_s": operator_ready_s,
        "scenarios": scenarios,
        "idle": idle,
        "operator_end": operator_end,
        "operator_log": str(operator.log_path),
        "operator_log_severities": dict(operator.log_severities()),
        "operator_log_lost_races": operator.log_path.read_text(errors="replace").count("lost a race"),
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
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = args.json_out or CACHE / "bench" / f"operator-{stamp}.json"
    out_dir = out.with_suffix("")  # operator-<time>/ beside the JSON: the operator's log
    out_dir.mkdir(parents=True, exist_ok=True)
    with interrupted_by_sigterm(), ExitStack() as stack:
        try:
            results = bench(args, stack, out_dir)
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the operator, redis and the control plane", file=sys.stderr)
            return 130
    print("\n" + report(results))
    out.write_text(json.dumps(results, indent=2))
    print(f"written: {out} (operator log: {results['operator_log']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
