"""Reconciler's writes when a child moves under them (HTTP 409).

A scripted stand-in for the API server, on purpose: the race (the deployment controller writing a Deployment's
status between our read and our replace) happens on the real control plane too (the cluster tests and the bench
hit it), but not on demand; here each 409 is placed exactly. Everything else runs against the real API server
in test_operator_cluster.py."""

import copy
import logging
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from footfall_operator.children import CONFIG_HASH_ANNOTATION, worker_name
from footfall_operator.reconcile import Reconciler, RetryLater
from footfall_operator.settings import OperatorSettings, WorkerDefaults

BODY = {
    "metadata": {"name": "door", "namespace": "store", "uid": "uid-1", "generation": 2, "creationTimestamp": "t"},
    "spec": {"store": "s", "channelId": "door", "displayName": "door", "source": {"host": "127.0.0.1", "channel": 1}},
    "status": {},
}


class ScriptedCluster:
    """Holds objects by (kind, name); `conflicts` 409s the next N writes, moving the object as a rival would."""

    def __init__(self, conflicts: int = 0) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.conflicts = conflicts
        self.writes = 0
        self.events: list[str] = []

    def camera_secret(self, namespace: str, name: str) -> None:
        return None

    def read(self, kind: str, namespace: str, name: str, confirm_absent: bool = True) -> dict[str, Any] | None:
        found = self.objects.get((kind, name))
        return copy.deepcopy(found) if found else None

    def _write(self, manifest: dict[str, Any]) -> None:
        self.writes += 1
        key = (manifest["kind"], manifest["metadata"]["name"])
        if self.conflicts:
            self.conflicts -= 1
            moved = copy.deepcopy(self.objects.get(key) or manifest)
            moved.setdefault("status", {})["observedGeneration"] = self.writes  # a status write by a controller
            moved["metadata"]["resourceVersion"] = str(self.writes)
            self.objects[key] = moved
            raise ApiException(status=409, reason="Conflict")
        self.objects[key] = {**copy.deepcopy(manifest), "status": {}}

    def create(self, manifest: dict[str, Any]) -> None:
        self._write(manifest)

    def replace(self, manifest: dict[str, Any], existing: dict[str, Any]) -> None:
        self._write(manifest)

    def post_event(self, channel: dict[str, Any], reason: str, message: str, warning: bool = False) -> None:
        self.events.append(message)


def reconciler(cluster: ScriptedCluster) -> Reconciler:
    return Reconciler(cluster, None, OperatorSettings(), WorkerDefaults())  # type: ignore[arg-type]


def test_a_replace_that_loses_to_a_status_write_is_retried_against_the_fresh_object():
    cluster = ScriptedCluster()
    reconciler(cluster).reconcile(BODY, [], logging.getLogger("test"))
    changed = {**BODY, "spec": {**BODY["spec"], "processing": {"everyNFrames": 2}}}
    cluster.conflicts = 1
    status, actions = reconciler(cluster).reconcile(changed, [], logging.getLogger("test"))
    deployment = cluster.objects[("Deployment", worker_name("door"))]
    assert deployment["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] == status["configHash"]
    assert status["observedGeneration"] == 2
    assert [str(action.kind) for action in actions] == ["update", "update"]


def test_a_create_that_finds_the_same_child_made_meanwhile_is_done():
    cluster = ScriptedCluster(conflicts=1)  # the first create 409s: a rival made exactly this child
    status, _ = reconciler(cluster).reconcile(BODY, [], logging.getLogger("test"))
    assert ("ConfigMap", worker_name("door")) in cluster.objects
    assert ("Deployment", worker_name("door")) in cluster.objects
    assert status["observedGeneration"] == 2


def test_a_child_that_keeps_moving_is_retried_later_and_never_claimed_done():
    cluster = ScriptedCluster()
    reconciler(cluster).reconcile(BODY, [], logging.getLogger("test"))
    changed = {**BODY, "spec": {**BODY["spec"], "paused": True}}
    cluster.conflicts = 10
    with pytest.raises(RetryLater, match="kept changing"):
        reconciler(cluster).reconcile(changed, [], logging.getLogger("test"))
