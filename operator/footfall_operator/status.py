"""A CameraChannel's status from what the operator observed: pure functions, table-tested without a cluster.

Conditions (`type`: what `status: True` means):

* `InvalidSpec`: the spec cannot run (a field, a Secret, a claim, a foreign child); the message names the field
  and what was expected. No worker is created for it; a worker of an earlier valid spec is left running.
* `Ready`: the worker is streaming and detecting, by its own heartbeat in Redis (fresher than `stale_after_s`);
  `Unknown` while Redis cannot be read (the phase then stays what it was).
* `Progressing`: the worker Deployment is being created or rolled out to the current spec.
* `Degraded`: the channel should run but does not: camera not streaming, Triton not answering the worker's
  detection (`TritonUnavailable`, also Ready's reason; the message names the Triton URL and the error), heartbeat
  lost, Deployment failing.
  `HeartbeatLost` means a worker that ran (the channel was Running, or Degraded for a reason only a publishing
  worker gives) stopped publishing: it stays, refresh after refresh, until a fresh heartbeat comes or a reason
  with its own condition explains the silence (a rollout: `Progressing`; paused; an invalid spec; a failing
  Deployment). A channel whose worker never published stays Pending.

Phase, first match: Invalid, Paused, Running (Ready), Degraded, Pending.

Live fields come from the worker's heartbeat. When Redis cannot be read they keep their last values and say
`stale: true` with the reason, so a Redis outage never looks like a healthy or a dead channel.
"""

import enum
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STREAMING = "streaming"
# The CRD bounds a condition's message (crd_manifest); a longer one is cut here, never refused by the apiserver.
MAX_CONDITION_MESSAGE = 8192


class Phase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    INVALID = "Invalid"
    PAUSED = "Paused"


class Reason(enum.StrEnum):
    FIELD_INVALID = "FieldInvalid"
    SECRET_NOT_FOUND = "SecretNotFound"
    SECRET_KEY_MISSING = "SecretKeyMissing"
    SECRET_VALUE_INVALID = "SecretValueInvalid"
    CHANNEL_CLAIMED = "ChannelClaimed"
    CHILD_CONFLICT = "ChildConflict"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a spec cannot run: a reason for the condition and a message naming the field."""

    reason: Reason
    message: str


@dataclass(frozen=True, slots=True)
class LiveReading:
    """One read of the worker's live hash.

    Attributes:
        snapshot: the decoded hash (`state`, `fps`, `people_now`, `reconnects`, `last_frame_ts`, `heartbeat_ts`,
            ...), None when there is none (no worker publishing, or its heartbeat expired).
        error: why no live state could be read, the status's `staleReason` as it stands (masked): Redis
            unreachable, or a hash no worker wrote; None when the read worked.
        read_at: wall clock of the read, seconds.
    """

    snapshot: dict[str, Any] | None
    error: str | None
    read_at: float


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything the status is computed from."""

    generation: int
    paused: bool
    problems: tuple[Problem, ...]
    deployment: dict[str, Any] | None
    live: LiveReading | None
    previous: dict[str, Any] = field(default_factory=dict)
    stale_after_s: float = 15.0


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def live_status(live: LiveReading | None, previous: dict[str, Any] | None, stale_after_s: float) -> dict[str, Any]:
    """The `status.live` block: fresh values, or the last known ones marked stale with the reason."""
    previous = previous or {}
    if live is None:
        return {**previous, "stale": True, "staleReason": "live state is not read (no Redis URL, or no worker runs)"}
    if live.error is not None:
        return {
            **previous,
            "readTime": _iso(live.read_at),
            "stale": True,
            "staleReason": live.error,
        }
    snapshot = live.snapshot
    if snapshot is None:
        return {
            **previous,
            "state": "unknown",
            "readTime": _iso(live.read_at),
            "stale": True,
            "staleReason": "no heartbeat from the worker (not started yet, or stopped)",
        }
    heartbeat = snapshot.get("heartbeat_ts")
    fps = snapshot.get("fps")
    fields = {
        "state": str(snapshot.get("state") or "unknown"),
        "fps": None if fps is None else round(float(fps), 1),
        "peopleNow": snapshot.get("people_now"),
        "reconnects": snapshot.get("reconnects"),
        "entries": snapshot.get("entries"),
        "exits": snapshot.get("exits"),
        "zoneOccupancy": _zone_occupancy(snapshot.get("zone_occupancy")),
        "lastFrameTime": _iso(snapshot.get("last_frame_ts")),
        "heartbeatTime": _iso(heartbeat),
        "readTime": _iso(live.read_at),
    }
    age = None if heartbeat is None else live.read_at - float(heartbeat)
    if age is None or age > stale_after_s:
        shown = "never" if age is None else f"{age:.0f} s ago"
        return {**fields, "stale": True, "staleReason": f"last worker heartbeat {shown}"}
    # None, not "": a merge patch deletes the key, and the v1.20 apiserver reads an empty string as null.
    return {**fields, "stale": False, "staleReason": None}


def _zone_occupancy(raw: Any) -> dict[str, int] | None:
    """The worker's `zone_occupancy` (JSON text, or already decoded) as {zone: people}; None when it has no zones."""
    if isinstance(raw, dict):
        return {str(zone): int(count) for zone, count in raw.items()}
    if not raw:
        return None
    try:
        decoded = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return {str(zone): int(count) for zone, count in decoded.items()} if isinstance(decoded, dict) else None


def _condition(kind: str, status: bool | str, reason: str, message: str) -> dict[str, Any]:
    shown = status if isinstance(status, str) else ("True" if status else "False")
    if len(message) > MAX_CONDITION_MESSAGE:
        # A status the CRD's schema refuses would fail every patch and leave the channel with no condition at all.
        message = f"{message[: MAX_CONDITION_MESSAGE - 40]}... ({len(message)} characters in all)"
    return {"type": kind, "status": shown, "reason": reason, "message": message}


def _previous_condition(observed: Observed, kind: str) -> dict[str, Any] | None:
    for condition in observed.previous.get("conditions") or []:
        if condition.get("type") == kind:
            return _condition(kind, condition["status"], condition.get("reason", ""), condition.get("message", ""))
    return None


def _live_unreadable(observed: Observed) -> bool:
    return observed.live is not None and observed.live.error is not None


# Degraded reasons only a worker that published a heartbeat can cause.
_WORKER_SEEN = frozenset({"HeartbeatLost", "CameraNotStreaming", "TritonUnavailable"})


def _triton_failure(observed: Observed, live: dict[str, Any]) -> str | None:
    """Why the worker's detection fails, by its fresh heartbeat (`triton_ok` false); None when it works or is
    not known (a stale heartbeat, or a worker that does not say)."""
    snapshot = observed.live.snapshot if observed.live is not None else None
    if snapshot is None or live.get("stale", True) or snapshot.get("triton_ok") is not False:
        return None
    url = snapshot.get("triton_url") or "(address not reported)"
    error = snapshot.get("triton_error") or "no error reported"
    failed = snapshot.get("frames_failed")
    lost = "" if failed is None else f"; {failed} frames went without detection"
    return f"Triton at {url} does not answer the worker's detection ({error}){lost}"


def _worker_ran(observed: Observed) -> bool:
    """Whether the last status saw this channel's worker publish: Running, or Degraded by what it published.

    A status written before this operator version may say Degraded/HeartbeatLost too: the same judgement.
    """
    phase = observed.previous.get("phase")
    if phase == Phase.RUNNING:
        return True
    degraded = _previous_condition(observed, "Degraded")
    return (
        phase == Phase.DEGRADED
        and degraded is not None
        and degraded["status"] == "True"
        and degraded["reason"] in _WORKER_SEEN
    )


def _deployment_progress(deployment: dict[str, Any] | None) -> tuple[bool, str, str]:
    if deployment is None:
        return True, "CreatingWorker", "the worker Deployment is being created"
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    status = deployment.get("status") or {}
    if status.get("observedGeneration", 0) < generation or status.get("updatedReplicas", 0) < wanted:
        return True, "RollingOut", "the worker Deployment is rolling out the current spec"
    return False, "RolledOut", "the worker Deployment runs the current spec"


def _deployment_failure(deployment: dict[str, Any] | None) -> str | None:
    for condition in (deployment or {}).get("status", {}).get("conditions") or []:
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return f"ReplicaFailure: {condition.get('message', '')}"
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f"ProgressDeadlineExceeded: {condition.get('message', '')}"
    return None


def conditions(observed: Observed, live: dict[str, Any]) -> list[dict[str, Any]]:
    """The four conditions, without timestamps (`merge_conditions` adds them)."""
    invalid = bool(observed.problems)
    if invalid:
        reasons = sorted({problem.reason for problem in observed.problems})
        invalid_condition = _condition(
            "InvalidSpec", True, reasons[0], "; ".join(problem.message for problem in observed.problems)
        )
    else:
        invalid_condition = _condition("InvalidSpec", False, "SpecValid", "the spec is valid")

    should_run = not invalid and not observed.paused
    streaming = not live.get("stale", True) and live.get("state") == STREAMING
    triton_failure = _triton_failure(observed, live) if streaming else None
    if invalid:
        ready = _condition("Ready", False, "InvalidSpec", "the spec is invalid; see InvalidSpec")
    elif observed.paused:
        ready = _condition("Ready", False, "Paused", "spec.paused is true: no worker runs")
    elif _live_unreadable(observed):
        # Redis being down says nothing about the worker: neither healthy nor dead, just unknown.
        ready = _condition("Ready", "Unknown", "LiveStateUnavailable", live.get("staleReason") or "")
    elif triton_failure is not None:
        ready = _condition("Ready", False, "TritonUnavailable", triton_failure)
    elif streaming:
        ready = _condition("Ready", True, "Streaming", f"the worker streams at {live.get('fps')} fps")
    elif live.get("stale", True):
        ready = _condition("Ready", False, "NoHeartbeat", live.get("staleReason") or "no fresh worker heartbeat")
    else:
        ready = _condition("Ready", False, "CameraNotStreaming", f"the worker's stream is {live.get('state')}")

    progressing_now, progress_reason, progress_message = _deployment_progress(observed.deployment)
    if not should_run:
        progressing = _condition("Progressing", False, "NotRunning", "no worker should run")
    else:
        progressing = _condition("Progressing", progressing_now, progress_reason, progress_message)

    failure = _deployment_failure(observed.deployment) if should_run else None
    if failure is not None:
        degraded = _condition("Degraded", True, "DeploymentFailing", failure)
    elif should_run and _live_unreadable(observed):
        degraded = _previous_condition(observed, "Degraded") or _condition(
            "Degraded", False, "AsExpected", "nothing is failing"
        )
    elif should_run and not live.get("stale", True) and not streaming:
        degraded = _condition("Degraded", True, "CameraNotStreaming", f"the worker's stream is {live.get('state')}")
    elif should_run and triton_failure is not None:
        degraded = _condition("Degraded", True, "TritonUnavailable", triton_failure)
    elif should_run and not streaming and not progressing_now and _worker_ran(observed):
        # Not only the refresh right after Running: a frozen worker stays Degraded for as long as it is silent.
        degraded = _condition("Degraded", True, "HeartbeatLost", live.get("staleReason") or "heartbeat lost")
    else:
        degraded = _condition("Degraded", False, "AsExpected", "nothing is failing")
    return [ready, progressing, degraded, invalid_condition]


def merge_conditions(
    new: list[dict[str, Any]], previous: list[dict[str, Any]] | None, now: str, generation: int
) -> list[dict[str, Any]]:
    """Stamp conditions; `lastTransitionTime` moves only when a condition's status changes."""
    before = {condition.get("type"): condition for condition in previous or []}
    merged = []
    for condition in new:
        old = before.get(condition["type"])
        since = old.get("lastTransitionTime") if old and old.get("status") == condition["status"] else None
        merged.append({**condition, "lastTransitionTime": since or now, "observedGeneration": generation})
    return merged


def phase(observed: Observed, merged: list[dict[str, Any]]) -> Phase:
    status_of = {condition["type"]: condition["status"] == "True" for condition in merged}
    if status_of.get("InvalidSpec"):
        return Phase.INVALID
    if observed.paused:
        return Phase.PAUSED
    if _live_unreadable(observed) and observed.previous.get("phase") in (Phase.RUNNING, Phase.DEGRADED):
        return Phase(observed.previous["phase"])  # kept, with `live.stale` saying why it may be old
    if status_of.get("Ready"):
        return Phase.RUNNING
    if status_of.get("Degraded"):
        return Phase.DEGRADED
    return Phase.PENDING


def build_status(observed: Observed, now: float) -> dict[str, Any]:
    """The whole `status` patch for one observation."""
    live = live_status(observed.live, observed.previous.get("live"), observed.stale_after_s)
    merged = merge_conditions(
        conditions(observed, live), observed.previous.get("conditions"), _iso(now) or "", observed.generation
    )
    return {
        "observedGeneration": observed.generation,
        "phase": str(phase(observed, merged)),
        "conditions": merged,
        "live": live,
    }
