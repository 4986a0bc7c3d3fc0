"""The operator's Kubernetes API calls: read the facts a decision needs, and create or replace children.

Everything returns plain dicts (camelCase, as the API serves them) so `children` and `status` never see client
model classes. Secret values are never returned: only a Secret's keys and what is wrong with its values.
"""

import json
from datetime import UTC, datetime
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from footfall_operator import camera_secret
from footfall_operator.camera_secret import CameraSecret
from footfall_operator.crd import API_VERSION, GROUP, KIND, PLURAL, VERSION

_NOT_FOUND = 404
_FORBIDDEN = 403
_PAGE = 500  # objects per LIST page: a thousand workers' Deployments come in pages, not one 10 MB answer
LIST_TIMEOUT_S = 30.0
# Any other call: an API server that hangs must not freeze a handler or the refresh round (a timeout raises, and
# the handler's retry or the next round tries again).
CALL_TIMEOUT_S = 10.0


def load_api_client() -> kubernetes.client.ApiClient:
    """In a pod: its service account; elsewhere: KUBECONFIG or ~/.kube/config."""
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)
    return kubernetes.client.ApiClient(configuration)


class Cluster:
    """Reads and writes of the kinds the operator touches: Secrets (keys only), ConfigMaps, Deployments,
    PersistentVolumeClaims (created, never replaced)."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self._api_client = api_client
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._apps = kubernetes.client.AppsV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)

    def list_channels(self, namespaces: list[str]) -> list[dict[str, Any]]:
        """Every CameraChannel in `namespaces` (all namespaces when empty)."""
        if not namespaces:
            return self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, _request_timeout=LIST_TIMEOUT_S)[
                "items"
            ]
        items: list[dict[str, Any]] = []
        for namespace in namespaces:
            items += self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, _request_timeout=LIST_TIMEOUT_S
            )["items"]
        return items

    def check_access(self, namespaces: list[str], timeout_s: float = 3.0) -> None:
        """One cheap request the operator's role must allow (one CameraChannel); raises on any failure."""
        if not namespaces:
            self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1, _request_timeout=timeout_s)
        else:
            self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespaces[0], PLURAL, limit=1, _request_timeout=timeout_s
            )

    def post_event(self, channel: dict[str, Any], reason: str, message: str, warning: bool = False) -> None:
        """A Kubernetes Event about a CameraChannel (what `kubectl describe` shows)."""
        metadata = channel.get("metadata") or {}
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": metadata["namespace"]},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata.get("uid"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "footfall-operator"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self._core.create_namespaced_event(metadata["namespace"], event, _request_timeout=CALL_TIMEOUT_S)

    def patch_channel_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None = None
    ) -> None:
        """Merge `status` into a CameraChannel's status subresource; with `resource_version`, only if the
        CameraChannel has not changed since (else 409 Conflict): a status computed from an older read must not
        overwrite what a newer reconcile wrote."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        self._custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, body, _request_timeout=CALL_TIMEOUT_S
        )

    def _plain(self, obj: Any) -> dict[str, Any]:
        return self._api_client.sanitize_for_serialization(obj)

    def camera_secret(self, namespace: str, name: str) -> CameraSecret | None:
        """A Secret opted in as camera credentials, None when it is missing, not labelled, or the operator's Role
        does not let it read it (all three look alike to the CameraChannel's author, see `camera_secret.py`).
        Only its keys and its values' defects are kept; the values stay in the API server's answer."""
        try:
            secret = self._core.read_namespaced_secret(name, namespace, _request_timeout=CALL_TIMEOUT_S)
        except ApiException as error:
            if error.status in (_NOT_FOUND, _FORBIDDEN):
                return None
            raise
        return camera_secret.inspect(secret.metadata.labels, secret.data)

    def list_children(self, kind: str, namespaces: list[str], label_selector: str) -> dict[tuple[str, str], Any]:
        """Every ConfigMap, Deployment or PersistentVolumeClaim matching `label_selector` in `namespaces` (all
        when empty), by (namespace, name), as plain dicts.

        The API server's JSON is parsed as it comes (no client model classes, camelCase like `read`): turning a
        thousand Deployments into model objects and back would cost the operator more CPU than the listing saves.
        """
        namespaced = {
            "ConfigMap": self._core.list_namespaced_config_map,
            "Deployment": self._apps.list_namespaced_deployment,
            "PersistentVolumeClaim": self._core.list_namespaced_persistent_volume_claim,
        }[kind]
        everywhere = {
            "ConfigMap": self._core.list_config_map_for_all_namespaces,
            "Deployment": self._apps.list_deployment_for_all_namespaces,
            "PersistentVolumeClaim": self._core.list_persistent_volume_claim_for_all_namespaces,
        }[kind]
        calls = [lambda **kw: everywhere(**kw)] if not namespaces else [
            lambda ns=namespace, **kw: namespaced(ns, **kw) for namespace in namespaces
        ]  # fmt: skip
        found: dict[tuple[str, str], Any] = {}
        for call in calls:
            token = None
            while True:
                extra = {"_continue": token} if token else {}
                raw = call(
                    label_selector=label_selector, limit=_PAGE, _preload_content=False,
                    _request_timeout=LIST_TIMEOUT_S, **extra,
                )  # fmt: skip
                page = json.loads(raw.data)
                for item in page.get("items") or []:
                    metadata = item.get("metadata") or {}
                    item.setdefault("kind", kind)
                    found[(metadata.get("namespace"), metadata.get("name"))] = item
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
        return found

    def read(self, kind: str, namespace: str, name: str, confirm_absent: bool = True) -> dict[str, Any] | None:
        """A ConfigMap, Deployment or PersistentVolumeClaim as a plain dict, None when it does not exist.

        `confirm_absent` is for a round's listing (round_view.py); a GET always asks the API server."""
        reader = {
            "ConfigMap": self._core.read_namespaced_config_map,
            "Deployment": self._apps.read_namespaced_deployment,
            "PersistentVolumeClaim": self._core.read_namespaced_persistent_volume_claim,
        }[kind]
        try:
            return self._plain(reader(name, namespace, _request_timeout=CALL_TIMEOUT_S))
        except ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise

    def create(self, manifest: dict[str, Any]) -> None:
        namespace = manifest["metadata"]["namespace"]
        create = {
            "ConfigMap": self._core.create_namespaced_config_map,
            "Deployment": self._apps.create_namespaced_deployment,
            "PersistentVolumeClaim": self._core.create_namespaced_persistent_volume_claim,
        }[manifest["kind"]]
        create(namespace, manifest, _request_timeout=CALL_TIMEOUT_S)

    def replace(self, manifest: dict[str, Any], existing: dict[str, Any]) -> None:
        """Replace a child with `manifest`, guarded by the existing resourceVersion (a 409 if it moved).

        Labels and annotations others added are kept (ours win); everything we declare is replaced whole, so a
        field dropped from the desired child (an env variable, a limit) is dropped from the cluster too.
        """
        metadata = manifest["metadata"]
        old = existing.get("metadata") or {}
        body = {
            **manifest,
            "metadata": {
                **metadata,
                "resourceVersion": old.get("resourceVersion"),
                "labels": {**(old.get("labels") or {}), **metadata.get("labels", {})},
                "annotations": {**(old.get("annotations") or {}), **metadata.get("annotations", {})},
            },
        }
        namespace, name = metadata["namespace"], metadata["name"]
        if manifest["kind"] == "ConfigMap":
            self._core.replace_namespaced_config_map(name, namespace, body, _request_timeout=CALL_TIMEOUT_S)
        else:
            self._apps.replace_namespaced_deployment(name, namespace, body, _request_timeout=CALL_TIMEOUT_S)
