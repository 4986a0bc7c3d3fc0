"""What a CameraChannel's children should be, and what to do to get there: pure functions, no API calls.

`desired_children` builds the worker's journal PersistentVolumeClaim, ConfigMap and Deployment (its pod:
`worker_pod.py`) as plain dicts from a validated spec and the operator's worker defaults; `decide` compares them
with what exists and returns the actions. The handlers only gather facts, call these, and apply the result, so
every rule here is table-tested without a cluster.

Decision table (per child; the journal claim first, then the ConfigMap so a new pod reads the new config):

| desired          | existing                         | action                                    |
|------------------|----------------------------------|-------------------------------------------|
| none (invalid)   | anything                         | nothing: keep the last valid worker       |
| child            | none                             | CREATE                                    |
| child            | owned by another controller      | CONFLICT: never take over a foreign child,|
|                  |                                  | and touch neither child                   |
| child            | same config hash and replicas    | nothing                                   |
| child            | different hash or replicas       | UPDATE (Recreate strategy rolls the pod)  |
| journal claim    | ours, whatever it holds          | nothing: a claim's spec is immutable, and |
|                  |                                  | its rows must outlive any spec change     |
"""

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from footfall_operator.crd import API_VERSION, KIND, CameraChannelSpec
from footfall_operator.settings import WorkerDefaults
from footfall_operator.worker_pod import CONFIG_FILE, pod_spec, worker_config_json

CONFIG_HASH_ANNOTATION = "footfall.io/config-hash"
GENERATION_ANNOTATION = "footfall.io/spec-generation"
STORE_LABEL = "footfall.io/store"
CHANNEL_LABEL = "footfall.io/channel"
MANAGED_BY = "footfall-operator"
_MAX_NAME = 63


@dataclass(frozen=True, slots=True)
class Owner:
    """The CameraChannel the children belong to."""

    name: str
    namespace: str
    uid: str
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Children:
    """A channel's desired children, as manifests ready to create; no journal claim when persistence is off."""

    config_map: dict[str, Any]
    deployment: dict[str, Any]
    config_hash: str
    journal_claim: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Existing:
    """What the cluster holds under a child's name: its controller owner's uid, config hash and replicas."""

    controller_uid: str | None
    config_hash: str | None
    replicas: int | None = None

    @classmethod
    def from_object(cls, obj: dict[str, Any] | None) -> "Existing | None":
        if obj is None:
            return None
        metadata = obj.get("metadata") or {}
        controller = next((ref for ref in metadata.get("ownerReferences") or [] if ref.get("controller")), None)
        return cls(
            controller_uid=controller.get("uid") if controller else None,
            config_hash=(metadata.get("annotations") or {}).get(CONFIG_HASH_ANNOTATION),
            replicas=(obj.get("spec") or {}).get("replicas"),
        )


class ActionKind(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    manifest: dict[str, Any]

    @property
    def target(self) -> str:
        return f"{self.manifest['kind']}/{self.manifest['metadata']['name']}"


def _short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def worker_name(channel_name: str) -> str:
    """The children's name: `<channel>-worker`, shortened with a hash when the CR name is long.

    Kept to 63 characters so it is a valid label value and the ReplicaSet and Pod names built on it stay sane.
    """
    name = f"{channel_name}-worker"
    if len(name) <= _MAX_NAME:
        return name
    return f"{channel_name[: _MAX_NAME - 16].rstrip('.-')}-{_short_hash(channel_name)}-worker"


def journal_claim_name(channel_name: str) -> str:
    """The journal's PersistentVolumeClaim: `<worker>-journal` (a claim's name may be longer than a label)."""
    return f"{worker_name(channel_name)}-journal"


def selector_labels(owner: Owner) -> dict[str, str]:
    """The Deployment's selector: immutable once created, so it names only the owner."""
    return {
        "app.kubernetes.io/name": "footfall-worker",
        "app.kubernetes.io/instance": worker_name(owner.name),
    }


def child_labels(owner: Owner, spec: CameraChannelSpec) -> dict[str, str]:
    return {
        **selector_labels(owner),
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/part-of": "footfall",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        STORE_LABEL: spec.store,
        CHANNEL_LABEL: spec.channel_id,
    }


def owner_reference(owner: Owner) -> dict[str, Any]:
    # controller=True makes the garbage collector delete the children with the CameraChannel; no finalizer is
    # needed, so a stopped operator never blocks a deletion.
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(owner: Owner, spec: CameraChannelSpec, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": worker_name(owner.name),
        "namespace": owner.namespace,
        "labels": child_labels(owner, spec),
        "ownerReferences": [owner_reference(owner)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def desired_children(owner: Owner, spec: CameraChannelSpec, defaults: WorkerDefaults) -> Children:
    """The ConfigMap and Deployment a valid CameraChannel should have.

    The config hash covers the ConfigMap's data and the pod template, so any spec change that reaches the worker
    changes the hash, and the hash (a pod-template annotation) rolls the pod even when only the ConfigMap changed.
    """
    config_data = {CONFIG_FILE: worker_config_json(spec)}
    claim = journal_claim_name(owner.name) if defaults.journal_persistence else None
    template_spec = pod_spec(spec, defaults, config_map_name=worker_name(owner.name), journal_claim=claim)
    config_hash = _short_hash(json.dumps([config_data, template_spec], sort_keys=True), length=16)
    annotations = {CONFIG_HASH_ANNOTATION: config_hash, GENERATION_ANNOTATION: str(owner.generation)}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(owner, spec, annotations),
        "data": config_data,
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(owner, spec, annotations),
        "spec": {
            "replicas": 0 if spec.paused else 1,
            # One reader per camera and one writer per channel's rows: never two pods at once.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector_labels(owner)},
            "template": {
                "metadata": {
                    "labels": child_labels(owner, spec),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
                },
                "spec": template_spec,
            },
        },
    }
    journal_claim = _journal_claim(owner, spec, defaults) if defaults.journal_persistence else None
    return Children(config_map=config_map, deployment=deployment, config_hash=config_hash, journal_claim=journal_claim)


def _journal_claim(owner: Owner, spec: CameraChannelSpec, defaults: WorkerDefaults) -> dict[str, Any]:
    metadata = _metadata(owner, spec)
    metadata["name"] = journal_claim_name(owner.name)
    claim_spec: dict[str, Any] = {
        # One node at a time; the worker's lock on the journal directory keeps out a second pod on that node.
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": defaults.journal_size_limit}},
    }
    if defaults.journal_storage_class:
        claim_spec["storageClassName"] = defaults.journal_storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": claim_spec}


def _decide_one(desired: dict[str, Any], existing: Existing | None, owner: Owner) -> Action | None:
    if existing is None:
        return Action(ActionKind.CREATE, desired)
    if existing.controller_uid != owner.uid:
        return Action(ActionKind.CONFLICT, desired)
    if desired["kind"] == "PersistentVolumeClaim":
        return None
    wanted_hash = desired["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    wanted_replicas = (desired.get("spec") or {}).get("replicas")
    if existing.config_hash != wanted_hash or existing.replicas != wanted_replicas:
        return Action(ActionKind.UPDATE, desired)
    return None


def decide(
    desired: Children | None,
    config_map: Existing | None,
    deployment: Existing | None,
    owner: Owner,
    journal_claim: Existing | None = None,
) -> list[Action]:
    """The actions that bring the children to `desired` (see the module's table): journal claim, ConfigMap,
    Deployment.

    Args:
        desired: the children of a valid spec; None when the spec is invalid (the last valid worker is kept).
        config_map: what exists under the ConfigMap's name, None when nothing does.
        deployment: what exists under the Deployment's name, None when nothing does.
        owner: the CameraChannel; a child controlled by anything else is a conflict, never taken over.
        journal_claim: what exists under the journal claim's name (ignored when `desired` has no claim).
    """
    if desired is None:
        return []
    candidates = [
        _decide_one(desired.journal_claim, journal_claim, owner) if desired.journal_claim is not None else None,
        _decide_one(desired.config_map, config_map, owner),
        _decide_one(desired.deployment, deployment, owner),
    ]
    actions = [action for action in candidates if action is not None]
    conflicts = [action for action in actions if action.kind == ActionKind.CONFLICT]
    # Half a set of children is worse than none: a worker must never mount a ConfigMap that is not ours.
    return conflicts or actions
