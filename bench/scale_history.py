"""The scale bench's database: a chain's history generated under the schema before partitioning, converted by
the migrations as a store's database would be (timed, every table's rows counted before and after), and what
partition upkeep and retention cost at that size (measured in transactions rolled back, so the history stays)."""

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg2
import psycopg2.extensions

from footfall_worker.storage.migrations import apply_migrations, load_migrations
from footfall_worker.storage.partitions import default_partition_rows, ensure_partitions
from tests.support.chain_history import generate

PARTITIONING = 9  # the migration that partitions the history
HISTORY_TABLES = ("tracks", "track_points", "events", "channel_stats_minute", "channel_heatmap_hour")


@dataclass(frozen=True)
class Conversion:
    seconds: float
    rows_before: dict[str, int]
    rows_after: dict[str, int]


def _counts(conn: psycopg2.extensions.connection) -> dict[str, int]:
    with conn.cursor() as cur:
        counts = {}
        for table in HISTORY_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")  # our own table names
            counts[table] = int(cur.fetchone()[0])
    conn.rollback()
    return counts


def _vacuum(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


def fill(dsn: str, stores: int, channels: int, days: int, last_day: date) -> float:
    """Generate the history under the schema before partitioning; seconds it took."""
    conn = psycopg2.connect(dsn)
    try:
        apply_migrations(conn, [m for m in load_migrations() if m.version < PARTITIONING])
    finally:
        conn.close()
    began = time.perf_counter()
    totals = generate(dsn, stores, channels, days, last_day)
    elapsed = time.perf_counter() - began
    _vacuum(dsn)
    print(f"generated {totals} in {elapsed:.0f} s")
    return elapsed


def migrate_timed(dsn: str) -> Conversion | None:
    """Apply the pending migrations; their time and the history's rows before and after (None: none pending)."""
    conn = psycopg2.connect(dsn)
    try:
        before = _counts(conn)
        began = time.perf_counter()
        applied = apply_migrations(conn)
        elapsed = time.perf_counter() - began
        if not applied:
            return None
        after = _counts(conn)
    finally:
        conn.close()
    _vacuum(dsn)
    return Conversion(elapsed, before, after)


def upkeep_costs(dsn: str, last_day: date, days: int) -> list[str]:
    """Lines: a writer's hourly upkeep when nothing is missing, rows waiting in DEFAULT, and one day's retention as
    partitions dropped against the same rows deleted (each in a transaction rolled back)."""
    out = []
    conn = psycopg2.connect(dsn)
    try:
        began = time.perf_counter()
        ensure_partitions(conn, datetime.now(UTC))
        out.append(f"a writer's partition upkeep (nothing missing): {(time.perf_counter() - began) * 1000:.1f} ms")
        out.append(f"rows waiting in DEFAULT partitions: {default_partition_rows(conn)}")
        first_day = last_day - timedelta(days=days - 1)
        cutoff = datetime.combine(first_day + timedelta(days=1), datetime.min.time(), UTC)
        with conn.cursor() as cur:
            began = time.perf_counter()
            cur.execute("SELECT partition_name, rows_dropped FROM footfall_drop_partitions(%s, NULL)", (cutoff,))
            dropped = cur.fetchall()
            drop_ms = (time.perf_counter() - began) * 1000
            conn.rollback()
            began = time.perf_counter()
            deleted = 0
            for table, column in (("tracks", "first_seen"), ("track_points", "t"), ("events", "t")):
                cur.execute(f"DELETE FROM {table} WHERE {column} < %s", (cutoff,))  # our own names
                deleted += cur.rowcount
            delete_ms = (time.perf_counter() - began) * 1000
            conn.rollback()
        rows = sum(n for _, n in dropped)
        out.append(
            f"retention of the oldest day ({rows:,} raw rows in {len(dropped)} partitions): dropped in "
            f"{drop_ms:.0f} ms, against {delete_ms:.0f} ms to DELETE the same {deleted:,} rows"
        )
    finally:
        conn.close()
    return out
