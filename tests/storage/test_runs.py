"""Runs a killed worker left open are closed by the channel's next start (`runs.py`), against a real PostgreSQL."""

import logging
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from footfall_worker.settings import StorageSettings
from footfall_worker.storage.migrations import MIGRATIONS_DIR, migrate
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import ChannelRow, RunEnd, RunSeen, RunStart, TrackRow, new_run_id
from footfall_worker.storage.runs import LOST
from tests.support.paths import REPO_ROOT
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    return pg_cluster.create_database("runs")


def settings() -> StorageSettings:
    return StorageSettings(_env_file=None, flush_interval_s=0.1, backoff_initial_s=0.05, backoff_max_s=0.5)  # type: ignore[call-arg]


def channel_row(channel: str) -> ChannelRow:
    return ChannelRow(channel, "store_1", channel, "rtsp://192.0.2.10:554/x", {})


def find_run(dsn: str, run_id: str) -> dict[str, Any] | None:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT channel_id, started_at, last_seen_at, ended_at, exit_reason, frames_read FROM runs WHERE id = %s",
            (run_id,),
        )
        row = cur.fetchone()
    return (
        None
        if row is None
        else dict(
            zip(("channel", "started_at", "last_seen_at", "ended_at", "exit_reason", "frames_read"), row, strict=True)
        )
    )


def run_row(dsn: str, run_id: str) -> dict[str, Any]:
    found = find_run(dsn, run_id)
    assert found is not None, f"no run {run_id}"
    return found


def wait_for(what: str, probe: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_run(
    dsn: str, channel: str, journal: Path, run_id: str | None = None, **kwargs: Any
) -> tuple[PostgresWriter, str]:
    writer = PostgresWriter(dsn, channel, settings(), journal, **kwargs)
    writer.start()
    run_id = run_id or new_run_id()
    writer.put(channel_row(channel))
    writer.put(RunStart(run_id, time.time()))
    return writer, run_id


# A worker's writer as its own process: started, its run marked seen every 0.3 s, then SIGKILLed (no close).
_KILLED_WORKER = """
import sys, time
from pathlib import Path
from footfall_worker.settings import StorageSettings
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import ChannelRow, RunStart
dsn, channel, run_id, journal = sys.argv[1:5]
settings = StorageSettings(_env_file=None, flush_interval_s=0.1)
writer = PostgresWriter(dsn, channel, settings, Path(journal), run_seen_interval_s=0.3)
writer.start()
writer.put(ChannelRow(channel, "store_1", channel, "rtsp://192.0.2.10:554/x", {}))
writer.put(RunStart(run_id, time.time()))
print("started", flush=True)
time.sleep(120)
"""


def test_a_killed_workers_run_is_closed_as_lost_by_the_channels_next_start(
    dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    migrate(dsn)
    killed_run = new_run_id()
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WORKER, dsn, "channel_a", killed_run, str(tmp_path / "journal-killed")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    other, other_run = start_run(dsn, "channel_b", tmp_path / "journal-b")  # another channel's live run
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "started"
        first = wait_for("the run marked seen", lambda: (r := find_run(dsn, killed_run)) and r["last_seen_at"])
        wait_for("seen again", lambda: (seen := run_row(dsn, killed_run)["last_seen_at"]) and seen > first)
        process.send_signal(signal.SIGKILL)  # what the kubelet does after the grace period, or the OOM killer
        process.wait(10)
        killed = run_row(dsn, killed_run)
        assert killed["ended_at"] is None and killed["exit_reason"] is None  # nobody closed it
        time.sleep(0.5)
        assert run_row(dsn, killed_run) == killed  # and nobody will: no process is left to

        caplog.set_level(logging.WARNING, logger="footfall.storage")
        writer, new_run = start_run(dsn, "channel_a", tmp_path / "journal-a")
        try:
            closed = wait_for("the killed run closed", lambda: (r := run_row(dsn, killed_run))["ended_at"] and r)
        finally:
            assert writer.close(5.0)
    finally:
        process.kill()
        process.wait(10)
        other.close(5.0)

    assert closed["exit_reason"] == LOST
    assert closed["ended_at"] == killed["last_seen_at"]  # its last sign of life, within run_seen_interval_s
    assert closed["started_at"] < closed["ended_at"] and closed["frames_read"] is None
    mine = run_row(dsn, new_run)
    assert mine["ended_at"] is None and mine["exit_reason"] is None  # a start never closes its own run
    theirs = run_row(dsn, other_run)
    assert theirs["ended_at"] is None and theirs["exit_reason"] is None  # another channel's run is untouched
    lost_lines = [r for r in caplog.records if "closed 1 earlier run(s)" in r.getMessage()]
    assert len(lost_lines) == 1 and killed_run in lost_lines[0].runs  # type: ignore[attr-defined]


def test_a_lost_run_without_marks_ends_at_its_last_track_and_a_late_run_end_still_wins(
    dsn: str, tmp_path: Path
) -> None:
    migrate(dsn)
    t0 = time.time() - 600
    old = PostgresWriter(dsn, "channel_a", settings(), tmp_path / "j1")
    old.start()
    old_run = new_run_id()
    for record in (
        channel_row("channel_a"),
        RunStart(old_run, t0),
        TrackRow(old_run, 1, t0 + 5, t0 + 42.5, 100),  # its last sign of life: a track seen 42.5 s in
    ):
        old.put(record)
    assert old.close(5.0)  # flushed, never ended: as if the process died right after
    clean, clean_run = start_run(dsn, "channel_a", tmp_path / "j2", run_id=new_run_id())
    clean.put(RunEnd(clean_run, time.time(), 10, 10, 0, 0, 1.0, "stopped"))
    assert clean.close(5.0)
    lost = run_row(dsn, old_run)
    assert lost["exit_reason"] == LOST and lost["last_seen_at"] is None
    assert lost["ended_at"].timestamp() == pytest.approx(t0 + 42.5, abs=1e-3)

    later, _ = start_run(dsn, "channel_a", tmp_path / "j3")
    # A journal replayed after the start: the lost run's later marks move its end, its own RunEnd replaces it.
    later.put(RunSeen(old_run, t0 + 50))
    assert later.close(5.0)
    assert run_row(dsn, old_run)["ended_at"].timestamp() == pytest.approx(t0 + 50, abs=1e-3)
    assert run_row(dsn, clean_run)["exit_reason"] == "stopped"  # a run that ended is never touched
    replay, _ = start_run(dsn, "channel_a", tmp_path / "j4")
    replay.put(RunEnd(old_run, t0 + 55, 500, 480, 20, 1, 14.2, "stopped"))
    assert replay.close(5.0)
    ended = run_row(dsn, old_run)
    assert ended["exit_reason"] == "stopped" and ended["frames_read"] == 500
    assert ended["ended_at"].timestamp() == pytest.approx(t0 + 55, abs=1e-3)


def test_a_replayed_older_start_never_closes_a_newer_run(dsn: str, tmp_path: Path) -> None:
    migrate(dsn)
    current, current_run = start_run(dsn, "channel_a", tmp_path / "j1")
    try:
        wait_for("the current run", lambda: find_run(dsn, current_run))
        replay = PostgresWriter(dsn, "channel_a", settings(), tmp_path / "j2")
        replay.start()
        replay.put(RunStart(new_run_id(), time.time() - 3600))  # an older run's start, e.g. from a journal
        assert replay.close(5.0)
        assert run_row(dsn, current_run)["ended_at"] is None
    finally:
        current.close(5.0)


def test_an_existing_database_migrates_keeping_its_rows_and_its_open_runs_close_at_the_next_start(
    dsn: str, tmp_path: Path
) -> None:
    before = tmp_path / "sql"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("000[12]_*.sql")):
        shutil.copy(path, before / path.name)
    migrate(dsn, directory=before)  # a database of the previous release, with a run a killed worker left open
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO channels (id, store_id, name, source_masked) VALUES ('channel_a', 's', 'a', 'x')")
        cur.execute(
            "INSERT INTO runs (id, channel_id, started_at, ended_at, exit_reason) VALUES "
            "('00000000-0000-4000-8000-000000000001', 'channel_a', '2026-01-01T10:00:00Z', NULL, NULL), "
            "('00000000-0000-4000-8000-000000000002', 'channel_a', '2026-01-01T11:00:00Z', '2026-01-01T12:00:00Z', "
            "'stopped')"
        )
    applied = migrate(dsn)
    assert [m.path.name for m in applied][0] == "0003_run_liveness.sql"  # and any later ones
    open_run = run_row(dsn, "00000000-0000-4000-8000-000000000001")
    assert open_run["ended_at"] is None and open_run["last_seen_at"] is None  # kept as it was

    writer, _ = start_run(dsn, "channel_a", tmp_path / "j")
    assert writer.close(5.0)
    closed = run_row(dsn, "00000000-0000-4000-8000-000000000001")
    assert closed["exit_reason"] == LOST and closed["ended_at"] == closed["started_at"]  # no sign of life but its start
    stopped = run_row(dsn, "00000000-0000-4000-8000-000000000002")
    assert stopped["exit_reason"] == "stopped" and stopped["ended_at"] == datetime.fromisoformat(
        "2026-01-01T12:00:00+00:00"
    )
