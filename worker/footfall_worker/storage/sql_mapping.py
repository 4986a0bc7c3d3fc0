"""How the writer's records become SQL: one statement per table and batch, as idempotent upserts.

`execute_records` writes a batch table by table in `TABLE_ORDER` with `execute_values`, each key once (the
newest wins): a batch written twice (a retry after a lost commit acknowledgement, a journal replayed after a
crash) changes nothing the second time, and a growing track's row keeps its newest state. Writing a `RunStart`
closes the channel's runs a killed worker left open (`runs.py`). Transactions are the caller's (`flusher.py`).
"""

import logging
import math
from dataclasses import replace
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from footfall_contract.config.masking import mask_credentials
from footfall_worker.storage import runs as run_rows
from footfall_worker.storage.journal_format import json_dumps
from footfall_worker.storage.records import (
    ChannelRow,
    ChannelStatMinute,
    EventRow,
    HeatmapHour,
    Record,
    RunEnd,
    RunSeen,
    RunStart,
    TrackPoint,
    TrackRow,
)

logger = logging.getLogger("footfall.storage")

# Rows of one batch are written table by table in this order (foreign keys are deferred, but a RunEnd must
# follow its RunStart, and the row-by-row fallback checks constraints immediately).
TABLE_ORDER: dict[type, int] = {
    ChannelRow: 0,
    RunStart: 1,
    TrackRow: 2,
    TrackPoint: 3,
    EventRow: 4,
    ChannelStatMinute: 5,
    HeatmapHour: 6,
    RunSeen: 7,
    RunEnd: 8,
}

_SQL_CHANNELS = """
INSERT INTO channels (id, store_id, name, source_masked, config, timezone, opening_hours) VALUES %s
ON CONFLICT (id) DO UPDATE SET store_id = EXCLUDED.store_id, name = EXCLUDED.name,
    source_masked = EXCLUDED.source_masked, config = EXCLUDED.config, timezone = EXCLUDED.timezone,
    opening_hours = EXCLUDED.opening_hours, updated_at = now()
"""
_TPL_CHANNELS = "(%s, %s, %s, %s, %s::jsonb, %s, %s::jsonb)"

_SQL_RUNS = "INSERT INTO runs (id, channel_id, started_at) VALUES %s ON CONFLICT (id) DO NOTHING"
_TPL_RUNS = "(%s, %s, to_timestamp(%s))"

# The newest state wins: a replayed older row (same or earlier last_seen) never rolls a track back, and a later
# row with the same last_seen (e.g. gender decided after the track ended) still lands. A link, once made, stays.
# first_seen is part of the key (tracks are partitioned by it) but a worker re-derives it in wall time on every
# row, a few ms apart: the row stored first keeps it, found within an hour so only that hour's partitions are read.
_SQL_TRACKS = """
WITH incoming (run_id, track_id, channel_id, first_seen, last_seen, frames, gender, gender_confidence, face_votes,
    vote_weight, score_mean, score_max, linked_run_id, linked_track_id, staff) AS (VALUES %s)
INSERT INTO tracks (run_id, track_id, channel_id, first_seen, last_seen, frames, gender, gender_confidence,
    face_votes, vote_weight, score_mean, score_max, linked_run_id, linked_track_id, staff)
SELECT i.run_id, i.track_id, i.channel_id,
    coalesce((SELECT s.first_seen FROM tracks s
              WHERE s.run_id = i.run_id AND s.track_id = i.track_id
                AND s.first_seen BETWEEN i.first_seen - interval '1 hour' AND i.first_seen + interval '1 hour'
              ORDER BY s.first_seen LIMIT 1), i.first_seen),
    i.last_seen, i.frames, i.gender, i.gender_confidence, i.face_votes, i.vote_weight, i.score_mean, i.score_max,
    i.linked_run_id, i.linked_track_id, i.staff
FROM incoming i
ON CONFLICT (run_id, track_id, first_seen) DO UPDATE SET
    last_seen = EXCLUDED.last_seen,
    frames = EXCLUDED.frames, gender = EXCLUDED.gender, gender_confidence = EXCLUDED.gender_confidence,
    face_votes = EXCLUDED.face_votes, vote_weight = EXCLUDED.vote_weight, score_mean = EXCLUDED.score_mean,
    score_max = EXCLUDED.score_max,
    linked_run_id = COALESCE(EXCLUDED.linked_run_id, tracks.linked_run_id),
    linked_track_id = CASE WHEN EXCLUDED.linked_run_id IS NULL THEN tracks.linked_track_id
                           ELSE EXCLUDED.linked_track_id END,
    staff = tracks.staff OR EXCLUDED.staff,
    updated_at = now()
WHERE EXCLUDED.last_seen >= tracks.last_seen
"""
_TPL_TRACKS = (
    "(%s::uuid, %s::integer, %s::text, to_timestamp(%s), to_timestamp(%s), %s::integer, %s::text, %s::real,"
    " %s::integer, %s::real, %s::real, %s::real, %s::uuid, %s::integer, %s::boolean)"
)

_SQL_POINTS = "INSERT INTO track_points (run_id, track_id, t, x1, y1, x2, y2) VALUES %s ON CONFLICT DO NOTHING"
_TPL_POINTS = "(%s, %s, to_timestamp(%s), %s, %s, %s, %s)"

_SQL_EVENTS = """
INSERT INTO events (id, run_id, channel_id, t, kind, track_id, payload) VALUES %s ON CONFLICT (id, t) DO NOTHING
"""
_TPL_EVENTS = "(%s, %s, %s, to_timestamp(%s), %s, %s, %s::jsonb)"

_SQL_STATS = """
INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps, occupancy_avg,
    occupancy_max, entries, exits, entries_female, entries_male, entries_unknown, dwells, dwell_mean_s, run_id,
    covered_s, entries_staff, exits_staff)
VALUES %s
ON CONFLICT (channel_id, minute, run_id) DO UPDATE SET people_count = EXCLUDED.people_count,
    unique_tracks = EXCLUDED.unique_tracks, fps = EXCLUDED.fps, occupancy_avg = EXCLUDED.occupancy_avg,
    occupancy_max = EXCLUDED.occupancy_max, entries = EXCLUDED.entries, exits = EXCLUDED.exits,
    entries_female = EXCLUDED.entries_female, entries_male = EXCLUDED.entries_male,
    entries_unknown = EXCLUDED.entries_unknown, dwells = EXCLUDED.dwells, dwell_mean_s = EXCLUDED.dwell_mean_s,
    covered_s = EXCLUDED.covered_s, entries_staff = EXCLUDED.entries_staff, exits_staff = EXCLUDED.exits_staff
"""
_TPL_STATS = "(%s, to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"

# Hours in absolute time (the grid is the run's own share of the hour: reports add the runs up).
_SQL_HEATMAP = """
INSERT INTO channel_heatmap_hour (channel_id, hour, run_id, cols, rows, counts, frames) VALUES %s
ON CONFLICT (channel_id, hour, run_id) DO UPDATE SET cols = EXCLUDED.cols, rows = EXCLUDED.rows,
    counts = EXCLUDED.counts, frames = EXCLUDED.frames
"""
_TPL_HEATMAP = "(%s, to_timestamp(%s), %s, %s, %s, %s::integer[], %s)"

_SQL_RUN_END = """
UPDATE runs SET ended_at = to_timestamp(%s), frames_read = %s, frames_processed = %s, frames_dropped = %s,
    reconnects = %s, mean_fps = %s, exit_reason = %s, rows_produced = %s::jsonb
WHERE id = %s
"""

ClosedRun = tuple[str, Any]
"""(run id, the `ended_at` given) of a run closed as lost (`runs.close_lost`)."""


def _dumps(value: Any) -> str:
    return json_dumps({} if value is None else value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def execute_records(cur: psycopg2.extensions.cursor, channel_id: str, records: list[Record]) -> list[ClosedRun]:
    """The batch as one statement per table, in `TABLE_ORDER`, each key once (the newest wins).

    Args:
        cur: a cursor in the batch's transaction (nothing is committed here).
        channel_id: the channel every row belongs to.
        records: the batch, in any order.

    Returns:
        The channel's earlier runs its `RunStart` rows closed as lost.

    Raises:
        TypeError: a record that is not a storage record.
        psycopg2.Error, ValueError: PostgreSQL (or a field's conversion) refused the batch.
    """
    channels: dict[str, tuple[Any, ...]] = {}
    runs: list[tuple[Any, ...]] = []
    tracks: dict[tuple[str, int], TrackRow] = {}
    points: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    stats: dict[tuple[int, str], tuple[Any, ...]] = {}
    heatmaps: dict[tuple[int, str], tuple[Any, ...]] = {}
    seen: dict[str, float] = {}
    run_ends: list[tuple[Any, ...]] = []
    for r in records:
        if isinstance(r, TrackPoint):
            points.append((r.run_id, int(r.track_id), float(r.t), float(r.x1), float(r.y1), float(r.x2), float(r.y2)))
        elif isinstance(r, TrackRow):
            # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the newest per track (and
            # staff once any row said so, as the upsert does across statements).
            key = (r.run_id, int(r.track_id))
            held = tracks.get(key)
            if held is None or r.last_seen >= held.last_seen:
                tracks[key] = replace(r, staff=True) if held is not None and held.staff else r
            elif r.staff and not held.staff:
                tracks[key] = replace(held, staff=True)
        elif isinstance(r, EventRow):
            events.append(
                (r.event_id, r.run_id, channel_id, float(r.t), str(r.kind), _opt_int(r.track_id), _dumps(r.payload))
            )
        elif isinstance(r, ChannelStatMinute):
            minute = math.floor(float(r.minute) / 60) * 60
            stats[(minute, str(r.run_id))] = (
                channel_id,
                minute,
                int(r.people_count),
                int(r.unique_tracks),
                float(r.fps),
                float(r.occupancy_avg),
                int(r.occupancy_max),
                int(r.entries),
                int(r.exits),
                int(r.entries_female),
                int(r.entries_male),
                int(r.entries_unknown),
                int(r.dwells),
                _opt_float(r.dwell_mean_s),
                str(r.run_id),
                _opt_float(r.covered_s),
                int(r.entries_staff),
                int(r.exits_staff),
            )
        elif isinstance(r, RunStart):
            runs.append((r.run_id, channel_id, float(r.started_at)))
        elif isinstance(r, RunSeen):
            seen[r.run_id] = max(float(r.seen_at), seen.get(r.run_id, float("-inf")))
        elif isinstance(r, RunEnd):
            run_ends.append(
                (
                    float(r.ended_at),
                    int(r.frames_read),
                    int(r.frames_processed),
                    int(r.frames_dropped),
                    int(r.reconnects),
                    float(r.mean_fps),
                    str(r.exit_reason),
                    None if r.rows_produced is None else json_dumps(r.rows_produced),
                    r.run_id,
                )
            )
        elif isinstance(r, HeatmapHour):
            hour = math.floor(float(r.hour) / 3600) * 3600
            counts = [int(c) for c in r.counts]
            grid = (int(r.cols), int(r.rows), counts, int(r.frames))
            heatmaps[(hour, str(r.run_id))] = (channel_id, hour, str(r.run_id), *grid)
        elif isinstance(r, ChannelRow):
            channels[r.channel_id] = (
                r.channel_id,
                r.store_id,
                r.name,
                mask_credentials(r.source_masked),
                _dumps(r.config),
                str(r.timezone),
                None if r.opening_hours is None else _dumps(r.opening_hours),
            )
        else:
            raise TypeError(f"not a storage record: {type(r).__name__}")
    closed_runs: list[ClosedRun] = []
    values = psycopg2.extras.execute_values
    if channels:
        values(cur, _SQL_CHANNELS, list(channels.values()), _TPL_CHANNELS, page_size=len(channels))
    if runs:
        values(cur, _SQL_RUNS, runs, _TPL_RUNS, page_size=len(runs))
        for run_id, _, started_at in runs:
            closed_runs += run_rows.close_lost(cur, channel_id, run_id, started_at)
    if tracks:
        rows = [
            (
                t.run_id,
                int(t.track_id),
                channel_id,
                float(t.first_seen),
                float(t.last_seen),
                int(t.frames),
                str(t.gender),
                _opt_float(t.gender_confidence),
                int(t.face_votes),
                float(t.vote_weight),
                _opt_float(t.score_mean),
                _opt_float(t.score_max),
                t.linked_run_id,
                _opt_int(t.linked_track_id),
                bool(t.staff),
            )
            for t in tracks.values()
        ]
        values(cur, _SQL_TRACKS, rows, _TPL_TRACKS, page_size=len(rows))
    if points:
        values(cur, _SQL_POINTS, points, _TPL_POINTS, page_size=len(points))
    if events:
        values(cur, _SQL_EVENTS, events, _TPL_EVENTS, page_size=len(events))
    if stats:
        values(cur, _SQL_STATS, list(stats.values()), _TPL_STATS, page_size=len(stats))
    if heatmaps:
        values(cur, _SQL_HEATMAP, list(heatmaps.values()), _TPL_HEATMAP, page_size=len(heatmaps))
    run_rows.mark_seen(cur, seen)
    for params in run_ends:
        cur.execute(_SQL_RUN_END, params)
        if cur.rowcount == 0:
            logger.warning("RunEnd for unknown run %s", params[-1], extra={"channel": channel_id})
    return closed_runs
