"""Run rows: a live run's liveness mark, and closing the runs a killed worker left open.

A worker that shuts down writes a `RunEnd` (counters, exit reason). One killed without a shutdown writes
nothing more, so its run would stay open (`ended_at IS NULL`) forever. Instead:

* while a run is open its writer puts a `RunSeen` every `RUN_SEEN_INTERVAL_S`, which moves `runs.last_seen_at`
  forward (buffered and journaled like every row, so an outage delays it but loses nothing);
* when a run of a channel starts, in the transaction that inserts its row, the channel's earlier runs still
  open are closed as `LOST`: `ended_at` = their last sign of life (`last_seen_at`, their tracks' `last_seen`,
  else `started_at`), counters left NULL. A run that only looked dead (a second worker on the same channel)
  heals itself: its later `RunSeen` rows move a lost run's `ended_at` forward, and its `RunEnd` replaces it all.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions

from footfall_worker.storage.records import EventRow, Record, TrackPoint, TrackRow

LOST = "lost"
"""`runs.exit_reason` of a run closed by a later start of its channel: its worker ended without a shutdown."""

RUN_SEEN_INTERVAL_S = 10.0
"""How often an open run's writer marks it seen; a lost run's `ended_at` is at most this much early."""

_SQL_SEEN = """
UPDATE runs SET last_seen_at = GREATEST(last_seen_at, to_timestamp(%(t)s)),
    ended_at = CASE WHEN exit_reason = %(lost)s THEN GREATEST(ended_at, to_timestamp(%(t)s)) ELSE ended_at END
WHERE id = %(run)s
"""

_SQL_CLOSE_LOST = """
UPDATE runs SET exit_reason = %(lost)s, ended_at = GREATEST(started_at, last_seen_at,
    (SELECT max(tracks.last_seen) FROM tracks WHERE tracks.run_id = runs.id))
WHERE channel_id = %(channel)s AND ended_at IS NULL AND id <> %(run)s AND started_at <= to_timestamp(%(started)s)
RETURNING id::text, ended_at
"""


def mark_seen(cur: psycopg2.extensions.cursor, seen: Mapping[str, float]) -> None:
    """Move each run's `last_seen_at` forward to its time (never back); a lost run's `ended_at` with it.

    Args:
        cur: a cursor in the batch's transaction.
        seen: run id -> wall-clock time it was last seen alive (epoch seconds).
    """
    for run_id, t in seen.items():
        cur.execute(_SQL_SEEN, {"t": float(t), "lost": LOST, "run": run_id})


def close_lost(
    cur: psycopg2.extensions.cursor, channel_id: str, run_id: str, started_at: float
) -> list[tuple[str, datetime]]:
    """Close the channel's runs left open that started no later than the run `run_id` starting now.

    Args:
        cur: a cursor in the transaction inserting the new run's row.
        channel_id: the channel.
        run_id: the run starting (never closed here).
        started_at: its start (epoch seconds): a replayed older start never closes a newer run.

    Returns:
        (run id, the `ended_at` given) of each run closed.
    """
    cur.execute(_SQL_CLOSE_LOST, {"lost": LOST, "channel": channel_id, "run": run_id, "started": float(started_at)})
    return [(str(run), ended) for run, ended in cur.fetchall()]


@dataclass
class RunTally:
    """The rows of one run a worker handed its writer (dropped ones too): what PostgreSQL must end up holding.

    `tracks` counts distinct track ids, as a track's row is upserted many times while it grows; points and events
    are each produced once. Written with the run's RunEnd as `runs.rows_produced`.
    """

    track_ids: set[int] = field(default_factory=set)
    track_points: int = 0
    events: int = 0

    def count(self, record: Record) -> None:
        kind = type(record)
        if kind is TrackPoint:
            self.track_points += 1
        elif kind is EventRow:
            self.events += 1
        elif kind is TrackRow:
            self.track_ids.add(record.track_id)  # type: ignore[union-attr]

    def as_dict(self) -> dict[str, int]:
        return {"tracks": len(self.track_ids), "track_points": self.track_points, "events": self.events}
