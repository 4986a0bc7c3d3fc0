"""Reports over a chain's history: 100 stores x 6 channels x 30 days (tests/support/chain_history.py) in one
PostgreSQL, and how long the report's queries take on it: one store one day, one store 30 days, and all stores one
day (every store's report of the day, and the chain's hourly customers from `channel_hours` in one query), the
plans of the report's main queries (which index each uses), the tables' sizes, and the writer's rows/s into a
database that size. Printed, never asserted.

    make bench
    .venv/bin/python bench/report_scale_bench.py [--stores 100 --channels 6 --days 30] [--keep]

The database `footfall_scale_<stores>_<channels>_<days>` on the server of FOOTFALL_DATABASE_URL is made once and
kept for the next run with --keep (generating the history takes minutes), else dropped at the end.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.storage_bench import admin_dsn, bench_writer, workload  # noqa: E402
from footfall_worker.report import query  # noqa: E402
from footfall_worker.report.data import collect  # noqa: E402
from footfall_worker.report.query import Window  # noqa: E402
from footfall_worker.storage.migrations import migrate  # noqa: E402
from tests.support.chain_history import generate, stores_of  # noqa: E402

LAST_DAY = date(2026, 11, 30)
REPEATS = 3


def database(url: str, name: str, args: argparse.Namespace) -> tuple[str, bool]:
    """The scale database, generated when missing; (dsn, whether it was generated now)."""
    admin = psycopg2.connect(admin_dsn(url, "postgres"), connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        exists = cur.fetchone() is not None
        if not exists:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    dsn = admin_dsn(url, name)
    if exists:
        return dsn, False
    migrate(dsn)
    began = time.perf_counter()
    totals = generate(dsn, args.stores, args.channels, args.days, LAST_DAY)
    elapsed = time.perf_counter() - began
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    print(f"generated {totals} in {elapsed:.0f} s")
    return dsn, True


def window(zone: str, first: date, last: date) -> Window:
    tz = ZoneInfo(zone)
    start = datetime.combine(first, day_time(), tz)
    end = datetime.combine(last + timedelta(days=1), day_time(), tz)
    return Window(start, end, tz, "bench")


def time_report(dsn: str, store: str, period: Window) -> float:
    """Median seconds of the report's queries (`collect`: every table of the page) over REPEATS runs."""
    conn = psycopg2.connect(dsn)
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        channels = query.store_channels(conn, store)
        times = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            collect(conn, store, channels, period)
            times.append(time.perf_counter() - began)
            conn.rollback()
    finally:
        conn.close()
    return statistics.median(times)


def plans(dsn: str, channels: list[str], period: Window) -> None:
    """Which index each of the report's heaviest queries uses (EXPLAIN ANALYZE, the scan lines)."""
    statements = {
        "crossings per hour (events)": (
            "SELECT channel_id, date_trunc('hour', t, %(tz)s), count(*) FILTER (WHERE payload->>'direction' = 'in')"
            " FROM events WHERE kind = 'line_crossing' AND channel_id = ANY(%(channels)s) AND t >= %(start)s"
            " AND t < %(end)s GROUP BY 1, 2"
        ),
        "coverage per hour (channel_minutes)": (
            "SELECT channel_id, date_trunc('hour', minute, %(tz)s), sum(covered_s) FROM channel_minutes"
            " WHERE channel_id = ANY(%(channels)s) AND minute >= %(start)s AND minute < %(end)s GROUP BY 1, 2"
        ),
        "entries by final gender (events + tracks)": (
            "SELECT e.channel_id, tr.gender, count(*) FROM events e LEFT JOIN tracks tr ON tr.run_id = e.run_id"
            " AND tr.track_id = e.track_id WHERE e.kind = 'line_crossing' AND e.channel_id = ANY(%(channels)s)"
            " AND e.t >= %(start)s AND e.t < %(end)s GROUP BY 1, 2"
        ),
    }
    params = {"tz": period.timezone.key, "channels": channels, "start": period.start, "end": period.end}
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for name, sql in statements.items():
                cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
                lines = [row[0].strip() for row in cur.fetchall()]
                scans = [line.split("  (")[0] for line in lines if " Scan " in line or line.startswith("->  Seq")]
                total = next(line for line in lines if line.startswith("Execution Time"))
                print(f"  {name}: {total}; " + "; ".join(scans))
    finally:
        conn.close()


def sizes(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables"
                " WHERE relname IN ('events', 'tracks', 'channel_stats_minute', 'runs', 'channels') ORDER BY 2 DESC"
            )
            print("  " + ", ".join(f"{name} {rows:,} rows ({size})" for name, rows, size in cur.fetchall()))
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the generated database for the next run")
    parser.add_argument("--insert-rows", type=int, default=50_000, help="rows for the writer's rate at this size")
    args = parser.parse_args()
    url = os.environ.get("FOOTFALL_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    name = f"footfall_scale_{args.stores}_{args.channels}_{args.days}"
    dsn, _ = database(url, name, args)
    try:
        print(f"report queries over {args.stores} stores x {args.channels} channels x {args.days} days ({name}):")
        sizes(dsn)
        store, channels, zone, _, _ = next(iter(stores_of(args.stores, args.channels)))
        one_day = window(zone, LAST_DAY, LAST_DAY)
        month = window(zone, LAST_DAY - timedelta(days=args.days - 1), LAST_DAY)
        print(f"  one store, one day: {time_report(dsn, store, one_day) * 1000:.0f} ms (median of {REPEATS})")
        print(f"  one store, {args.days} days: {time_report(dsn, store, month) * 1000:.0f} ms")
        began = time.perf_counter()
        for other, _, other_zone, _, _ in stores_of(args.stores, args.channels):
            time_report(dsn, other, window(other_zone, LAST_DAY, LAST_DAY))
        every = (time.perf_counter() - began) / REPEATS
        per_store = every / args.stores * 1000
        print(f"  all {args.stores} stores, one day, a report each: {every:.1f} s ({per_store:.0f} ms a store)")
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            began = time.perf_counter()
            cur.execute(
                "SELECT store_id, date_trunc('hour', hour, 'UTC'), sum(customers) FROM channel_hours"
                " WHERE hour >= %s AND hour < %s GROUP BY 1, 2",
                (
                    datetime.combine(LAST_DAY, day_time(), UTC),
                    datetime.combine(LAST_DAY + timedelta(1), day_time(), UTC),
                ),
            )
            found = len(cur.fetchall())
            took = (time.perf_counter() - began) * 1000
            print(f"  all stores, one day, hourly customers from channel_hours: {took:.0f} ms ({found} rows)")
        conn.close()
        print("  plans, one store, one day:")
        plans(dsn, channels, one_day)
        print(f"  plans, one store, {args.days} days:")
        plans(dsn, channels, month)
        _, records = workload(args.insert_rows)
        rate, _, _, batches = bench_writer(dsn, 500, records)
        print(
            f"  the writer into this database: {rate:,.0f} rows/s ({args.insert_rows:,} rows, {batches} batches of 500)"
        )
    finally:
        if not args.keep:
            admin = psycopg2.connect(admin_dsn(url, "postgres"), connect_timeout=5)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.close()


if __name__ == "__main__":
    main()
