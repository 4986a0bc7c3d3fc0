"""Moving rows into PostgreSQL: the journal first (oldest), then the batch in flight, then due batches.

Each batch is one transaction. When PostgreSQL refuses a batch as data (`pg_errors.py`) the bad rows are found
by bisection, a savepoint per part, so they are set aside (`rejected.jsonl`, counted) and the rest commits: k
bad rows in n cost about 2k log2(n) savepoints, not n. When PostgreSQL is unreachable or refuses for now
(failover, permissions, a migration under way), the connection is dropped and backed off, and the batch stays
where it was (journal or memory), to be written whole later.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2.extensions

from footfall_worker.storage import runs as run_rows
from footfall_worker.storage.db_connection import DbConnection
from footfall_worker.storage.pg_errors import Failure, classify, describe
from footfall_worker.storage.records import Record, encode_record
from footfall_worker.storage.sql_mapping import TABLE_ORDER, ClosedRun, execute_records
from footfall_worker.storage.write_buffer import WriteBuffer

logger = logging.getLogger("footfall.storage")


@dataclass
class BatchOutcome:
    """What a committed batch did besides writing its rows."""

    closed_runs: list[ClosedRun] = field(default_factory=list)  # earlier runs closed as lost
    refused: list[tuple[Record, str]] = field(default_factory=list)  # rows left out, with PostgreSQL's error


class Flusher:
    """The writer thread's side of a channel writer: drains its buffer into PostgreSQL.

    Args:
        db: the connection (dropped and backed off here when PostgreSQL is unreachable).
        rows: the buffer and journal drained.
        channel_id: the channel every row belongs to.
        on_committed: called with each committed batch; an exception is logged and ignored.
    """

    def __init__(
        self,
        db: DbConnection,
        rows: WriteBuffer,
        channel_id: str,
        on_committed: Callable[[list[Record]], None] | None,
    ) -> None:
        self._db = db
        self._rows = rows
        self._channel_id = channel_id
        self._on_committed = on_committed
        self._extra = {"channel": channel_id}
        self.written_rows = 0  # committed (duplicates of a retried batch included)
        self.written_batches = 0

    def drain(self, closing: Callable[[], bool], past_deadline: Callable[[], bool]) -> None:
        """Journal first (oldest), then the batch in flight, then due batches from the buffer.

        Both callables are asked again before each batch: `close()` may come from another thread meanwhile.

        Args:
            closing: whether the writer is closing (then a partial batch is due too).
            past_deadline: whether the close deadline has passed (then this returns).
        """
        rows = self._rows
        while self._db.conn is not None and rows.replay_due():
            if past_deadline():
                return
            replay = rows.next_replay()
            if replay is None:
                break
            batch, records = replay
            if not self._write(records):
                return
            rows.replayed(batch, len(records))
            rows.spill(everything=False)  # a long replay must not let the buffer overflow meanwhile
        while self._db.conn is not None:
            if past_deadline():
                return
            if rows.pending is None and not rows.take_batch(force=closing()):
                return
            assert rows.pending is not None
            if not self._write(rows.pending):
                return
            rows.clear_pending()

    def _write(self, records: list[Record]) -> bool:
        """One batch, one transaction. False (and the connection dropped) when PostgreSQL is unreachable."""
        conn = self._db.conn
        assert conn is not None
        try:
            outcome = write_batch(conn, self._channel_id, records)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the batch is kept and retried
            self._db.failed(exc, classify(exc))
            return False
        for record, error in outcome.refused:
            self._rows.reject(encode_record(record), error)
        self.written_rows += len(records)
        self.written_batches += 1
        if outcome.closed_runs:
            logger.warning(
                "closed %d earlier run(s) of this channel left open by a worker that ended without a shutdown "
                "(exit_reason %r)",
                len(outcome.closed_runs),
                run_rows.LOST,
                extra={**self._extra, "runs": {run: str(ended) for run, ended in outcome.closed_runs}},
            )
        if self._on_committed is not None:
            try:
                self._on_committed(records)
            except Exception:  # noqa: BLE001 - an observer's bug must not stop the record
                logger.exception("on_committed callback failed", extra=self._extra)
        return True


def write_batch(conn: psycopg2.extensions.connection, channel_id: str, records: list[Record]) -> BatchOutcome:
    """One batch, one transaction; if PostgreSQL refuses it as data, the refused rows are left out.

    Args:
        conn: an open connection, not in autocommit mode.
        channel_id: the channel every row belongs to.
        records: the batch, in any order.

    Returns:
        The runs closed as lost and the rows refused (committed without them).

    Raises:
        Any error `classify` does not call DATA: PostgreSQL unreachable or refusing for now (nothing is known
        committed; the caller drops the connection).
    """
    try:
        with conn.cursor() as cur:
            closed_runs = execute_records(cur, channel_id, records)
        conn.commit()
        return BatchOutcome(closed_runs=closed_runs)
    except Exception as exc:
        if classify(exc) is not Failure.DATA:
            raise
        conn.rollback()
        logger.warning(
            "batch refused (%s); isolating its bad rows among %d",
            describe(exc),
            len(records),
            extra={"channel": channel_id},
        )
    outcome = BatchOutcome()
    with conn.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred checks would only fail at commit
        _bisect(cur, channel_id, sorted(records, key=lambda r: TABLE_ORDER[type(r)]), outcome)
    conn.commit()
    return outcome


def _bisect(cur: psycopg2.extensions.cursor, channel_id: str, records: list[Record], outcome: BatchOutcome) -> None:
    """Write `records` under a savepoint; if refused as data, each half the same way, down to single rows.

    The order (parents before children) is kept: the halves are contiguous. Depth is log2 of the batch size.
    """
    cur.execute("SAVEPOINT part")
    try:
        closed_runs = execute_records(cur, channel_id, records)
    except Exception as exc:
        if classify(exc) is not Failure.DATA:
            raise
        cur.execute("ROLLBACK TO SAVEPOINT part")
        cur.execute("RELEASE SAVEPOINT part")
        if len(records) == 1:
            outcome.refused.append((records[0], describe(exc)))
            return
        middle = len(records) // 2
        _bisect(cur, channel_id, records[:middle], outcome)
        _bisect(cur, channel_id, records[middle:], outcome)
        return
    cur.execute("RELEASE SAVEPOINT part")
    outcome.closed_runs += closed_runs  # only once released: a rolled-back part closed nothing
