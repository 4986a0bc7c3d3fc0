"""A private Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) for a test module, started
through hack/kube.sh on free loopback ports, and the operator as a real `footfall-operator` process against it."""

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from tests.support.paths import REPO_ROOT, free_port

T = TypeVar("T")
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def ports_with_offsets(offsets: tuple[int, ...]) -> int:
    """A base port such that base + every offset is free (etcd derives its peer and metrics ports)."""
    for _ in range(100):
        base = free_port()
        if base + max(offsets) < 65535 and all(_port_free(base + offset) for offset in offsets):
            return base
    raise RuntimeError("no free loopback port range for the test control plane")


def wait_until(what: str, probe: Callable[[], T | None], timeout_s: float = 30.0, interval_s: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last seen: {last!r}")


def api_client_for(kubeconfig: Path) -> kubernetes.client.ApiClient:
    """A Python client of the cluster a kubeconfig names (its own Configuration, never the process default)."""
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return kubernetes.client.ApiClient(configuration)


def apiserver_requests(api_client: kubernetes.client.ApiClient) -> Counter[str]:
    """apiserver_request_total from the API server's /metrics, summed by "VERB resource[/subresource]"."""
    configuration = api_client.configuration
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
        labels = {k: v.strip('"') for k, v in (part.split("=", 1) for part in labels_text.split('",') if "=" in part)}
        resource = labels.get("resource", "") + (f"/{labels['subresource']}" if labels.get("subresource") else "")
        counts[f"{labels.get('verb', '?')} {resource or '-'}"] += int(float(value))
    return counts


@dataclass
class KubeCluster:
    """One control plane; `kubectl(...)` runs the real kubectl against it, `api` is a Python client."""

    name: str
    run_dir: Path
    port: int = field(default_factory=lambda: ports_with_offsets((0, 1)))
    etcd_port: int = field(default_factory=lambda: ports_with_offsets((0, 10, 20)))

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FOOTFALL_KUBE_NAME": self.name,
            "FOOTFALL_RUN_DIR": str(self.run_dir),
            "FOOTFALL_KUBE_PORT": str(self.port),
            "FOOTFALL_ETCD_PORT": str(self.etcd_port),
        }

    def _script(self, command: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO_ROOT / "hack" / "kube.sh"), command],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / self.name / "kubeconfig"

    @property
    def bin_dir(self) -> Path:
        return Path(self._script("bin").stdout.strip())

    def start(self, attempts: int = 3) -> None:
        for attempt in range(1, attempts + 1):
            done = self._script("start")
            if done.returncode == 0:
                break
            if "address already in use" in done.stderr and attempt < attempts:
                # the ports were free when picked; another process took one since: pick again
                self.port = ports_with_offsets((0, 1))
                self.etcd_port = ports_with_offsets((0, 10, 20))
                continue
            # Fail loudly: the operator tests need a real API server and never skip themselves.
            raise RuntimeError(f"the test control plane did not start:\n{done.stderr[-4000:]}")
        self._bin = self.bin_dir
        self.api_client = api_client_for(self.kubeconfig)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.apps = kubernetes.client.AppsV1Api(self.api_client)
        self.custom = kubernetes.client.CustomObjectsApi(self.api_client)
        self.extensions = kubernetes.client.ApiextensionsV1Api(self.api_client)
        # The controller manager creates the default ServiceAccount a namespace needs before Pods can exist.
        wait_until("the default namespace's service account", lambda: self._has_default_service_account(), 60)

    def _has_default_service_account(self) -> bool:
        try:
            self.core.read_namespaced_service_account("default", "default")
        except ApiException:
            return False
        return True

    def stop(self) -> None:
        self._script("stop", timeout_s=60)

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig authenticating as a ServiceAccount (its token Secret, made by the controller manager), so a
        process run with it has exactly the permissions RBAC grants that account."""

        def token() -> str | None:
            account = self.core.read_namespaced_service_account(name, namespace)
            for ref in account.secrets or []:
                secret = self.core.read_namespaced_secret(ref.name, namespace)
                if secret.type == "kubernetes.io/service-account-token" and (secret.data or {}).get("token"):
                    return base64.b64decode(secret.data["token"]).decode()
            return None

        value = wait_until(f"a token for service account {namespace}/{name}", token, 60)
        path = self.run_dir / f"sa-{namespace}-{name}.kubeconfig"
        admin = yaml.safe_load(self.kubeconfig.read_text())
        admin["users"] = [{"name": "sa", "user": {"token": value}}]
        admin["contexts"] = [{"name": "sa", "context": {"cluster": admin["clusters"][0]["name"], "user": "sa"}}]
        admin["current-context"] = "sa"
        path.write_text(yaml.safe_dump(admin))
        path.chmod(0o600)
        return path

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self._bin / "helm"), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def kubectl(self, *args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self._bin / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def plain(self, obj: Any) -> dict[str, Any]:
        return self.api_client.sanitize_for_serialization(obj)

    def server_version(self) -> str:
        """The API server's version (v1.20.2), as `helm install` would learn it."""
        return str(kubernetes.client.VersionApi(self.api_client).get_code(_request_timeout=10).git_version)

    def create_namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})
        wait_until(f"namespace {name}'s service account", lambda: self._service_account_in(name), 60)

    def apiserver_requests(self) -> Counter[str]:
        """apiserver_request_total from the API server's /metrics, summed by "VERB resource[/subresource]"."""
        return apiserver_requests(self.api_client)

    def lease_holder(self, namespace: str, name: str) -> str | None:
        """A Lease's holderIdentity; None when there is no such Lease or nobody holds it."""
        try:
            lease = kubernetes.client.CoordinationV1Api(self.api_client).read_namespaced_lease(
                name, namespace, _request_timeout=10
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return lease.spec.holder_identity or None

    def _service_account_in(self, namespace: str) -> bool:
        try:
            self.core.read_namespaced_service_account("default", namespace)
        except ApiException:
            return False
        return True


@dataclass
class OperatorProcess:
    """`footfall-operator` as its own process (JSON logs to a file), the way a pod runs it."""

    cluster: KubeCluster
    log_path: Path
    redis_url: str
    status_interval_s: float = 1.0
    live_stale_after_s: float = 5.0
    extra_env: dict[str, str] = field(default_factory=dict)
    kubeconfig: Path | None = None  # default: the cluster's admin
    liveness_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig or self.cluster.kubeconfig),
            "FOOTFALL_OPERATOR_REDIS_URL": self.redis_url,
            "FOOTFALL_OPERATOR_STATUS_INTERVAL_S": str(self.status_interval_s),
            "FOOTFALL_OPERATOR_LIVE_STALE_AFTER_S": str(self.live_stale_after_s),
            "FOOTFALL_WORKER_IMAGE": "registry.test/footfall:test",
            **self.extra_env,
            "FOOTFALL_OPERATOR_LIVENESS_PORT": str(self.liveness_port),
        }
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "footfall-operator")], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code

    def kill(self) -> int:
        """SIGKILL: a node lost or an OOM kill; nothing is released."""
        assert self.process is not None
        self.process.kill()
        code = self.process.wait(timeout=30)
        self._log.close()
        return code

    def status(self) -> dict[str, Any]:
        """The operator's own /status document (probe verdicts and its role)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/status", timeout=5) as response:
            return json.loads(response.read())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
