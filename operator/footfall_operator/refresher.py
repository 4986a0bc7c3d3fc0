"""The periodic pass over every CameraChannel: live fields from Redis, and a re-check of what no watch reports.

A thread of its own rather than a kopf timer: kopf guards every object with a timer by a finalizer, and a
finalizer means a stopped operator blocks `kubectl delete` forever. This pass needs no finalizer: it lists the
CameraChannels each round, so a deleted one simply stops appearing.

Each round also re-reconciles, which is what makes a later fix take effect without a spec change: a Secret
created after its CameraChannel, a rival claim deleted, a child changed or deleted behind the operator's back.
It ends by pruning Redis's `footfall:channels` of channels whose live hash is gone (workers that were killed;
a worker stopped cleanly removes itself).

At a chain's scale (1 000 channels) two things keep a round from flooding the API server:
* reads: a round lists each kind of child once (`round_view.py`) instead of reading three per channel;
* writes: a status is written only when it changed (`changed`), and the writes go through a token bucket
  (`status_writes_per_s`, default 20/s), spread over the round. A change of phase, conditions or generation goes
  first; a change of live numbers only (fps, people, heartbeat time: every running channel, every round) waits,
  the channels whose status was written longest ago first. What the bucket cannot pass before the round's end is
  left for the next round, which computes it afresh. So 1 000 running channels cost at most 20 writes a second
  (each status's live numbers then ~50 s old at most), and an idle chain none.

The first round runs as soon as the operator starts rather than one interval later: it is the re-check of every
channel after a restart (kopf's resume handler, which did that with a GET per child and a PATCH per channel, is
gone; see handlers.py), and it says so in one log line, "first refresh round", with the count and the time.
"""

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from footfall_operator.cluster import Cluster
from footfall_operator.crd import API_VERSION, KIND
from footfall_operator.ratelimit import TokenBucket
from footfall_operator.reconcile import Claim, Reconciler, RetryLater, claim_key, claim_of
from footfall_operator.round_view import RoundView

log = logging.getLogger("footfall.operator.refresher")
_NOT_FOUND = 404
NEW_CHANNEL_GRACE_INTERVALS = 3
_CONFLICT = 409


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


# The live fields whose change is news (the worker stopped streaming, the reading went stale); the rest (fps,
# people now, frame and heartbeat times) change on every read of a running worker.
_LIVE_NEWS = ("state", "stale", "staleReason")


def significant(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether `new` changes more than the live numbers: such a write goes ahead of the heartbeats."""

    def essence(status: dict[str, Any]) -> dict[str, Any]:
        live = status.get("live") or {}
        return {**{k: v for k, v in status.items() if k != "live"}, "live": {k: live.get(k) for k in _LIVE_NEWS}}

    return changed(essence(old), essence(new))


@dataclass
class RoundStats:
    """What one round did, for its log line and the metrics."""

    channels: int = 0
    seconds: float = 0.0
    lists: int = 0
    reads_by_name: int = 0
    writes: int = 0
    deferred: int = 0  # changed statuses the bucket did not pass before the round's end


@dataclass(order=True)
class _Write:
    urgent_last: bool  # False sorts first: significant changes go ahead
    written_at: float  # then the longest unwritten
    key: tuple[str, str] = field(compare=False)
    resource_version: str | None = field(compare=False)  # of the CameraChannel the status was computed from
    status: dict[str, Any] = field(compare=False)
    logger: logging.LoggerAdapter = field(compare=False)


class Refresher:
    """Runs `refresh_once` every `interval_s` on a daemon thread until `stop`."""

    def __init__(
        self,
        reconciler: Reconciler,
        cluster: Cluster,
        namespaces: list[str],
        interval_s: float,
        writes_per_s: float = 20.0,
        write_burst: int = 50,
    ) -> None:
        self._reconciler = reconciler
        self._cluster = cluster
        self._namespaces = namespaces
        self._interval_s = interval_s
        self._bucket = TokenBucket(writes_per_s, write_burst)
        self._written_at: dict[tuple[str, str], float] = {}  # monotonic time of each channel's last status write
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="footfall-refresher", daemon=True)
        self.rounds = 0
        self.item_errors = 0  # CameraChannels whose refresh raised something unexpected (each one skipped)
        self.status_writes = 0
        self.deferred_writes = 0
        self.last_round = RoundStats()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        first = True
        while True:
            started = time.monotonic()
            try:
                stats = self.refresh_once()
                self.prune_live_channels()
            except ApiException as error:
                log.warning(f"refresh round failed ({error.status} {error.reason}); retrying next round")
            except Exception:
                # Never let one bad round end the thread: live status would freeze silently.
                log.exception("refresh round failed; retrying next round")
            else:
                self._log_round(stats, first)
                first = False
            self.rounds += 1
            # the next round an interval after this one began; at once when this one took longer
            if self._stop.wait(max(0.0, self._interval_s - (time.monotonic() - started))):
                return

    def _log_round(self, stats: RoundStats, first: bool) -> None:
        numbers = {
            "channels": stats.channels, "seconds": round(stats.seconds, 3), "lists": stats.lists,
            "reads_by_name": stats.reads_by_name, "status_writes": stats.writes, "deferred": stats.deferred,
        }  # fmt: skip
        if first:
            message = f"first refresh round: {stats.channels} channels re-checked in {stats.seconds:.1f} s"
            log.info(message, extra=numbers)
        elif stats.deferred or stats.seconds > self._interval_s:
            log.info(f"refresh round: {stats.deferred} status writes left for the next round", extra=numbers)
        else:
            log.debug("refresh round", extra=numbers)

    def prune_live_channels(self) -> list[str]:
        """Drop channels without a live hash from Redis's channel set (none without a Redis URL)."""
        live = self._reconciler.live
        return live.prune_channels() if live is not None else []

    def refresh_once(self) -> RoundStats:
        """One round: reconcile every channel against the round's listings, then write the changed statuses."""
        started = time.monotonic()
        channels = self._cluster.list_channels(self._namespaces)
        claims = claims_by_channel(channels)
        view = RoundView(self._cluster, self._namespaces)
        writes: list[_Write] = []
        for channel in channels:
            if self._stop.is_set():
                break
            metadata = channel.get("metadata") or {}
            if metadata.get("deletionTimestamp") or self._create_handlers_own(channel):
                continue
            logger = _object_logger(metadata)
            key = claim_key(channel.get("spec"))
            try:
                status, _ = self._reconciler.reconcile(channel, claims.get(key, []) if key else [], logger, view)
            except Exception as error:  # noqa: BLE001 - sorted out in _failed, the round goes on
                self._failed(error, logger)
                continue
            old = channel.get("status") or {}
            if changed(old, status):
                where = (metadata["namespace"], metadata["name"])
                urgent = significant(old, status)
                version = metadata.get("resourceVersion")
                writes.append(_Write(not urgent, self._written_at.get(where, 0.0), where, version, status, logger))
        stats = RoundStats(channels=len(channels), lists=view.lists, reads_by_name=view.reads_by_name)
        # forget the write times of channels that are gone
        present = {(c["metadata"].get("namespace"), c["metadata"].get("name")) for c in channels if c.get("metadata")}
        self._written_at = {where: at for where, at in self._written_at.items() if where in present}
        self._write(sorted(writes), started + self._interval_s, stats)
        stats.seconds = time.monotonic() - started
        self.last_round = stats
        return stats

    def _create_handlers_own(self, channel: dict[str, Any]) -> bool:
        """A channel created moments ago and not yet handled (no status at all) is its create handler's: when
        1 000 arrive at once, a round reconciling them too only races kopf to the same creates (and reads each
        missing child by name). Once `NEW_CHANNEL_GRACE_INTERVALS` rounds have passed it is the refresher's again,
        handled or not, so a missed event still gets its children."""
        if channel.get("status"):
            return False
        created = (channel.get("metadata") or {}).get("creationTimestamp")
        try:
            age_s = self._reconciler.clock() - datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return False
        return age_s < NEW_CHANNEL_GRACE_INTERVALS * self._interval_s

    def _write(self, writes: list[_Write], deadline: float, stats: RoundStats) -> None:
        """Status patches through the bucket until `deadline` (the round's end); the rest wait for the next round.
        Whatever the deadline, the first write of a round always goes out (the bucket still caps the rate)."""
        for position, write in enumerate(writes):
            if not self._bucket.take(deadline if position else float("inf"), self._stop):
                stats.deferred = len(writes) - position
                self.deferred_writes += stats.deferred
                return
            try:
                # guarded by the resourceVersion the round read: a write may wait for its token for seconds, and
                # a change handler may have written a newer status meanwhile (a 409 then; the next round redoes it)
                self._cluster.patch_channel_status(write.key[0], write.key[1], write.status, write.resource_version)
            except Exception as error:  # noqa: BLE001 - sorted out in _failed, the other writes go on
                self._failed(error, write.logger)
                continue
            self._written_at[write.key] = time.monotonic()
            stats.writes += 1
            self.status_writes += 1

    def _failed(self, error: Exception, logger: logging.LoggerAdapter) -> None:
        if isinstance(error, RetryLater):
            logger.info(f"{error}; next round")
        elif isinstance(error, ApiException):
            # 404: deleted during the round; 409: changed since the round read it, so its status is recomputed next
            if error.status not in (_NOT_FOUND, _CONFLICT):
                logger.warning(f"refresh failed ({error.status} {error.reason}); retrying next round")
        else:
            # One channel's surprise must not cost every other channel its status update this round.
            self.item_errors += 1
            logger.error("refresh of this CameraChannel failed; the round goes on", exc_info=error)
