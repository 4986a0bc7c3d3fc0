"""The buffered, loss-free writer of a channel's record into PostgreSQL.

`put` never blocks: it appends to a bounded in-memory buffer and returns. A background thread writes batches
(`batch_rows` rows, or whatever waited `flush_interval_s`) with `execute_values`, one transaction per batch,
as idempotent upserts: a batch written twice (a retry after a lost commit acknowledgement, a journal replayed
after a crash) changes nothing the second time, and a growing track's row keeps its newest state.

When PostgreSQL is down the thread reconnects with exponential backoff while rows accumulate in memory; above
`spill_fraction` of `max_buffered_rows` the oldest rows go to the on-disk journal (`journal.py`), and all of
memory does at `close()` or when the thread ends. Order is kept: journal first (oldest), then the batch in
flight, then the buffer. Rows are dropped only when memory is full AND the journal cannot be written (counted,
and logged at most once per `drop_log_interval_s`); `put` then returns False. Rows PostgreSQL refuses as data
errors are isolated one by one and kept in the journal's `rejected.jsonl`, so they never block the rest.

While a run is open (its `RunStart` put, its `RunEnd` not yet) the thread puts a `RunSeen` for it every
`run_seen_interval_s`, and writing a `RunStart` closes the channel's runs a killed worker left open (`runs.py`).
"""

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from footfall_contract.config.masking import mask_credentials
from footfall_worker.settings import StorageSettings
from footfall_worker.storage import runs as run_rows
from footfall_worker.storage.journal import Journal, json_dumps
from footfall_worker.storage.migrations import MigrationError, apply_migrations
from footfall_worker.storage.records import (
    ChannelRow,
    ChannelStatMinute,
    EventRow,
    Record,
    RunEnd,
    RunSeen,
    RunStart,
    TrackPoint,
    TrackRow,
    decode_record,
    encode_record,
)

logger = logging.getLogger("footfall.storage")

# Rows of one batch are written table by table in this order (foreign keys are deferred, but a RunEnd must
# follow its RunStart, and the row-by-row fallback checks constraints immediately).
_TABLE_ORDER: dict[type, int] = {
    ChannelRow: 0,
    RunStart: 1,
    TrackRow: 2,
    TrackPoint: 3,
    EventRow: 4,
    ChannelStatMinute: 5,
    RunSeen: 6,
    RunEnd: 7,
}

_SQL_CHANNELS = """
INSERT INTO channels (id, store_id, name, source_masked, config) VALUES %s
ON CONFLICT (id) DO UPDATE SET store_id = EXCLUDED.store_id, name = EXCLUDED.name,
    source_masked = EXCLUDED.source_masked, config = EXCLUDED.config, updated_at = now()
"""
_TPL_CHANNELS = "(%s, %s, %s, %s, %s::jsonb)"

_SQL_RUNS = "INSERT INTO runs (id, channel_id, started_at) VALUES %s ON CONFLICT (id) DO NOTHING"
_TPL_RUNS = "(%s, %s, to_timestamp(%s))"

# The newest state wins: a replayed older row (same or earlier last_seen) never rolls a track back, and a later
# row with the same last_seen (e.g. gender decided after the track ended) still lands. A link, once made, stays.
_SQL_TRACKS = """
INSERT INTO tracks (run_id, track_id, channel_id, first_seen, last_seen, frames, gender, gender_confidence,
    face_votes, vote_weight, score_mean, score_max, linked_run_id, linked_track_id) VALUES %s
ON CONFLICT (run_id, track_id) DO UPDATE SET
    first_seen = LEAST(tracks.first_seen, EXCLUDED.first_seen), last_seen = EXCLUDED.last_seen,
    frames = EXCLUDED.frames, gender = EXCLUDED.gender, gender_confidence = EXCLUDED.gender_confidence,
    face_votes = EXCLUDED.face_votes, vote_weight = EXCLUDED.vote_weight, score_mean = EXCLUDED.score_mean,
    score_max = EXCLUDED.score_max,
    linked_run_id = COALESCE(EXCLUDED.linked_run_id, tracks.linked_run_id),
    linked_track_id = CASE WHEN EXCLUDED.linked_run_id IS NULL THEN tracks.linked_track_id
                           ELSE EXCLUDED.linked_track_id END,
    updated_at = now()
WHERE EXCLUDED.last_seen >= tracks.last_seen
"""
_TPL_TRACKS = "(%s, %s, %s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s)"

_SQL_POINTS = "INSERT INTO track_points (run_id, track_id, t, x1, y1, x2, y2) VALUES %s ON CONFLICT DO NOTHING"
_TPL_POINTS = "(%s, %s, to_timestamp(%s), %s, %s, %s, %s)"

_SQL_EVENTS = """
INSERT INTO events (id, run_id, channel_id, t, kind, track_id, payload) VALUES %s ON CONFLICT (id) DO NOTHING
"""
_TPL_EVENTS = "(%s, %s, %s, to_timestamp(%s), %s, %s, %s::jsonb)"

_SQL_STATS = """
INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps, occupancy_avg,
    occupancy_max, entries, exits, entries_female, entries_male, entries_unknown, dwells, dwell_mean_s) VALUES %s
ON CONFLICT (channel_id, minute) DO UPDATE SET people_count = EXCLUDED.people_count,
    unique_tracks = EXCLUDED.unique_tracks, fps = EXCLUDED.fps, occupancy_avg = EXCLUDED.occupancy_avg,
    occupancy_max = EXCLUDED.occupancy_max, entries = EXCLUDED.entries, exits = EXCLUDED.exits,
    entries_female = EXCLUDED.entries_female, entries_male = EXCLUDED.entries_male,
    entries_unknown = EXCLUDED.entries_unknown, dwells = EXCLUDED.dwells, dwell_mean_s = EXCLUDED.dwell_mean_s
"""
_TPL_STATS = "(%s, to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"

_SQL_RUN_END = """
UPDATE runs SET ended_at = to_timestamp(%s), frames_read = %s, frames_processed = %s, frames_dropped = %s,
    reconnects = %s, mean_fps = %s, exit_reason = %s, rows_produced = %s::jsonb
WHERE id = %s
"""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A snapshot of the writer, for probes, metrics and the run summary."""

    buffered_rows: int  # in memory: the buffer plus the batch in flight
    journal_batches: int  # on disk, waiting for PostgreSQL
    journal_rows: int
    journaled_rows: int  # ever spilled to the journal
    replayed_rows: int  # ever written from the journal
    written_rows: int  # committed to PostgreSQL (duplicates of a retried batch included)
    written_batches: int
    dropped_rows: int  # lost: memory full and the journal unwritable
    rejected_rows: int  # refused by PostgreSQL as data errors (kept in rejected.jsonl when possible)
    retries: int  # failed connects and writes
    reconnects: int
    journal_errors: int
    journal_damaged: int  # torn or damaged journal records skipped
    last_error: str | None
    db_up: bool
    journal_ok: bool
    running: bool


def _dumps(value: Any) -> str:
    return json_dumps({} if value is None else value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


class PostgresWriter:
    """Buffers a channel's records and writes them to PostgreSQL on its own thread, loss-free across outages.

    Args:
        dsn: libpq URL of the database (connect only to trusted, configured hosts).
        channel_id: the channel every run, track, event and stat row belongs to.
        settings: batching, timeouts, backoff and journal settings.
        journal_dir: where batches wait on disk while PostgreSQL is unreachable (one directory per channel).
        on_committed: called on the writer thread with each committed batch (e.g. to measure latency); keep
            it quick, an exception is logged and ignored.
        run_seen_interval_s: how often an open run is marked seen (`RunSeen`).
    """

    def __init__(
        self,
        dsn: str,
        channel_id: str,
        settings: StorageSettings,
        journal_dir: Path,
        on_committed: Callable[[list[Record]], None] | None = None,
        run_seen_interval_s: float = run_rows.RUN_SEEN_INTERVAL_S,
    ) -> None:
        self._dsn = dsn
        self._run_seen_interval_s = run_seen_interval_s
        self._open_run: str | None = None  # set by put(RunStart), cleared by put(RunEnd)
        self._tally = run_rows.RunTally()  # the open run's rows, for its RunEnd
        self._run_seen_at = float("-inf")
        self._closed_runs: list[tuple[str, Any]] = []
        self._on_committed = on_committed
        self._channel_id = channel_id
        self._settings = settings
        self._journal = Journal(Path(journal_dir), settings.journal_segment_bytes, settings.journal_fsync)
        self._max_rows = settings.max_buffered_rows
        self._spill_at = max(1, min(self._max_rows - 1, int(self._max_rows * settings.spill_fraction)))
        self._batch_rows = min(settings.batch_rows, self._max_rows)
        self._extra = {"channel": channel_id}

        # Shared with producers: guarded by _lock (held for a few list operations only).
        self._lock = threading.Lock()
        self._buffer: deque[Record] = deque()
        self._in_flight_rows = 0
        self._oldest_mono: float | None = None
        self._dropped = 0
        self._wake = threading.Event()

        # Writer thread only.
        self._pending: list[Record] | None = None
        self._conn: psycopg2.extensions.connection | None = None
        self._migrated = not settings.migrate_on_start
        self._connected_once = False
        self._journal_read_retry_at = 0.0
        self._bug_logged_at = float("-inf")
        self._backoff_s = settings.backoff_initial_s
        self._next_connect = 0.0
        self._journal_ok = True
        self._journal_retry_at = 0.0
        self._logged_dropped = 0
        self._drop_logged_at = float("-inf")
        self._error_logged_at = float("-inf")

        self._written_rows = 0
        self._written_batches = 0
        self._journaled_rows = 0
        self._replayed_rows = 0
        self._retries = 0
        self._reconnects = 0
        self._journal_errors = 0
        self._rejected = 0
        self._last_error: str | None = None

        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._close_deadline = math.inf

    # -- producer side -----------------------------------------------------------------------------------------

    def put(self, record: Record) -> bool:
        """Queue a record for writing. Never blocks on the database or the disk.

        Args:
            record: any record from `records.py`.

        Returns:
            True if queued; False if it had to be dropped (memory full while the journal is unwritable, or the
            writer is closed): counted in `stats().dropped_rows`.

        Raises:
            TypeError: `record` is not one of the storage records (a programming error, raised at the caller).
        """
        if type(record) not in _TABLE_ORDER:
            raise TypeError(f"not a storage record: {type(record).__name__}")
        with self._lock:
            # Counted before anything can drop it: produced is what PostgreSQL must end up holding.
            if type(record) is RunEnd and record.run_id == self._open_run:
                record = replace(record, rows_produced=self._tally.as_dict())
            elif self._open_run is not None and getattr(record, "run_id", None) == self._open_run:
                self._tally.count(record)
            size = len(self._buffer)
            if self._closed or size + self._in_flight_rows >= self._max_rows:
                self._dropped += 1
                return False
            if size == 0:
                self._oldest_mono = time.monotonic()
            self._buffer.append(record)
            if type(record) is RunStart:
                self._open_run = record.run_id
                self._tally = run_rows.RunTally()
                self._run_seen_at = time.monotonic()  # the start itself is the first sign of life
            elif type(record) is RunEnd and record.run_id == self._open_run:
                self._open_run = None
        size += 1
        # Wake the writer only on the crossings that give it work; the flush age is its own timer.
        if size == self._batch_rows or size == self._spill_at:
            self._wake.set()
        return True

    def stats(self) -> WriterStats:
        """A consistent-enough snapshot (counters are read without stopping the writer)."""
        thread = self._thread
        return WriterStats(
            buffered_rows=len(self._buffer) + self._in_flight_rows,
            journal_batches=self._journal.pending_batches,
            journal_rows=self._journal.pending_rows,
            journaled_rows=self._journaled_rows,
            replayed_rows=self._replayed_rows,
            written_rows=self._written_rows,
            written_batches=self._written_batches,
            dropped_rows=self._dropped,
            rejected_rows=self._rejected,
            retries=self._retries,
            reconnects=self._reconnects,
            journal_errors=self._journal_errors,
            journal_damaged=self._journal.damaged_records,
            last_error=self._last_error,
            db_up=self._conn is not None,
            journal_ok=self._journal_ok,
            running=thread is not None and thread.is_alive(),
        )

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the journal, migrate the schema if PostgreSQL answers, and start the writer thread.

        An unreachable database is not an error here (the thread keeps trying); blocks at most about
        `connect_timeout_s` when the host does not answer.

        Raises:
            MigrationError: the database's schema disagrees with the migration files (fix before running).
            RuntimeError: already started.
        """
        if self._thread is not None:
            raise RuntimeError("writer already started")
        try:
            self._journal.open()
        except OSError as exc:
            self._journal_failed(exc, time.monotonic())
        self._connect()  # a MigrationError propagates: the schema must be fixed before this worker runs
        self._thread = threading.Thread(target=self._run, name=f"pg-writer-{self._channel_id}", daemon=True)
        self._thread.start()

    def close(self, deadline_s: float) -> bool:
        """Write out the buffer and the journal within `deadline_s` seconds, then stop the thread.

        Whatever cannot reach PostgreSQL in time is left in the journal for the next start.

        Args:
            deadline_s: the longest this call takes (plus a few ms).

        Returns:
            True if every record put was committed to PostgreSQL (nothing buffered, nothing journaled, nothing
            dropped or rejected); False otherwise, with the counts in `stats()` and in the log.
        """
        with self._lock:
            self._closed = True  # later puts are refused (and counted)
        self._close_deadline = time.monotonic() + deadline_s
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=deadline_s + 0.25)
        else:
            self._finish()
        stats = self.stats()
        complete = (
            not stats.running
            and stats.buffered_rows == 0
            and stats.journal_batches == 0
            and stats.dropped_rows == 0
            and stats.rejected_rows == 0
        )
        level = logging.INFO if complete else logging.WARNING
        logger.log(
            level,
            "writer closed: %d rows written, %d buffered, %d journaled, %d dropped, %d rejected",
            stats.written_rows,
            stats.buffered_rows,
            stats.journal_rows,
            stats.dropped_rows,
            stats.rejected_rows,
            extra={**self._extra, "complete": complete, "still_running": stats.running},
        )
        return complete

    # -- writer thread -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                now = time.monotonic()
                if self._closing and now >= self._close_deadline:
                    break
                try:
                    self._step(now)
                except Exception:  # noqa: BLE001 - a bug in one iteration must not end the writer
                    self._disconnect()
                    if now - self._bug_logged_at >= self._settings.drop_log_interval_s:
                        self._bug_logged_at = now
                        logger.exception("writer iteration failed; retrying", extra=self._extra)
                    self._wake.wait(min(1.0, self._settings.flush_interval_s))
                if self._closing and self._all_written():
                    break
                self._wake.wait(self._wait_s())
                self._wake.clear()
        finally:
            self._finish()

    def _mark_run_seen(self, now: float) -> None:
        """Put a `RunSeen` for the open run when one is due (skipped, not counted, when memory is full)."""
        if now - self._run_seen_at < self._run_seen_interval_s:
            return
        with self._lock:
            run_id = self._open_run
            if run_id is None or self._closed or len(self._buffer) + self._in_flight_rows >= self._max_rows:
                return
            if not self._buffer:
                self._oldest_mono = now
            self._buffer.append(RunSeen(run_id, time.time()))
        self._run_seen_at = now

    def _step(self, now: float) -> None:
        self._mark_run_seen(now)
        if self._conn is None:
            if self._closing:
                self._spill(everything=True)  # durable first, then keep trying PostgreSQL until the deadline
            if now >= self._next_connect and self._may_connect(now):
                self._connect_quietly()
        if self._conn is not None:
            self._drain()
        self._spill(everything=self._closing and self._conn is None)
        self._log_drops(time.monotonic())

    def _finish(self) -> None:
        # Whatever is still in memory goes to the journal: durable for the next start.
        self._journal_retry_at = 0.0
        self._spill(everything=True)
        with self._lock:
            # Neither written nor journaled (the journal failed): lost when the process ends, so counted now.
            lost = len(self._buffer) + self._in_flight_rows
            self._dropped += lost
            self._buffer.clear()
            self._in_flight_rows = 0
            self._oldest_mono = None
        self._pending = None
        self._disconnect()
        self._journal.close()
        self._log_drops(math.inf, force=True)

    def _wait_s(self) -> float:
        now = time.monotonic()
        if self._closing:
            return 0.02
        wait = self._settings.flush_interval_s
        if self._conn is None:
            wait = max(0.0, self._next_connect - now)
        elif self._oldest_mono is not None:
            wait = max(0.0, self._oldest_mono + self._settings.flush_interval_s - now)
        return min(wait, self._settings.flush_interval_s, 1.0)

    def _may_connect(self, now: float) -> bool:
        # While closing, a connect must not outlast the deadline (libpq rounds connect_timeout up to 2 s).
        return not self._closing or self._close_deadline - now > self._settings.connect_timeout_s

    def _all_written(self) -> bool:
        return not self._buffer and self._pending is None and self._journal.pending_batches == 0

    # -- PostgreSQL ----------------------------------------------------------------------------------------------

    def _connect(self) -> bool:
        """Connect (and migrate once). Connection failures are counted and backed off, never raised."""
        settings = self._settings
        try:
            # Keep the DSN's own options (e.g. a search_path) and add ours after them.
            options = psycopg2.extensions.parse_dsn(self._dsn).get("options", "")
            options += f" -c statement_timeout={int(settings.statement_timeout_s * 1000)} -c TimeZone=UTC"
            conn = psycopg2.connect(
                self._dsn,
                connect_timeout=settings.connect_timeout_s,
                application_name=f"footfall-writer:{self._channel_id}"[:63],
                options=options.strip(),
                # A server that vanishes without closing the socket is noticed within ~25 s, not hours.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        except psycopg2.Error as exc:
            self._db_failed(exc)
            return False
        try:
            if not self._migrated:
                apply_migrations(conn)
                self._migrated = True
            conn.autocommit = False
        except MigrationError as exc:
            conn.close()
            logger.error("schema migration refused: %s", exc, extra=self._extra)
            self._db_failed(exc)
            raise
        except psycopg2.Error as exc:
            conn.close()
            self._db_failed(exc)
            return False
        self._conn = conn
        self._backoff_s = self._settings.backoff_initial_s
        if self._connected_once:
            self._reconnects += 1
            logger.info("PostgreSQL reachable again", extra={**self._extra, "reconnects": self._reconnects})
        self._connected_once = True
        return True

    def _connect_quietly(self) -> None:
        try:
            self._connect()
        except MigrationError:
            pass  # logged in _db_failed; retried with backoff, nothing is lost meanwhile

    def _disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None

    def _db_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._disconnect()
        self._retries += 1
        message = mask_credentials(f"{type(exc).__name__}: {str(exc).strip()}")[:500]
        self._last_error = message
        settings = self._settings
        delay = self._backoff_s * (1 + random.uniform(-settings.backoff_jitter, settings.backoff_jitter))
        self._next_connect = now + delay
        self._backoff_s = min(max(self._backoff_s, 1e-3) * settings.backoff_factor, settings.backoff_max_s)
        if now - self._error_logged_at >= settings.drop_log_interval_s:
            self._error_logged_at = now
            logger.warning(
                "PostgreSQL not usable, retrying in %.2f s: %s",
                delay,
                message,
                extra={**self._extra, "retries": self._retries},
            )

    def _drain(self) -> None:
        """Journal first (oldest), then the batch in flight, then due batches from the buffer."""
        while self._conn is not None and time.monotonic() >= self._journal_read_retry_at:
            if self._closing and time.monotonic() >= self._close_deadline:
                return
            try:
                batch = self._journal.peek()
            except OSError as exc:
                # Unreadable journal: carry on with memory (track upserts keep the newest state whatever the
                # order); reading is tried again after journal_retry_s.
                self._journal_read_retry_at = time.monotonic() + self._settings.journal_retry_s
                self._last_error = f"journal read: {type(exc).__name__}: {exc}"[:500]
                logger.error("journal not readable: %s", exc, extra=self._extra)
                break
            if batch is None:
                break
            records = self._decode(batch.items)
            if not self._write(records):
                return
            try:
                self._journal.commit(batch)
            except OSError as exc:
                # Written already; should the segment come back, replaying it only repeats idempotent upserts.
                logger.error("journal segment not removed: %s", exc, extra=self._extra)
            self._replayed_rows += len(records)
            self._spill(everything=False)  # a long replay must not let the buffer overflow meanwhile
        while self._conn is not None:
            if self._closing and time.monotonic() >= self._close_deadline:
                return
            if self._pending is None and not self._take_batch(force=self._closing):
                return
            assert self._pending is not None
            if not self._write(self._pending):
                return
            self._clear_pending()

    def _write(self, records: list[Record]) -> bool:
        """One batch, one transaction. False (and the connection dropped) when PostgreSQL is unreachable."""
        conn = self._conn
        assert conn is not None
        self._closed_runs = []
        try:
            try:
                with conn.cursor() as cur:
                    self._execute(cur, records)
                conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                raise
            except (psycopg2.Error, TypeError, ValueError) as exc:
                conn.rollback()
                self._closed_runs = []
                logger.warning(
                    "batch refused (%s); writing its %d rows one by one",
                    type(exc).__name__,
                    len(records),
                    extra=self._extra,
                )
                self._write_row_by_row(conn, records)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            self._db_failed(exc)
            return False
        self._written_rows += len(records)
        self._written_batches += 1
        if self._closed_runs:
            logger.warning(
                "closed %d earlier run(s) of this channel left open by a worker that ended without a shutdown "
                "(exit_reason %r)",
                len(self._closed_runs),
                run_rows.LOST,
                extra={**self._extra, "runs": {run: str(ended) for run, ended in self._closed_runs}},
            )
        if self._on_committed is not None:
            try:
                self._on_committed(records)
            except Exception:  # noqa: BLE001 - an observer's bug must not stop the record
                logger.exception("on_committed callback failed", extra=self._extra)
        return True

    def _write_row_by_row(self, conn: psycopg2.extensions.connection, records: list[Record]) -> None:
        """Isolate the rows PostgreSQL refuses (savepoint per row) and keep them aside; commit the rest."""
        refused: list[tuple[Record, str]] = []
        with conn.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred checks would only fail at commit
            for record in sorted(records, key=lambda r: _TABLE_ORDER[type(r)]):
                cur.execute("SAVEPOINT row")
                closed = len(self._closed_runs)
                try:
                    self._execute(cur, [record])
                    cur.execute("RELEASE SAVEPOINT row")
                except (psycopg2.OperationalError, psycopg2.InterfaceError):
                    raise
                except (psycopg2.Error, TypeError, ValueError) as exc:
                    cur.execute("ROLLBACK TO SAVEPOINT row")
                    del self._closed_runs[closed:]  # rolled back with the row
                    refused.append((record, f"{type(exc).__name__}: {str(exc).strip()}"[:500]))
        conn.commit()
        for record, error in refused:
            self._reject(encode_record(record), error)

    def _reject(self, item: Any, error: str) -> None:
        self._rejected += 1
        self._last_error = f"rejected row: {error}"
        try:
            self._journal.reject(item, error)
        except (OSError, TypeError, ValueError) as exc:
            logger.error("cannot keep a rejected row: %s", exc, extra=self._extra)
        logger.error("PostgreSQL rejected a row: %s", error, extra={**self._extra, "record_type": str(item[0])})

    def _decode(self, items: list[Any]) -> list[Record]:
        records: list[Record] = []
        for item in items:
            try:
                records.append(decode_record(item))
            except ValueError as exc:
                self._reject(item, str(exc))
        return records

    def _execute(self, cur: psycopg2.extensions.cursor, records: list[Record]) -> None:
        """The batch as one statement per table, in `_TABLE_ORDER`, each key once (the newest wins)."""
        channel = self._channel_id
        channels: dict[str, tuple[Any, ...]] = {}
        runs: list[tuple[Any, ...]] = []
        tracks: dict[tuple[str, int], TrackRow] = {}
        points: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        stats: dict[int, tuple[Any, ...]] = {}
        seen: dict[str, float] = {}
        run_ends: list[tuple[Any, ...]] = []
        for r in records:
            if isinstance(r, TrackPoint):
                points.append(
                    (r.run_id, int(r.track_id), float(r.t), float(r.x1), float(r.y1), float(r.x2), float(r.y2))
                )
            elif isinstance(r, TrackRow):
                # ON CONFLICT DO UPDATE may touch a row only once per statement: keep the newest per track.
                key = (r.run_id, int(r.track_id))
                held = tracks.get(key)
                if held is None or r.last_seen >= held.last_seen:
                    tracks[key] = r
            elif isinstance(r, EventRow):
                events.append(
                    (r.event_id, r.run_id, channel, float(r.t), str(r.kind), _opt_int(r.track_id), _dumps(r.payload))
                )
            elif isinstance(r, ChannelStatMinute):
                minute = math.floor(float(r.minute) / 60) * 60
                stats[minute] = (
                    channel,
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
                )
            elif isinstance(r, RunStart):
                runs.append((r.run_id, channel, float(r.started_at)))
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
            elif isinstance(r, ChannelRow):
                channels[r.channel_id] = (
                    r.channel_id,
                    r.store_id,
                    r.name,
                    mask_credentials(r.source_masked),
                    _dumps(r.config),
                )
            else:
                raise TypeError(f"not a storage record: {type(r).__name__}")
        values = psycopg2.extras.execute_values
        if channels:
            values(cur, _SQL_CHANNELS, list(channels.values()), _TPL_CHANNELS, page_size=len(channels))
        if runs:
            values(cur, _SQL_RUNS, runs, _TPL_RUNS, page_size=len(runs))
            for run_id, _, started_at in runs:
                self._closed_runs += run_rows.close_lost(cur, channel, run_id, started_at)
        if tracks:
            rows = [
                (
                    t.run_id,
                    int(t.track_id),
                    channel,
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
        run_rows.mark_seen(cur, seen)
        for params in run_ends:
            cur.execute(_SQL_RUN_END, params)
            if cur.rowcount == 0:
                logger.warning("RunEnd for unknown run %s", params[-1], extra=self._extra)

    # -- memory and journal -------------------------------------------------------------------------------------

    def _take_batch(self, force: bool) -> bool:
        """Move the oldest due rows from the buffer into the batch in flight. False if none is due."""
        now = time.monotonic()
        with self._lock:
            size = len(self._buffer)
            if size == 0:
                return False
            aged = self._oldest_mono is not None and now - self._oldest_mono >= self._settings.flush_interval_s
            if size < self._batch_rows and not (force or aged):
                return False
            count = min(size, self._batch_rows)
            pending = [self._buffer.popleft() for _ in range(count)]
            self._in_flight_rows = count
            # The rows left behind are younger than the taken ones; "now" is a safe (later) bound on their age.
            self._oldest_mono = now if self._buffer else None
        self._pending = pending
        return True

    def _clear_pending(self) -> None:
        with self._lock:
            self._in_flight_rows = 0
        self._pending = None

    def _spill(self, everything: bool) -> None:
        """Move the batch in flight, then the oldest buffered rows, to the journal (all of memory if
        `everything`, else down to the spill threshold). Stops at the first journal failure."""
        now = time.monotonic()
        if not self._journal_ok and now < self._journal_retry_at:
            return
        while True:
            if self._pending is None:
                if not self._buffer or (not everything and len(self._buffer) < self._spill_at):
                    return
                with self._lock:
                    count = min(len(self._buffer), self._batch_rows)
                    self._pending = [self._buffer.popleft() for _ in range(count)]
                    self._in_flight_rows = count
                    if not self._buffer:
                        self._oldest_mono = None
            items = [encode_record(r) for r in self._pending]
            try:
                try:
                    self._journal.append(items)
                except (TypeError, ValueError):
                    items = self._encodable(items)
                    self._journal.append(items)
            except OSError as exc:
                self._journal_failed(exc, now)
                return
            if not self._journal_ok:
                self._journal_ok = True
                logger.info("journal writable again", extra=self._extra)
            self._journaled_rows += len(items)
            self._clear_pending()

    def _encodable(self, items: list[Any]) -> list[Any]:
        """The items JSON can hold (rare path: a payload with an object JSON cannot represent)."""
        kept: list[Any] = []
        for item in items:
            try:
                json_dumps(item)
                kept.append(item)
            except (TypeError, ValueError) as exc:
                with self._lock:
                    self._dropped += 1
                logger.error("dropped a record JSON cannot hold: %s", exc, extra=self._extra)
        return kept

    def _journal_failed(self, exc: OSError, now: float) -> None:
        self._journal_errors += 1
        self._journal_ok = False
        self._journal_retry_at = now + self._settings.journal_retry_s
        self._last_error = f"journal: {type(exc).__name__}: {exc}"[:500]
        if now - self._error_logged_at >= self._settings.drop_log_interval_s:
            self._error_logged_at = now
            logger.error(
                "journal %s not writable: %s",
                self._journal.directory,
                exc,
                extra={**self._extra, "errors": self._journal_errors},
            )

    def _log_drops(self, now: float, force: bool = False) -> None:
        dropped = self._dropped
        if dropped == self._logged_dropped:
            return
        if not force and now - self._drop_logged_at < self._settings.drop_log_interval_s:
            return
        logger.error(
            "dropped %d rows (%d in total): memory full and the journal not writable",
            dropped - self._logged_dropped,
            dropped,
            extra={**self._extra, "dropped_rows": dropped, "last_error": self._last_error},
        )
        self._logged_dropped = dropped
        self._drop_logged_at = now if math.isfinite(now) else time.monotonic()
