"""The rows between `put` and PostgreSQL: a bounded memory buffer, the batch in flight, and the journal behind.

Rows wait in memory while PostgreSQL is down; above `spill_fraction` of `max_buffered_rows` the oldest go to
the on-disk journal (`journal.py`), and all of memory does when the writer finishes. Order is kept: journal
first (oldest), then the batch in flight, then the buffer. A row is dropped only when memory is full AND the
journal cannot be written (counted, and logged at most once per `drop_log_interval_s`). Rows PostgreSQL refuses
as data errors, and journal items that no longer decode, are kept in the journal's `rejected.jsonl`.
"""

import logging
import math
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from footfall_worker.settings import StorageSettings
from footfall_worker.storage.error_log import ErrorLog
from footfall_worker.storage.journal import Journal, JournalBatch
from footfall_worker.storage.journal_format import json_dumps
from footfall_worker.storage.pg_errors import describe
from footfall_worker.storage.records import Record, decode_record, encode_record

logger = logging.getLogger("footfall.storage")


class WriteBuffer:
    """Memory and journal of one channel writer.

    Producers and the writer thread share the buffer under `lock` (held for a few list operations only); the
    `*_locked` methods expect it held. Everything else is the writer thread's (counters are read from any).

    Args:
        settings: buffer size, spill threshold, batch size and journal settings.
        journal_dir: the channel's journal directory.
        errors: where journal failures are recorded, and the throttle of their log lines.
        log_extra: the fields of every log line (the channel).
    """

    def __init__(
        self, settings: StorageSettings, journal_dir: Path, errors: ErrorLog, log_extra: dict[str, Any]
    ) -> None:
        self._settings = settings
        self._errors = errors
        self._extra = log_extra
        self.journal = Journal(
            Path(journal_dir), settings.journal_segment_bytes, settings.journal_fsync, settings.journal_max_bytes
        )
        self.max_rows = settings.max_buffered_rows
        self.spill_at = max(1, min(self.max_rows - 1, int(self.max_rows * settings.spill_fraction)))
        self.batch_rows = min(settings.batch_rows, self.max_rows)

        self.lock = threading.Lock()
        self._buffer: deque[Record] = deque()
        self._in_flight_rows = 0
        self.oldest_mono: float | None = None  # when the oldest buffered row arrived
        self.dropped = 0  # guarded by lock: producers count their refused rows here

        self.pending: list[Record] | None = None  # the batch in flight
        self.journal_ok = True
        self._journal_retry_at = 0.0
        self._journal_read_retry_at = 0.0
        self._logged_dropped = 0
        self._drop_logged_at = -math.inf

        self.journaled_rows = 0
        self.replayed_rows = 0
        self.journal_errors = 0
        self.rejected = 0

    @property
    def rows(self) -> int:
        """In memory: the buffer plus the batch in flight."""
        return len(self._buffer) + self._in_flight_rows

    def open(self) -> None:
        """Open the journal; a failure is recorded and retried by the next spill, not raised."""
        try:
            self.journal.open()
        except OSError as exc:
            self._journal_failed(exc, time.monotonic())

    def all_written(self) -> bool:
        return not self._buffer and self.pending is None and self.journal.pending_batches == 0

    # -- producer side (lock held) -----------------------------------------------------------------------------

    def full_locked(self) -> bool:
        return len(self._buffer) + self._in_flight_rows >= self.max_rows

    def append_locked(self, record: Record, now: float | None = None) -> int:
        """Buffer `record` (room checked by the caller); returns the buffer's new size."""
        if not self._buffer:
            self.oldest_mono = time.monotonic() if now is None else now
        self._buffer.append(record)
        return len(self._buffer)

    # -- memory ------------------------------------------------------------------------------------------------

    def take_batch(self, force: bool) -> bool:
        """Move the oldest due rows from the buffer into the batch in flight. False if none is due."""
        now = time.monotonic()
        with self.lock:
            size = len(self._buffer)
            if size == 0:
                return False
            aged = self.oldest_mono is not None and now - self.oldest_mono >= self._settings.flush_interval_s
            if size < self.batch_rows and not (force or aged):
                return False
            count = min(size, self.batch_rows)
            pending = [self._buffer.popleft() for _ in range(count)]
            self._in_flight_rows = count
            # The rows left behind are younger than the taken ones; "now" is a safe (later) bound on their age.
            self.oldest_mono = now if self._buffer else None
        self.pending = pending
        return True

    def clear_pending(self) -> None:
        with self.lock:
            self._in_flight_rows = 0
        self.pending = None

    def finish(self) -> None:
        """Whatever is still in memory goes to the journal: durable for the next start."""
        self._journal_retry_at = 0.0
        self.spill(everything=True)
        with self.lock:
            # Neither written nor journaled (the journal failed): lost when the process ends, so counted now.
            lost = len(self._buffer) + self._in_flight_rows
            self.dropped += lost
            self._buffer.clear()
            self._in_flight_rows = 0
            self.oldest_mono = None
        self.pending = None

    def close(self) -> None:
        self.journal.close()
        self.log_drops(math.inf, force=True)

    # -- journal -----------------------------------------------------------------------------------------------

    def spill(self, everything: bool) -> None:
        """Move the batch in flight, then the oldest buffered rows, to the journal (all of memory if
        `everything`, else down to the spill threshold). Stops at the first journal failure."""
        now = time.monotonic()
        if not self.journal_ok and now < self._journal_retry_at:
            return
        while True:
            if self.pending is None:
                if not self._buffer or (not everything and len(self._buffer) < self.spill_at):
                    return
                with self.lock:
                    count = min(len(self._buffer), self.batch_rows)
                    self.pending = [self._buffer.popleft() for _ in range(count)]
                    self._in_flight_rows = count
                    if not self._buffer:
                        self.oldest_mono = None
            items = [encode_record(r) for r in self.pending]
            try:
                try:
                    self.journal.append(items)
                except (TypeError, ValueError, RecursionError):
                    items = self._encodable(items)
                    self.journal.append(items)
            except OSError as exc:
                self._journal_failed(exc, now)
                return
            if not self.journal_ok:
                self.journal_ok = True
                logger.info("journal writable again", extra=self._extra)
            self.journaled_rows += len(items)
            self.clear_pending()

    def replay_due(self) -> bool:
        """False for `journal_retry_s` after the journal could not be read."""
        return time.monotonic() >= self._journal_read_retry_at

    def next_replay(self) -> tuple[JournalBatch, list[Record]] | None:
        """The oldest journal batch and its records (the undecodable ones rejected); None if none, or unreadable."""
        try:
            batch = self.journal.peek()
        except OSError as exc:
            # Unreadable journal: carry on with memory (track upserts keep the newest state whatever the
            # order); reading is tried again after journal_retry_s.
            self._journal_read_retry_at = time.monotonic() + self._settings.journal_retry_s
            self._errors.last = f"journal read: {type(exc).__name__}: {exc}"[:500]
            logger.error("journal not readable: %s", exc, extra=self._extra)
            return None
        if batch is None:
            return None
        return batch, self._decode(batch.items)

    def replayed(self, batch: JournalBatch, rows: int) -> None:
        """`batch` (`rows` records) is committed to PostgreSQL."""
        try:
            self.journal.commit(batch)
        except OSError as exc:
            # Written already; should the segment come back, replaying it only repeats idempotent upserts.
            logger.error("journal segment not removed: %s", exc, extra=self._extra)
        self.replayed_rows += rows

    def reject(self, item: Any, error: str) -> None:
        """Keep a row PostgreSQL refused (or that cannot be decoded) aside, counted."""
        self.rejected += 1
        self._errors.last = f"rejected row: {error}"
        try:
            self.journal.reject(item, error)
        except Exception as exc:  # noqa: BLE001 - a row JSON cannot hold (nesting, a huge int) is still counted
            logger.error("cannot keep a rejected row: %s", describe(exc), extra=self._extra)
        logger.error("PostgreSQL rejected a row: %s", error, extra={**self._extra, "record_type": str(item[0])})

    def _decode(self, items: list[Any]) -> list[Record]:
        records: list[Record] = []
        for item in items:
            try:
                records.append(decode_record(item))
            except Exception as exc:  # noqa: BLE001 - one bad journal item must not stop the batch behind it
                self.reject(item, describe(exc))
        return records

    def _encodable(self, items: list[Any]) -> list[Any]:
        """The items JSON can hold (rare path: a payload with an object JSON cannot represent)."""
        kept: list[Any] = []
        for item in items:
            try:
                json_dumps(item)
                kept.append(item)
            except (TypeError, ValueError, RecursionError) as exc:
                with self.lock:
                    self.dropped += 1
                logger.error("dropped a record JSON cannot hold: %s", exc, extra=self._extra)
        return kept

    def _journal_failed(self, exc: OSError, now: float) -> None:
        self.journal_errors += 1
        self.journal_ok = False
        self._journal_retry_at = now + self._settings.journal_retry_s
        self._errors.last = f"journal: {type(exc).__name__}: {exc}"[:500]
        if self._errors.due(now):
            logger.error(
                "journal %s not writable: %s",
                self.journal.directory,
                exc,
                extra={**self._extra, "errors": self.journal_errors},
            )

    def log_drops(self, now: float, force: bool = False) -> None:
        dropped = self.dropped
        if dropped == self._logged_dropped:
            return
        if not force and now - self._drop_logged_at < self._settings.drop_log_interval_s:
            return
        logger.error(
            "dropped %d rows (%d in total): memory full and the journal not writable",
            dropped - self._logged_dropped,
            dropped,
            extra={**self._extra, "dropped_rows": dropped, "last_error": self._errors.last},
        )
        self._logged_dropped = dropped
        self._drop_logged_at = now if math.isfinite(now) else time.monotonic()
