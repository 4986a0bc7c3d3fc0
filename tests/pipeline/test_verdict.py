"""Liveness and readiness rules, as tables: a camera outage never kills the pod, a wedged loop does."""

from dataclasses import replace

import pytest

from footfall_worker.health.verdict import WorkerView, liveness, readiness
from footfall_worker.ingest.stream_state import StreamState

HEALTHY = WorkerView(
    stopping=False,
    loop_alive=True,
    loop_idle_s=0.1,
    reader_alive=True,
    reader_state=StreamState.STREAMING,
    last_frame_age_s=0.05,
    writer_alive=True,
    writer_db_up=True,
    writer_journal_ok=True,
    gender_alive=True,
    triton_ok=True,
    source_is_file=False,
)


@pytest.mark.parametrize(
    ("change", "alive"),
    [
        ({}, True),
        ({"reader_state": StreamState.BACKOFF, "last_frame_age_s": 45.0}, True),  # camera down: expected backoff
        ({"reader_state": StreamState.STALLED}, True),
        ({"triton_ok": False}, True),  # Triton down: restarting us would not help
        ({"writer_db_up": False}, True),  # PostgreSQL down: the journal holds the rows
        ({"writer_db_up": False, "writer_journal_ok": False}, True),  # not ready, but a restart cannot fix a disk
        ({"loop_idle_s": 31.0}, False),  # wedged processing loop
        ({"loop_alive": False}, False),  # processing thread crashed
        ({"reader_alive": False}, False),
        ({"writer_alive": False}, False),
        ({"gender_alive": False}, False),
        ({"reader_alive": False, "source_is_file": True}, True),  # a file that ended
        ({"loop_alive": False, "reader_alive": False, "stopping": True}, True),  # shutting down on purpose
    ],
)
def test_liveness(change: dict[str, object], alive: bool) -> None:
    verdict = liveness(replace(HEALTHY, **change), timeout_s=30.0)
    assert verdict.ok is alive, verdict.reasons
    assert bool(verdict.reasons) is not alive


@pytest.mark.parametrize(
    ("change", "ready", "reason"),
    [
        ({}, True, ""),
        ({"reader_state": StreamState.BACKOFF}, False, "stream backoff"),
        ({"reader_state": StreamState.CONNECTING, "last_frame_age_s": None}, False, "stream connecting"),
        ({"last_frame_age_s": 7.5}, False, "newest frame 7.5 s old"),
        ({"last_frame_age_s": None}, False, "newest frame none yet"),
        ({"triton_ok": False}, False, "Triton not answering"),
        ({"writer_db_up": False}, True, ""),  # journaling: nothing is lost, still producing results
        ({"writer_db_up": False, "writer_journal_ok": False}, False, "journal unwritable"),
        ({"stopping": True}, False, "shutting down"),
    ],
)
def test_readiness(change: dict[str, object], ready: bool, reason: str) -> None:
    verdict = readiness(replace(HEALTHY, **change), max_frame_age_s=5.0)
    assert verdict.ok is ready, verdict.reasons
    assert reason in " ".join(verdict.reasons)


def test_readiness_names_a_database_outage_the_journal_covers_as_degraded() -> None:
    verdict = readiness(replace(HEALTHY, writer_db_up=False), max_frame_age_s=5.0)
    assert verdict.ok and verdict.degraded == ("PostgreSQL unreachable: rows wait in the journal",)
    assert readiness(HEALTHY, max_frame_age_s=5.0).degraded == ()
