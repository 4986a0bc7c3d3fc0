"""The periodic pass over every CameraChannel: live fields from Redis, and a re-check of what no watch reports.

A thread of its own rather than a kopf timer: kopf guards every object with a timer by a finalizer, and a
finalizer means a stopped operator blocks `kubectl delete` forever. This pass needs no finalizer: it lists the
CameraChannels each round, so a deleted one simply stops appearing.

Each round also re-reconciles, which is what makes a later fix take effect without a spec change: a Secret
created after its CameraChannel, a rival claim deleted, a child changed or deleted behind the operator's back.
It ends by pruning Redis's `footfall:channels` of channels whose live hash is gone (workers that were killed;
a worker stopped cleanly removes itself).
"""

import logging
import threading
import time
from collections import defaultdict
from typing import Any

from kubernetes.client.exceptions import ApiException

from footfall_operator.cluster import Cluster
from footfall_operator.crd import API_VERSION, KIND
from footfall_operator.reconcile import Claim, Reconciler, RetryLater, claim_key, claim_of

log = logging.getLogger("footfall.operator.refresher")
_NOT_FOUND = 404


def _object_logger(metadata: dict[str, Any]) -> logging.LoggerAdapter:
    # the same `object` field kopf's JSON log lines carry, so a channel's lines read alike from both
    ref = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "namespace": metadata.get("namespace"),
    }
    return logging.LoggerAdapter(log, {"k8s_ref": ref})


def claims_by_channel(channels: list[dict[str, Any]]) -> dict[str, list[Claim]]:
    """Who claims which channel id, from a listing of CameraChannels."""
    claims: dict[str, list[Claim]] = defaultdict(list)
    for channel in channels:
        metadata = channel.get("metadata") or {}
        key = claim_key(channel.get("spec"))
        if key is not None and not metadata.get("deletionTimestamp"):
            claims[key].append(claim_of(metadata, channel.get("spec")))
    return claims


def changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether `new` says anything `old` does not, the read time aside: fifty idle channels cost no writes."""

    def comparable(status: dict[str, Any]) -> dict[str, Any]:
        live = {k: v for k, v in (status.get("live") or {}).items() if k != "readTime" and v is not None}
        return {**{k: v for k, v in status.items() if k in new and v is not None}, "live": live}

    return comparable(old) != comparable(new)


class Refresher:
    """Runs `refresh_once` every `interval_s` on a daemon thread until `stop`."""

    def __init__(self, reconciler: Reconciler, cluster: Cluster, namespaces: list[str], interval_s: float) -> None:
        self._reconciler = reconciler
        self._cluster = cluster
        self._namespaces = namespaces
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="footfall-refresher", daemon=True)
        self.rounds = 0
        self.item_errors = 0  # CameraChannels whose refresh raised something unexpected (each one skipped)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            started = time.monotonic()
            try:
                self.refresh_once()
                self.prune_live_channels()
            except ApiException as error:
                log.warning(f"refresh round failed ({error.status} {error.reason}); retrying next round")
            except Exception:
                # Never let one bad round end the thread: live status would freeze silently.
                log.exception("refresh round failed; retrying next round")
            self.rounds += 1
            log.debug(f"refresh round took {time.monotonic() - started:.3f} s")

    def prune_live_channels(self) -> list[str]:
        """Drop channels without a live hash from Redis's channel set (none without a Redis URL)."""
        live = self._reconciler.live
        return live.prune_channels() if live is not None else []

    def refresh_once(self) -> None:
        channels = self._cluster.list_channels(self._namespaces)
        claims = claims_by_channel(channels)
        for channel in channels:
            if self._stop.is_set():
                return
            metadata = channel.get("metadata") or {}
            if metadata.get("deletionTimestamp"):
                continue
            logger = _object_logger(metadata)
            key = claim_key(channel.get("spec"))
            try:
                status, _ = self._reconciler.reconcile(channel, claims.get(key, []) if key else [], logger)
                if changed(channel.get("status") or {}, status):
                    self._cluster.patch_channel_status(metadata["namespace"], metadata["name"], status)
            except RetryLater as error:
                logger.info(f"{error}; next round")
            except ApiException as error:
                if error.status == _NOT_FOUND:
                    continue  # deleted during the round
                logger.warning(f"refresh failed ({error.status} {error.reason}); retrying next round")
            except Exception:
                # One channel's surprise must not cost every other channel its status update this round.
                self.item_errors += 1
                logger.exception("refresh of this CameraChannel failed; the round goes on")
