"""The partitioned history's upkeep: partitions created ahead of time, and retention by dropping whole partitions.

The SQL side (which table is partitioned how, the functions that create and drop partitions) is migration 0009.
Every writer keeps the partitions a week ahead (`PartitionUpkeep`, at connect and hourly): with hundreds of
workers one suffices, so a writer that finds another one at it skips the round instead of queueing. Retention is
not a writer's business: dropping data is the operator's decision, run by `footfall retention` (the chart's
CronJob). Both bound their wait for a table lock: creating or dropping a partition locks its parent briefly, and in
PostgreSQL's lock queue a waiting lock blocks every later reader and writer of the table, so a long report holding
the parent makes the upkeep fail and retry rather than stall every channel's inserts.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2
import psycopg2.extensions

from footfall_worker.storage.pg_errors import describe

logger = logging.getLogger("footfall.storage")

AHEAD = timedelta(days=7)
UPKEEP_INTERVAL_S = 3600.0
RETRY_AFTER_FAILURE_S = 60.0
# Upkeep runs under this transaction-level advisory lock ("Partitio" in ASCII), taken with try: one at a time.
UPKEEP_LOCK_KEY = int.from_bytes(b"Partitio", "big", signed=True)


@dataclass(frozen=True, slots=True)
class PartitionChange:
    """A partition created (`rows`: those it took over from the DEFAULT partition) or dropped (`rows` it held)."""

    partition: str
    rows: int


def _in_upkeep_transaction(
    conn: psycopg2.extensions.connection,
    lock_timeout_s: float,
    sql: str,
    params: tuple[object, ...],
    dry_run: bool = False,
) -> list[PartitionChange] | None:
    """Run one of migration 0009's functions in a transaction of its own (rolled back for a dry run); None: another
    process holds the upkeep."""
    if conn.autocommit:
        conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (UPKEEP_LOCK_KEY,))
            if not cur.fetchone()[0]:
                conn.rollback()
                return None
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout_s * 1000)}ms",))
            cur.execute(sql, params)
            changes = [PartitionChange(str(name), int(rows)) for name, rows in cur.fetchall()]
        if dry_run:
            conn.rollback()
        else:
            conn.commit()
    except BaseException:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass  # the connection is gone: the caller hears of it from the original error
        raise
    return changes


def ensure_partitions(
    conn: psycopg2.extensions.connection, now: datetime, ahead: timedelta = AHEAD, lock_timeout_s: float = 2.0
) -> list[PartitionChange] | None:
    """Create the partitions from a day before `now` to `ahead` after it that do not exist yet.

    Returns:
        The partitions created, or None when another process was doing the same (nothing to do here).

    Raises:
        psycopg2.Error: PostgreSQL failed (a lock not granted within `lock_timeout_s` among them); nothing changed.
    """
    return _in_upkeep_transaction(
        conn,
        lock_timeout_s,
        "SELECT partition_name, rows_moved FROM footfall_ensure_partitions(%s, %s)",
        (now - timedelta(days=1), now + ahead),
    )


def drop_expired(
    conn: psycopg2.extensions.connection,
    now: datetime,
    raw_days: int | None,
    rollup_days: int | None,
    lock_timeout_s: float = 5.0,
    dry_run: bool = False,
) -> list[PartitionChange] | None:
    """Drop the partitions wholly older than the retention: raw history `raw_days`, rollups `rollup_days`.

    A partition goes once its newest possible row is older than the retention (a day of raw history kept 30 days
    goes 30 days after the day ended); None for a class keeps it. The DEFAULT partitions' rows older than the
    cutoff are deleted with it.

    Returns:
        What was dropped (with `dry_run`: what would be) and how many rows each held, or None when another process
        holds the upkeep.
    """
    raw_before = None if raw_days is None else now - timedelta(days=raw_days)
    rollup_before = None if rollup_days is None else now - timedelta(days=rollup_days)
    return _in_upkeep_transaction(
        conn,
        lock_timeout_s,
        "SELECT partition_name, rows_dropped FROM footfall_drop_partitions(%s, %s)",
        (raw_before, rollup_before),
        dry_run,
    )


def default_partition_rows(conn: psycopg2.extensions.connection) -> dict[str, int]:
    """Rows each partitioned table keeps in its DEFAULT partition (none while the upkeep keeps up).

    Read in a transaction of its own when none is open (ended here), else in the caller's.
    """
    own = conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    with conn.cursor() as cur:
        cur.execute("SELECT table_name FROM footfall_partitioned ORDER BY table_name")
        tables = [name for (name,) in cur.fetchall()]
        counts = {}
        for table in tables:
            cur.execute(f'SELECT count(*) FROM "{table}_default"')  # names from our own table, not input
            counts[table] = int(cur.fetchone()[0])
    if own and not conn.autocommit:
        conn.rollback()
    return counts


class PartitionUpkeep:
    """A writer's share of the upkeep: `ensure_partitions` when due (at the first connection, then hourly).

    A failure is logged and retried a minute later; it never fails the writer (rows of a day without its
    partition wait in the DEFAULT partition, and move when it is created).
    """

    def __init__(self, channel_id: str, interval_s: float = UPKEEP_INTERVAL_S) -> None:
        self._extra = {"channel": channel_id}
        self._interval_s = interval_s
        self._due_mono = 0.0

    def run_if_due(self, conn: psycopg2.extensions.connection, now_mono: float | None = None) -> None:
        now_mono = time.monotonic() if now_mono is None else now_mono
        if now_mono < self._due_mono:
            return
        try:
            changes = ensure_partitions(conn, datetime.now().astimezone())
        except psycopg2.Error as error:
            self._due_mono = now_mono + RETRY_AFTER_FAILURE_S
            logger.warning(
                "partition upkeep failed, retrying in %.0f s: %s",
                RETRY_AFTER_FAILURE_S,
                describe(error),
                extra=self._extra,
            )
            return
        self._due_mono = now_mono + self._interval_s
        for change in changes or []:
            logger.info(
                "partition created", extra={**self._extra, "partition": change.partition, "rows_moved": change.rows}
            )
