"""The worker's pod: its container (image, env, probes, resources, a locked-down security context) and volumes,
as the plain dict a Deployment's template holds. Pure functions of the spec and the operator's defaults.
"""

import json
from typing import Any

from footfall_operator.crd import CAMERA_CREDENTIALS_MOUNT, CameraChannelSpec
from footfall_operator.quantity import quantity_bytes
from footfall_operator.settings import WorkerDefaults

CONFIG_FILE = "channel.json"
CONFIG_MOUNT = "/etc/footfall"
JOURNAL_MOUNT = "/var/lib/footfall/journal"


def pod_spec(
    spec: CameraChannelSpec, defaults: WorkerDefaults, *, config_map_name: str, journal_claim: str | None
) -> dict[str, Any]:
    """The pod template's spec: the worker mounts `config_map_name` and keeps its journal on `journal_claim`
    (None: an emptyDir, lost with the pod)."""
    template: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        # The worker's own deadline plus time to flush and exit; past it the kubelet kills it.
        "terminationGracePeriodSeconds": defaults.shutdown_deadline_s + 10,
        # fsGroup: the kubelet gives the journal's volume to this group, so the non-root worker can write it
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": defaults.fs_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(spec, defaults)],
        "volumes": [
            {"name": "config", "configMap": {"name": config_map_name}},
            _journal_volume(journal_claim, defaults),
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        ],
    }
    secret = spec.credentials_secret_ref
    if secret is not None:
        # A volume, not env: no value in an env dump or /proc/PID/environ, and the kubelet updates the files when
        # the Secret is rotated (env would keep the old password until a restart). Only the two keys, read-only.
        items = [{"key": secret.username_key, "path": "username"}, {"key": secret.password_key, "path": "password"}]
        template["volumes"].append(
            {"name": "camera-credentials", "secret": {"secretName": secret.name, "items": items, "defaultMode": 0o440}}
        )
    if defaults.service_account:
        template["serviceAccountName"] = defaults.service_account
    if defaults.pull_secret_names:
        template["imagePullSecrets"] = [{"name": name} for name in defaults.pull_secret_names]
    return template


def journal_cap_bytes(size_limit: str) -> int:
    """90 % of the journal's volume: room for the segment being written and rejected.jsonl."""
    return max(64 * 1024, quantity_bytes(size_limit) * 9 // 10)


def worker_config_json(spec: CameraChannelSpec) -> str:
    """The one-channel store config file the worker loads; credentials appear only as env variable names."""
    return json.dumps(spec.store_config().model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True)


def _resources(spec: CameraChannelSpec, defaults: WorkerDefaults) -> dict[str, dict[str, str]]:
    requests = {"cpu": defaults.cpu_request, "memory": defaults.memory_request}
    limits = {"cpu": defaults.cpu_limit, "memory": defaults.memory_limit}
    if spec.resources is not None:
        requests.update(spec.resources.requests or {})
        limits.update(spec.resources.limits or {})
    resources = {"requests": {k: v for k, v in requests.items() if v}, "limits": {k: v for k, v in limits.items() if v}}
    return {key: value for key, value in resources.items() if value}


def _env(spec: CameraChannelSpec, defaults: WorkerDefaults) -> list[dict[str, Any]]:
    processing = spec.processing
    env: list[dict[str, Any]] = [
        {"name": "FOOTFALL_CAMERAS", "value": f"{CONFIG_MOUNT}/{CONFIG_FILE}"},
        {"name": "FOOTFALL_CHANNEL", "value": spec.channel_id},
        {"name": "FOOTFALL_HTTP_PORT", "value": str(defaults.http_port)},
        {"name": "FOOTFALL_JOURNAL_DIR", "value": JOURNAL_MOUNT},
        # The journal stops taking rows before its volume is full (a full disk would fail every append).
        {"name": "FOOTFALL_STORAGE_JOURNAL_MAX_BYTES", "value": str(journal_cap_bytes(defaults.journal_size_limit))},
        {"name": "FOOTFALL_SHUTDOWN_DEADLINE_S", "value": str(defaults.shutdown_deadline_s)},
        {"name": "FOOTFALL_TRITON_URL", "value": spec.triton.url if spec.triton else defaults.triton_url},
        {"name": "FOOTFALL_READER_PROCESS_EVERY", "value": str(processing.every_n_frames)},
        {"name": "FOOTFALL_READER_ADAPTIVE_SKIP", "value": "true" if processing.adaptive else "false"},
        # Adaptive every-N and on-demand pacing are alternatives; the worker's default is on-demand.
        {"name": "FOOTFALL_READER_ON_DEMAND", "value": "false" if processing.adaptive else "true"},
    ]
    if processing.detector_input_size is not None:
        env.append({"name": "FOOTFALL_TRITON_DETECTOR_INPUT_SIZE", "value": str(processing.detector_input_size)})
    return env


def _probe(path: str, period_s: int, failure_threshold: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failure_threshold,
    }


def _container(spec: CameraChannelSpec, defaults: WorkerDefaults) -> dict[str, Any]:
    mounts = [
        {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
        {"name": "journal", "mountPath": JOURNAL_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if spec.credentials_secret_ref is not None:
        mounts.append({"name": "camera-credentials", "mountPath": CAMERA_CREDENTIALS_MOUNT, "readOnly": True})
    container: dict[str, Any] = {
        "name": "worker",
        "image": defaults.image,
        "imagePullPolicy": defaults.image_pull_policy,
        "env": _env(spec, defaults),
        "ports": [{"name": "http", "containerPort": defaults.http_port, "protocol": "TCP"}],
        # /healthz fails only for a dead thread or a wedged loop; a camera, Triton or PostgreSQL outage keeps it
        # 200 (the worker reconnects by itself), so a restart is never the answer to someone else's outage.
        "startupProbe": _probe("/healthz", period_s=2, failure_threshold=30),
        "livenessProbe": _probe("/healthz", period_s=10, failure_threshold=3),
        "readinessProbe": _probe("/readyz", period_s=5, failure_threshold=2),
        "resources": _resources(spec, defaults),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": defaults.run_as_user,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    if defaults.connection_secret:
        container["envFrom"] = [{"secretRef": {"name": defaults.connection_secret}}]
    return container


def _journal_volume(journal_claim: str | None, defaults: WorkerDefaults) -> dict[str, Any]:
    # Rows wait in the journal while PostgreSQL is down; on a claim they survive the pod (a drain, a rollout, an
    # eviction), where an emptyDir would delete every row not yet committed.
    if journal_claim is not None:
        return {"name": "journal", "persistentVolumeClaim": {"claimName": journal_claim}}
    return {"name": "journal", "emptyDir": {"sizeLimit": defaults.journal_size_limit}}
