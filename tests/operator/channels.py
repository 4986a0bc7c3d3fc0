"""CameraChannels and their Secrets as the cluster tests write them, and what the tests read back."""

import subprocess
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from footfall_operator.camera_secret import CAMERA_SECRET_LABEL
from footfall_operator.children import worker_name
from footfall_operator.crd import GROUP, PLURAL, VERSION
from tests.support.kube import KubeCluster, wait_until

CAMERA_USER = "op3rator-test-user"
CAMERA_PASSWORD = "Pa55-n0t-in-any-status"


def channel(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    body = {
        "store": "teststore",
        "channelId": name.replace("-", "_"),
        "displayName": name,
        "source": {"host": "127.0.0.1", "port": 8554, "channel": 1},
        **spec,
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CameraChannel",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def apply(cluster: KubeCluster, *manifests: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess:
    return cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(manifests), check=check)


def camera_channel(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


def wait_condition(cluster: KubeCluster, namespace: str, name: str, kind: str, status: str, timeout_s: float = 30):
    def probe() -> dict[str, Any] | None:
        found = condition(camera_channel(cluster, namespace, name), kind)
        return found if found and found["status"] == status else None

    return wait_until(f"{namespace}/{name} condition {kind}={status}", probe, timeout_s)


def deployment(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return cluster.plain(cluster.apps.read_namespaced_deployment(worker_name(name), namespace))
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def secret_manifest(namespace: str, name: str = "cameras") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {CAMERA_SECRET_LABEL: "true"}},
        "stringData": {"username": CAMERA_USER, "password": CAMERA_PASSWORD},
    }
