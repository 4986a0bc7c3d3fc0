"""What the operator bench sees from outside the operator: watches on Deployments and CameraChannels stamping when
each change arrived, the operator's log lines as they are written, and the CameraChannels it creates."""

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException
from operator_bench_procs import HOST, ControlPlane

from footfall_operator.children import CONFIG_HASH_ANNOTATION, MANAGED_BY, worker_name
from footfall_operator.crd import GROUP, PLURAL, VERSION

MANAGED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"
Key = tuple[str, str]  # (namespace, CameraChannel name)


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


class LogFollower:
    """The operator's JSON log lines as they are written, each stamped with when this process read it (polled
    every `interval_s`), so log events and watch events share one clock."""

    def __init__(self, path: Path, interval_s: float = 0.1) -> None:
        self._path = path
        self._interval_s = interval_s
        self._offset = path.stat().st_size if path.exists() else 0
        self._lock = threading.Lock()
        self._lines: list[tuple[float, dict[str, Any]]] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="log-follower", daemon=True).start()

    def _run(self) -> None:
        pending = b""
        while not self._stopped.wait(self._interval_s):
            try:
                with self._path.open("rb") as log_file:
                    log_file.seek(self._offset)
                    chunk = log_file.read()
            except FileNotFoundError:
                continue
            self._offset += len(chunk)
            now = time.monotonic()
            *complete, pending = (pending + chunk).split(b"\n")
            parsed = []
            for raw in complete:
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if isinstance(line, dict):
                    parsed.append((now, line))
            with self._lock:
                self._lines += parsed

    def first(self, match: Callable[[dict[str, Any]], bool]) -> float | None:
        """When the first line that `match`es was read, None when none was yet."""
        with self._lock:
            return next((stamp for stamp, line in self._lines if match(line)), None)

    def lines(self) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return list(self._lines)

    def stop(self) -> None:
        self._stopped.set()
