"""The real single-node Kubernetes of hack/cluster.sh, for tests: brought up (idempotently) with Footfall's images
loaded, and driven the way a user drives it, with kubectl and helm, plus the host-side facts a test needs (a
container's PID for SIGSTOP).

Pods reach this machine at the pod bridge's gateway (GATEWAY): PostgreSQL and Redis through the node's
forwarders, cameras that a test starts on that address. A node that does not come up raises with its logs: a
missing kernel feature or package is a broken environment, never a reason to skip.
"""

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from tests.support.kube import api_client_for
from tests.support.paths import REPO_ROOT

GATEWAY = "10.244.0.1"
CLUSTER_SH = REPO_ROOT / "hack" / "cluster.sh"
IMAGES_SH = REPO_ROOT / "hack" / "images.sh"


class NodeError(RuntimeError):
    pass


def _run(command: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


@dataclass
class Node:
    """The node; `up()` starts it and loads the images (seconds when both are there already)."""

    timings: dict[str, float] = field(default_factory=dict)

    def up(self) -> "Node":
        for step, command, timeout_s in (
            ("node up", [str(CLUSTER_SH), "up"], 1800),
            ("images", [str(IMAGES_SH), "all"], 1800),
        ):
            started = time.monotonic()
            done = _run(command, timeout_s)
            self.timings[step] = round(time.monotonic() - started, 1)
            if done.returncode != 0:
                raise NodeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-6000:]}")
        self.kubeconfig = Path(node_environment()["KUBECONFIG"])
        self.bin_dir = Path(_run([str(REPO_ROOT / "hack" / "kube.sh"), "bin"], 30).stdout.strip())
        self.socket = _run([str(CLUSTER_SH), "socket"], 30).stdout.strip()
        self.api_client = api_client_for(self.kubeconfig)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.apps = kubernetes.client.AppsV1Api(self.api_client)
        self.custom = kubernetes.client.CustomObjectsApi(self.api_client)
        return self

    @staticmethod
    def running() -> bool:
        return _run([str(CLUSTER_SH), "status"], 60).returncode == 0

    def down(self) -> None:
        """Stop the node (its state and images stay for the next `up`)."""
        done = _run([str(CLUSTER_SH), "down"], 300)
        if done.returncode != 0:
            raise NodeError(f"cluster.sh down failed:\n{done.stderr[-3000:]}")

    # -- this machine's services as pods see them -----------------------------------------------------------------
    def cut_forwarder(self, service: str) -> None:
        """Pods lose `service` (postgres, redis): its forwarder and every connection through it are killed, so a
        connection fails at once and a new one is refused, as when a database goes away."""
        pid = int(Path(f"/var/lib/footfall-node/forward-{service}.pid").read_text())
        subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)  # one child per open connection
        os.kill(pid, 9)

    def restore_forwarders(self) -> None:
        done = _run([str(CLUSTER_SH), "up"], 300)  # idempotent: starts only what is not running
        if done.returncode != 0:
            raise NodeError(f"cluster.sh up failed:\n{done.stderr[-3000:]}")

    # -- the user's tools -----------------------------------------------------------------------------------------
    def _tool(
        self, name: str, args: tuple[str, ...], input_text: str | None, check: bool, timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin_dir / name), f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{name} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self._tool("kubectl", args, input_text, check, timeout_s)

    def helm(self, *args: str, check: bool = True, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        return self._tool("helm", args, None, check, timeout_s)

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def plain(self, obj: Any) -> dict[str, Any]:
        return self.api_client.sanitize_for_serialization(obj)

    # -- pods -----------------------------------------------------------------------------------------------------
    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Pods matching `selector` that are not being deleted, oldest first."""
        items = self.plain(self.core.list_namespaced_pod(namespace, label_selector=selector)).get("items", [])
        alive = [pod for pod in items if not pod["metadata"].get("deletionTimestamp")]
        return sorted(alive, key=lambda pod: pod["metadata"]["creationTimestamp"])

    def all_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Every pod matching `selector`, terminating ones included."""
        return self.plain(self.core.list_namespaced_pod(namespace, label_selector=selector)).get("items", [])

    @staticmethod
    def ready(pod: dict[str, Any]) -> bool:
        conditions = (pod.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    @staticmethod
    def restarts(pod: dict[str, Any]) -> int:
        return sum(status.get("restartCount", 0) for status in (pod.get("status") or {}).get("containerStatuses") or [])

    def container_pid(self, pod: dict[str, Any], container: str) -> int:
        """The host PID of a running container's main process (containerd's task list; Debian has no crictl)."""
        statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or []}
        container_id = statuses[container]["containerID"].removeprefix("containerd://")
        listing = _run(["ctr", "--address", self.socket, "-n", "k8s.io", "tasks", "ls"], 30).stdout
        for line in listing.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == container_id:
                return int(fields[1])
        raise NodeError(f"no task for container {container_id[:12]} of {pod['metadata']['name']}")

    def logs(self, namespace: str, pod: str, previous: bool = False) -> str:
        args = ["logs", "-n", namespace, pod] + (["--previous"] if previous else [])
        return self.kubectl(*args, check=False).stdout

    def channel(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_namespaced_custom_object(
                "footfall.io", "v1alpha1", namespace, "camerachannels", name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        selector = f"involvedObject.name={name}"
        return self.plain(self.core.list_namespaced_event(namespace, field_selector=selector)).get("items", [])


def node_environment() -> dict[str, str]:
    """The env a host-side tool needs to reach the node (kubectl from a shell, say)."""
    done = _run([str(CLUSTER_SH), "env"], 30)
    env = dict(os.environ)
    for line in done.stdout.splitlines():
        if line.startswith("export "):
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = value.replace("$PATH", os.environ.get("PATH", ""))
    return env
