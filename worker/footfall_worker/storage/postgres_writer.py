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

The parts: `write_buffer.py` (memory, the journal, drop counting), `db_connection.py` (connecting, timeouts,
the retry backoff), `flusher.py` (batches into PostgreSQL, one transaction each), `sql_mapping.py` (records
as SQL) and `partitions.py` (the history's partitions kept a week ahead, at connect and hourly). This module
is the facade producers use, and the writer thread's schedule.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from footfall_worker.settings import StorageSettings
from footfall_worker.storage import pg_wait
from footfall_worker.storage import runs as run_rows
from footfall_worker.storage.db_connection import DbConnection
from footfall_worker.storage.error_log import ErrorLog
from footfall_worker.storage.flusher import Flusher
from footfall_worker.storage.partitions import PartitionUpkeep
from footfall_worker.storage.records import Record, RunEnd, RunSeen, RunStart
from footfall_worker.storage.sql_mapping import TABLE_ORDER
from footfall_worker.storage.write_buffer import WriteBuffer

logger = logging.getLogger("footfall.storage")


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
    rejected_rows: int  # quarantined: refused as data (kept in rejected.jsonl when possible, with the reason)
    retries: int  # failed connects and writes
    transient_errors: int  # of those, PostgreSQL refusing for now (failover, grants, a migration): rows kept
    reconnects: int
    journal_errors: int
    journal_damaged: int  # torn or damaged journal records skipped
    last_error: str | None
    db_up: bool
    journal_ok: bool
    running: bool


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
        self._run_seen_interval_s = run_seen_interval_s
        self._open_run: str | None = None  # set by put(RunStart), cleared by put(RunEnd)
        self._tally = run_rows.RunTally()  # the open run's rows, for its RunEnd
        self._run_seen_at = float("-inf")
        self._channel_id = channel_id
        self._settings = settings
        self._extra = {"channel": channel_id}
        self._errors = ErrorLog(settings.drop_log_interval_s)
        # Shared with producers: its lock also guards _closed and the open run's state.
        self._rows = WriteBuffer(settings, journal_dir, self._errors, self._extra)
        self._closed = False
        self._wake = threading.Event()

        # Writer thread only.
        self._db = DbConnection(dsn, channel_id, settings, self._errors)
        self._flusher = Flusher(self._db, self._rows, channel_id, on_committed)
        self._partitions = PartitionUpkeep(channel_id)
        self._bug_logged_at = float("-inf")

        self._thread: threading.Thread | None = None
        self._closing = False
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
        if type(record) not in TABLE_ORDER:
            raise TypeError(f"not a storage record: {type(record).__name__}")
        rows = self._rows
        with rows.lock:
            # Counted before anything can drop it: produced is what PostgreSQL must end up holding.
            if type(record) is RunEnd and record.run_id == self._open_run:
                record = replace(record, rows_produced=self._tally.as_dict())
            elif self._open_run is not None and getattr(record, "run_id", None) == self._open_run:
                self._tally.count(record)
            if self._closed or rows.full_locked():
                rows.dropped += 1
                return False
            size = rows.append_locked(record)
            if type(record) is RunStart:
                self._open_run = record.run_id
                self._tally = run_rows.RunTally()
                self._run_seen_at = time.monotonic()  # the start itself is the first sign of life
            elif type(record) is RunEnd and record.run_id == self._open_run:
                self._open_run = None
        # Wake the writer only on the crossings that give it work; the flush age is its own timer.
        if size == rows.batch_rows or size == rows.spill_at:
            self._wake.set()
        return True

    def stats(self) -> WriterStats:
        """A consistent-enough snapshot (counters are read without stopping the writer)."""
        thread = self._thread
        rows = self._rows
        return WriterStats(
            buffered_rows=rows.rows,
            journal_batches=rows.journal.pending_batches,
            journal_rows=rows.journal.pending_rows,
            journaled_rows=rows.journaled_rows,
            replayed_rows=rows.replayed_rows,
            written_rows=self._flusher.written_rows,
            written_batches=self._flusher.written_batches,
            dropped_rows=rows.dropped,
            rejected_rows=rows.rejected,
            retries=self._db.retries,
            transient_errors=self._db.transient_errors,
            reconnects=self._db.reconnects,
            journal_errors=rows.journal_errors,
            journal_damaged=rows.journal.damaged_records,
            last_error=self._errors.last,
            db_up=self._db.conn is not None,
            journal_ok=rows.journal_ok,
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
        self._rows.open()
        self._db.connect()  # a MigrationError propagates: the schema must be fixed before this worker runs
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
        with self._rows.lock:
            self._closed = True  # later puts are refused (and counted)
        self._close_deadline = time.monotonic() + deadline_s
        self._cut_waits_at_deadline()
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
                    self._db.disconnect()
                    if now - self._bug_logged_at >= self._settings.drop_log_interval_s:
                        self._bug_logged_at = now
                        logger.exception("writer iteration failed; retrying", extra=self._extra)
                    self._wake.wait(min(1.0, self._settings.flush_interval_s))
                if self._closing and self._rows.all_written():
                    break
                self._wake.wait(self._wait_s())
                self._wake.clear()
        finally:
            self._finish()

    def _mark_run_seen(self, now: float) -> None:
        """Put a `RunSeen` for the open run when one is due (skipped, not counted, when memory is full)."""
        if now - self._run_seen_at < self._run_seen_interval_s:
            return
        rows = self._rows
        with rows.lock:
            run_id = self._open_run
            if run_id is None or self._closed or rows.full_locked():
                return
            rows.append_locked(RunSeen(run_id, time.time()), now)
        self._run_seen_at = now

    def _step(self, now: float) -> None:
        self._mark_run_seen(now)
        db = self._db
        if db.conn is None:
            # Durable first (all of memory when closing, else down to the spill threshold): a connect to a hung
            # server blocks this thread for connect_timeout_s while rows keep coming.
            self._rows.spill(everything=self._closing)
            if now >= db.next_connect and self._may_connect(now):
                db.connect_quietly()
                if self._closing:
                    self._cut_waits_at_deadline()
        if db.conn is not None and not self._closing:
            self._partitions.run_if_due(db.conn)
        if db.conn is not None:
            self._flusher.drain(lambda: self._closing, self._past_deadline)
        self._rows.spill(everything=self._closing and db.conn is None)
        self._rows.log_drops(time.monotonic())

    def _finish(self) -> None:
        self._rows.finish()
        self._db.disconnect()
        self._rows.close()

    def _wait_s(self) -> float:
        now = time.monotonic()
        if self._closing:
            return 0.02
        wait = self._settings.flush_interval_s
        oldest = self._rows.oldest_mono
        if self._db.conn is None:
            wait = max(0.0, self._db.next_connect - now)
        elif oldest is not None:
            wait = max(0.0, oldest + self._settings.flush_interval_s - now)
        return min(wait, self._settings.flush_interval_s, 1.0)

    def _cut_waits_at_deadline(self) -> None:
        """No statement may outlast the close deadline, not even one under way into a hung server: what is not
        committed by then goes to the journal in _finish, and half a second is enough for that."""
        conn = self._db.conn
        if conn is not None:
            pg_wait.give_up_at(conn, self._close_deadline - 0.5)

    def _may_connect(self, now: float) -> bool:
        # While closing, a connect must not outlast the deadline (libpq rounds connect_timeout up to 2 s).
        return not self._closing or self._close_deadline - now > self._settings.connect_timeout_s

    def _past_deadline(self) -> bool:
        return self._closing and time.monotonic() >= self._close_deadline
