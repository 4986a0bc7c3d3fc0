"""An append-only on-disk journal of writer batches: what could not reach PostgreSQL yet, in order.

Layout: `directory/segment-000000000001.ffj`, `...002.ffj`, ... Each batch is one record (`journal_format.py`:
magic, length, crc32, the batch as compact JSON). Every append is flushed and
fsync'd before it returns; a new segment's directory entry is fsync'd too. A process that starts never appends
to an old segment (its tail may be torn by a crash); it starts a new one.

Reading goes oldest first: `peek()` gives the next batch, `commit(batch)` marks it written and deletes a
segment once all of it is. A torn tail (crash mid-append) or a damaged record is skipped with a counted
warning; reading resynchronises on the next intact record, so one bad record costs only itself.

Size cap (`max_bytes`): at the cap a new batch is refused (`JournalFull`, counted by the writer as dropped
rows, logged); what is in the journal is never given up. Refusing the newest rather than deleting the oldest:
the journal stays append-only (no fsync'd row is ever rewritten or removed unwritten), and the hours kept are
the contiguous start of the outage, the loss a counted gap at its end that the run's counters show.

Records that PostgreSQL rejects as data errors go to `directory/rejected.jsonl` (one JSON line each, with the
error) so a poison row never blocks the batches behind it and is still kept for a human, within a tenth of
the cap (beyond it they are only counted).
"""

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from footfall_worker.storage.journal_format import encode_frame, json_dumps, scan_segment

logger = logging.getLogger("footfall.storage")

_SEGMENT_PREFIX = "segment-"
_SEGMENT_SUFFIX = ".ffj"
_SEGMENT_NAME = re.compile(r"^segment-(\d{12})\.ffj$")
REJECTED_FILE = "rejected.jsonl"


class JournalFull(OSError):
    """The journal holds its `max_bytes`: the batch is refused (the rows already in it are kept)."""


@dataclass(frozen=True, slots=True)
class JournalBatch:
    """One batch read back: where it sits (for `commit`) and its decoded items."""

    segment: int
    offset: int
    end: int
    items: list[Any]


class Journal:
    """The writer's spill-over. Used by one thread only (the writer's); counters are safe to read from any."""

    def __init__(
        self,
        directory: Path,
        segment_bytes: int = 16 * 1024 * 1024,
        fsync: bool = True,
        max_bytes: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self._opened = False
        self._segments: list[int] = []  # sequence numbers not yet fully written to the database, oldest first
        self._queue: list[JournalBatch] = []  # loaded, uncommitted batches of the oldest segment
        self._read_seq = 0
        self._read_pos = 0  # how far the oldest segment has been loaded into _queue
        self._write_seq = 0
        self._write_file: Any = None
        self._write_size = 0
        self.max_bytes = max_bytes
        self.size_bytes = 0  # of the segments on disk
        self.full_refusals = 0  # appends refused because the journal was at max_bytes
        self.pending_batches = 0
        self.pending_rows = 0
        self.damaged_records = 0  # torn tails and damaged stretches skipped
        self.rejected_rows = 0

    # -- opening ---------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory if needed and count what earlier processes left behind.

        Raises:
            OSError: the directory cannot be created or read.
        """
        if self._opened:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        segments = sorted(
            int(match[1]) for p in self.directory.iterdir() if (match := _SEGMENT_NAME.match(p.name)) is not None
        )
        batches = rows = 0
        self.size_bytes = 0
        for seq in segments:
            data = self._path(seq).read_bytes()
            self.size_bytes += len(data)
            records, _ = scan_segment(data)
            batches += len(records)
            rows += sum(len(items) for _, _, items in records)
        self.pending_batches, self.pending_rows = batches, rows
        self._segments = segments
        self._write_seq = segments[-1] if segments else 0
        self._opened = True
        if segments:
            logger.info(
                "journal holds %d batches (%d rows) from an earlier run",
                self.pending_batches,
                self.pending_rows,
                extra={"channel": None, "journal": str(self.directory)},
            )

    @property
    def opened(self) -> bool:
        return self._opened

    # -- writing ---------------------------------------------------------------------------------------------

    def append(self, items: list[Any]) -> None:
        """Durably append one batch (flushed and fsync'd when this returns).

        Args:
            items: JSON-serialisable batch (encoded records).

        Raises:
            JournalFull: it holds `max_bytes` already (an OSError: the batch is not in it).
            OSError: the journal cannot be written (the batch is not in it).
            TypeError: an item JSON cannot hold (nothing written).
            ValueError: an item JSON cannot write: an integer of over 4300 digits, a lone surrogate
                (UnicodeEncodeError); nothing written. The write buffer treats both as one bad batch.
        """
        self.open()
        payload = json_dumps(items).encode("utf-8")
        frame = encode_frame(payload)
        if self.max_bytes is not None and self.size_bytes + len(frame) > self.max_bytes:
            self.full_refusals += 1
            raise JournalFull(
                f"journal full: {self.size_bytes} of {self.max_bytes} bytes (FOOTFALL_STORAGE_JOURNAL_MAX_BYTES); "
                "new rows are refused until PostgreSQL takes the journaled ones"
            )
        if self._write_file is None or self._write_size >= self._segment_bytes:
            self._rotate()
        before = self._write_size
        try:
            self._write_file.write(frame)
            self._write_file.flush()
            if self._fsync:
                os.fsync(self._write_file.fileno())
        except OSError:
            # A partial record must not sit in front of later appends: cut it off, or failing that abandon
            # the segment (its torn tail is then skipped on reading).
            try:
                self._write_file.truncate(before)
            except OSError:
                pass
            self._close_write()
            raise
        self._write_size = before + len(frame)
        self.size_bytes += len(frame)
        self.pending_batches += 1
        self.pending_rows += len(items)

    def _rotate(self) -> None:
        self._close_write()
        seq = self._write_seq + 1
        path = self._path(seq)
        handle = open(path, "ab")  # noqa: SIM115 - kept open across appends, closed in _close_write
        self._write_seq = seq
        self._write_file = handle
        self._write_size = 0
        self._segments.append(seq)
        if self._fsync:
            self._fsync_directory()

    def _close_write(self) -> None:
        if self._write_file is not None:
            try:
                self._write_file.close()
            except OSError:
                pass
            self._write_file = None

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------------------------------------

    def peek(self) -> JournalBatch | None:
        """The oldest batch not yet committed, or None when the journal is empty.

        Raises:
            OSError: a segment cannot be read.
        """
        if not self._opened:
            return None
        while self._segments:
            if self._queue:
                return self._queue[0]
            seq = self._segments[0]
            if seq != self._read_seq:
                self._read_seq, self._read_pos = seq, 0
            active = self._is_active(seq)
            with open(self._path(seq), "rb") as handle:
                handle.seek(self._read_pos)
                # The segment being appended to is read only up to its last complete, fsync'd record.
                data = handle.read(self._write_size - self._read_pos if active else -1)
            if not data:
                if active:
                    return None  # caught up with the appends
                self._drop_segment(seq)
                continue
            records, damaged = scan_segment(data)
            for offset, end in damaged:
                self.damaged_records += 1
                logger.warning(
                    "journal %s: skipped %d damaged bytes at offset %d (torn tail of a crash, or disk damage)",
                    self._path(seq).name,
                    end - offset,
                    self._read_pos + offset,
                    extra={"channel": None, "journal": str(self.directory)},
                )
            self._queue = [JournalBatch(seq, self._read_pos + o, self._read_pos + e, items) for o, e, items in records]
            self._read_pos += len(data)
        return None

    def commit(self, batch: JournalBatch) -> None:
        """Mark the batch from `peek()` as written to the database; a fully written segment is deleted.

        Args:
            batch: exactly the batch the last `peek()` returned.

        Raises:
            RuntimeError: `batch` is not the oldest uncommitted one.
        """
        if not self._queue or self._queue[0] is not batch:
            raise RuntimeError("journal commit out of order")
        self._queue.pop(0)
        self.pending_batches -= 1
        self.pending_rows -= len(batch.items)
        if self._queue:
            return
        seq = batch.segment
        active = self._is_active(seq)
        try:
            # Appends may have landed after the segment was loaded (then peek loads them next).
            size = self._write_size if active else self._path(seq).stat().st_size
        except OSError:
            return
        if self._read_pos >= size:
            if active:
                self._close_write()  # caught up with the active segment: the next spill starts a fresh file
            self._drop_segment(seq)

    def _is_active(self, seq: int) -> bool:
        return seq == self._write_seq and self._write_file is not None

    def _drop_segment(self, seq: int) -> None:
        if self._segments and self._segments[0] == seq:
            self._segments.pop(0)
        self._queue = []
        self._read_seq, self._read_pos = 0, 0
        path = self._path(seq)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        self.size_bytes = max(0, self.size_bytes - size)

    # -- poison rows -----------------------------------------------------------------------------------------

    def reject(self, item: Any, error: str) -> None:
        """Keep a record PostgreSQL refused (a data error) for a human, out of the replay path.

        Raises:
            JournalFull: rejected.jsonl holds a tenth of `max_bytes` already.
            OSError: it cannot be written.
        """
        self.open()
        line = json_dumps({"at": time.time(), "error": error, "record": item}) + "\n"
        path = self.directory / REJECTED_FILE
        if self.max_bytes is not None and path.exists() and path.stat().st_size + len(line) > self.max_bytes // 10:
            raise JournalFull(f"{REJECTED_FILE} holds a tenth of the journal's cap: the row is counted, not kept")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        self.rejected_rows += 1

    # -- misc ------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the active segment (the files stay for the next process)."""
        self._close_write()

    def _path(self, seq: int) -> Path:
        return self.directory / f"{_SEGMENT_PREFIX}{seq:012d}{_SEGMENT_SUFFIX}"
