"""Liveness and readiness as pure functions of what the worker knows, so the rules are table-tested.

Liveness answers "should Kubernetes restart this pod?": only when restarting can help, i.e. a thread died
or the processing loop is wedged. A camera outage is not such a case (the reader is in a backoff it is
expected to be in, and a restart would only reset that backoff), nor is Triton or PostgreSQL being down.

Readiness answers "is this channel producing results right now?": the stream is flowing, the detector
answers, and every row has somewhere to go (PostgreSQL, or the journal while it is down).
"""

from dataclasses import dataclass

from footfall_contract.probes import Verdict
from footfall_worker.ingest.stream_state import StreamState


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What the verdicts need, gathered from the worker's parts at one instant."""

    stopping: bool
    loop_alive: bool
    loop_idle_s: float  # since the processing loop last went round (a frame, or a get() timeout)
    reader_alive: bool
    reader_state: StreamState
    last_frame_age_s: float | None
    writer_alive: bool  # True when there is no writer (dry run)
    writer_db_up: bool
    writer_journal_ok: bool
    gender_alive: bool  # True when gender is off
    triton_ok: bool
    source_is_file: bool


def _verdict(reasons: list[str], degraded: list[str] | None = None) -> Verdict:
    return Verdict(not reasons, tuple(reasons), tuple(degraded or ()))


def liveness(view: WorkerView, timeout_s: float) -> Verdict:
    """Alive unless a thread died or the loop has not gone round for `timeout_s`."""
    reasons = []
    if not view.loop_alive and not view.stopping:
        reasons.append("processing thread ended")
    elif view.loop_idle_s > timeout_s:
        reasons.append(f"processing loop stuck for {view.loop_idle_s:.0f} s (limit {timeout_s:.0f} s)")
    # A file that ended stops its reader on purpose; a camera reader only stops when we stop it.
    if not view.reader_alive and not view.stopping and not view.source_is_file:
        reasons.append("camera reader thread ended")
    if not view.writer_alive and not view.stopping:
        reasons.append("record writer thread ended")
    if not view.gender_alive and not view.stopping:
        reasons.append("gender thread ended")
    return _verdict(reasons)


def readiness(view: WorkerView, max_frame_age_s: float) -> Verdict:
    """Ready while frames flow, Triton answers and rows can be kept (database up, or journaling)."""
    reasons = []
    if view.stopping:
        reasons.append("shutting down")
    if view.reader_state is not StreamState.STREAMING:
        reasons.append(f"stream {view.reader_state}")
    elif view.last_frame_age_s is None or view.last_frame_age_s > max_frame_age_s:
        age = "none yet" if view.last_frame_age_s is None else f"{view.last_frame_age_s:.1f} s old"
        reasons.append(f"newest frame {age} (limit {max_frame_age_s:.1f} s)")
    if not view.triton_ok:
        reasons.append("Triton not answering")
    degraded = []
    if not view.writer_db_up and not view.writer_journal_ok:
        reasons.append("PostgreSQL down and the journal unwritable")
    elif not view.writer_db_up:
        # Still ready: the journal keeps every row, and a restart would not bring PostgreSQL back.
        degraded.append("PostgreSQL unreachable: rows wait in the journal")
    return _verdict(reasons, degraded)
