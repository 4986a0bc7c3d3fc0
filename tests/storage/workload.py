"""A channel writer's workload for the storage tests: a run's worth of mixed records, what the database must
hold once they are written, and a writer with small batches and short delays."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from footfall_worker.settings import StorageSettings
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import (
    ChannelRow,
    ChannelStatMinute,
    EventRow,
    Record,
    RunEnd,
    RunStart,
    TrackPoint,
    TrackRow,
    new_run_id,
)
from tests.support.postgres import connect

CHANNEL = "channel_1"
T0 = 1_767_000_000.0  # a wall-clock epoch; the workload's times are offsets from it


def fast_settings(**overrides: Any) -> StorageSettings:
    """Small batches and short delays, so outages and flushes play out in seconds."""
    values: dict[str, Any] = {
        "batch_rows": 100,
        "flush_interval_s": 0.1,
        "max_buffered_rows": 2000,
        "connect_timeout_s": 2,
        "statement_timeout_s": 5.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.5,
        "journal_retry_s": 0.2,
        "drop_log_interval_s": 1.0,
        **overrides,
    }
    return StorageSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Workload:
    """A run's worth of mixed records, and what the database must hold once they are written."""

    run_id: str = field(default_factory=new_run_id)
    records: list[Record] = field(default_factory=list)
    tracks: dict[int, TrackRow] = field(default_factory=dict)
    points: list[TrackPoint] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    stats: dict[int, ChannelStatMinute] = field(default_factory=dict)
    _track_frames: dict[int, int] = field(default_factory=dict)
    _tick: int = 0

    def begin(self) -> list[Record]:
        rows: list[Record] = [
            ChannelRow(CHANNEL, "store_1", "entrance", "rtsp://admin:secret@192.0.2.10:554/x", {"fps": 15}),
            RunStart(self.run_id, T0),
        ]
        self.records += rows
        return rows

    def tick(self) -> list[Record]:
        """One producer step (10 rows): points for 5 live tracks, an event, a growing track row and more."""
        i = self._tick
        self._tick += 1
        t = T0 + 0.2 * i
        rows: list[Record] = []
        for k in range(5):
            track_id = i // 40 * 5 + k + 1  # five tracks live for 40 ticks, then the next five
            frames = self._track_frames.get(track_id, 0) + 1
            self._track_frames[track_id] = frames
            box = (10.5 * k, 20.25 + i % 7, 110.5 * k + 50, 300.75 + i % 5)
            point = TrackPoint(self.run_id, track_id, t + 0.01 * k, *box)
            rows.append(point)
            self.points.append(point)
            if frames % 4 == 1 or k < 2:
                first = self.tracks[track_id].first_seen if track_id in self.tracks else t
                row = TrackRow(
                    self.run_id,
                    track_id,
                    first,
                    t + 0.01 * k,
                    frames,
                    gender=("female", "male", "unknown")[track_id % 3],
                    gender_confidence=min(1.0, 0.5 + frames / 100),
                    face_votes=frames // 3,
                    vote_weight=frames * 0.1,
                    score_mean=0.8,
                    score_max=0.95,
                )
                rows.append(row)
                self.tracks[track_id] = row
        event = EventRow.new(self.run_id, t, "zone_enter" if i % 2 else "line_crossing", i // 40 * 5 + 1, {"n": i})
        rows.append(event)
        self.events.append(event)
        while len(rows) < 10:
            minute = int((T0 + i) // 60) * 60
            stat = ChannelStatMinute(minute + 0.5, i, i % 13, 14.5, 2.5, 5, run_id=self.run_id)
            rows.append(stat)
            self.stats[minute] = stat
        self.records += rows
        return rows

    def end(self) -> list[Record]:
        rows: list[Record] = [RunEnd(self.run_id, T0 + 0.2 * self._tick + 1, 1000, 990, 10, 2, 14.8, "stopped")]
        self.records += rows
        return rows


def assert_database_holds(dsn: str, work: Workload) -> None:
    """Every row produced is there exactly once, with its content (reals compared at float32 precision)."""
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, store_id, source_masked, config FROM channels")
        assert cur.fetchall() == [(CHANNEL, "store_1", "rtsp://***@192.0.2.10:554/x", {"fps": 15})]
        cur.execute("SELECT id::text, channel_id, extract(epoch FROM started_at)::float8, exit_reason FROM runs")
        ended = any(isinstance(r, RunEnd) for r in work.records)
        assert cur.fetchall() == [(work.run_id, CHANNEL, T0, "stopped" if ended else None)]
        # the writer's own tally of what it was handed, written with the RunEnd: produced = committed
        cur.execute("SELECT rows_produced FROM runs")
        produced = {"tracks": len(work.tracks), "track_points": len(work.points), "events": len(work.events)}
        assert cur.fetchall() == [(produced if ended else None,)]

        cur.execute(
            "SELECT track_id, extract(epoch FROM first_seen)::float8, extract(epoch FROM last_seen)::float8, frames,"
            " gender, gender_confidence, face_votes, vote_weight, channel_id FROM tracks WHERE run_id = %s"
            " ORDER BY track_id",
            (work.run_id,),
        )
        rows = cur.fetchall()
        assert [r[0] for r in rows] == sorted(work.tracks)
        for track_id, first, last, frames, gender, conf, votes, weight, channel in rows:
            want = work.tracks[track_id]
            assert (frames, gender, votes, channel) == (want.frames, want.gender, want.face_votes, CHANNEL)
            assert first == pytest.approx(want.first_seen, abs=1e-6) and last == pytest.approx(want.last_seen, abs=1e-6)
            assert conf == pytest.approx(np.float32(want.gender_confidence)) and weight == pytest.approx(
                np.float32(want.vote_weight)
            )

        cur.execute(
            "SELECT track_id, extract(epoch FROM t)::float8, x1, y1, x2, y2 FROM track_points ORDER BY track_id, t"
        )
        got = cur.fetchall()
        want_points = sorted(work.points, key=lambda p: (p.track_id, p.t))
        assert len(got) == len(want_points)
        got_arr = np.array([g[1:] for g in got])
        want_arr = np.array([(p.t, p.x1, p.y1, p.x2, p.y2) for p in want_points])
        assert [g[0] for g in got] == [p.track_id for p in want_points]
        assert np.allclose(got_arr[:, 0], want_arr[:, 0], atol=1e-6, rtol=0)
        assert np.array_equal(got_arr[:, 1:].astype(np.float32), want_arr[:, 1:].astype(np.float32))

        cur.execute("SELECT id::text, kind, track_id, payload, extract(epoch FROM t)::float8 FROM events ORDER BY seq")
        got_events = cur.fetchall()
        # Same events, once each, and in the order they were put (journal replayed before newer rows).
        assert [(e[0], e[1], e[2], e[3]) for e in got_events] == [
            (e.event_id, e.kind, e.track_id, e.payload) for e in work.events
        ]

        cur.execute("SELECT extract(epoch FROM minute)::bigint, people_count, unique_tracks FROM channel_stats_minute")
        assert sorted(cur.fetchall()) == sorted(
            (minute, s.people_count, s.unique_tracks) for minute, s in work.stats.items()
        )


def make_writer(dsn: str, tmp_path: Path, **overrides: Any) -> PostgresWriter:
    return PostgresWriter(dsn, CHANNEL, fast_settings(**overrides), tmp_path / "journal")
