"""The operator bench's private processes: a control plane (etcd, kube-apiserver, kube-controller-manager through
hack/kube.sh), a redis-server and `footfall-operator` itself, each on free 127.0.0.1 ports and stopped by the bench.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from tests.support import kube
from tests.support.paths import free_port

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager through hack/kube.sh, under a private name and run dir."""

    def __init__(self, run_dir: Path, name: str = "kube-bench") -> None:
        self.name = name
        self.run_dir = run_dir
        self.port = kube.ports_with_offsets((0, 1))
        self.etcd_port = kube.ports_with_offsets((0, 10, 20))

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
        self.coordination = kubernetes.client.CoordinationV1Api(self.api_client)

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

    def lease_holder(self, namespace: str, name: str) -> str | None:
        """The Lease's holderIdentity, None when there is no Lease (or nobody holds it)."""
        try:
            lease = self.coordination.read_namespaced_lease(name, namespace, _request_timeout=5)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return lease.spec.holder_identity or None

    def apiserver_requests(self) -> Counter[str]:
        """apiserver_request_total from the API server's /metrics, summed by "VERB resource[/subresource]"."""
        return kube.apiserver_requests(self.api_client)


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
    """`footfall-operator` as a process of its own, JSON logs to `log_path`, cluster-wide, default settings.

    `extra_env` adds settings (the bench's leader election: a Lease namespace and this replica's identity)."""

    def __init__(
        self,
        kubeconfig: Path,
        redis_url: str,
        log_path: Path,
        status_interval_s: float,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "FOOTFALL_OPERATOR_REDIS_URL": redis_url,
            "FOOTFALL_OPERATOR_STATUS_INTERVAL_S": str(status_interval_s),
            "FOOTFALL_OPERATOR_LIVENESS_PORT": str(free_port()),
            "FOOTFALL_OPERATOR_LOG_FORMAT": "json",
            "FOOTFALL_WORKER_IMAGE": "registry.invalid/footfall:bench",
            **(extra_env or {}),
        }
        self.health_port = int(env["FOOTFALL_OPERATOR_LIVENESS_PORT"])
        self.identity = env.get("FOOTFALL_OPERATOR_POD_NAME", "")
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

    def kill(self) -> None:
        """SIGKILL: a crashed node or an OOM kill, nothing released."""
        self.process.kill()
        self.process.wait()

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
