"""Reports over a chain's history: 100 stores x 6 channels x 30 days (tests/support/chain_history.py) in one
PostgreSQL, and how long the report's queries take on it: one store one day, one store 30 days, and all stores one
day (every store's report of the day, and the chain's hourly customers in one query), the plans of the report's
main queries (which index and how many partitions each reads), the tables' sizes, the writer's rows/s into a
database that size, and the partitioned history's costs: converting the generated history (made under the schema
before partitioning) by the migrations, a writer's hourly upkeep, and one day's retention. Printed, never asserted.

    make bench
    .venv/bin/python bench/report_scale_bench.py [--stores 100 --channels 6 --days 30] [--keep]

The database `footfall_scale_<stores>_<channels>_<days>` on the server of FOOTFALL_DATABASE_URL is made once and
kept for the next run with --keep (generating the history takes minutes), else dropped at the end. A kept database
from before a migration is converted by it (timed) at the next run.
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

from bench import report_plans, scale_history  # noqa: E402
from bench.storage_bench import admin_dsn, bench_writer, workload  # noqa: E402
from footfall_worker.report import query  # noqa: E402
from footfall_worker.report.data import collect  # noqa: E402
from footfall_worker.report.query import Window  # noqa: E402
from tests.support.chain_history import stores_of  # noqa: E402

LAST_DAY = date(2026, 11, 30)
REPEATS = 3


def database(url: str, name: str, args: argparse.Namespace) -> str:
    """The scale database: generated when missing, then brought to the current schema (the conversion timed)."""
    admin = psycopg2.connect(admin_dsn(url, "postgres"), connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        exists = cur.fetchone() is not None
        if not exists:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    dsn = admin_dsn(url, name)
    if not exists:
        scale_history.fill(dsn, args.stores, args.channels, args.days, LAST_DAY)
    converted = scale_history.migrate_timed(dsn)
    if converted is not None:
        kept = "every row kept" if converted.rows_after == converted.rows_before else "ROWS DIFFER"
        print(
            f"migrated in {converted.seconds:.0f} s: {kept} "
            f"({', '.join(f'{t} {n:,}' for t, n in converted.rows_after.items())})"
        )
    return dsn


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


def sizes(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            # a partitioned table's rows and bytes are its partitions'
            cur.execute(
                """
                SELECT coalesce(parent.relname, c.relname), sum(c.reltuples)::bigint,
                       pg_size_pretty(sum(pg_total_relation_size(c.oid))), count(*)
                FROM pg_class c
                LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
                LEFT JOIN pg_class parent ON parent.oid = i.inhparent
                WHERE c.relkind = 'r' AND coalesce(parent.relname, c.relname)
                      IN ('events', 'tracks', 'track_points', 'channel_stats_minute', 'runs', 'channels')
                GROUP BY 1 ORDER BY 2 DESC
                """
            )
            print("  " + ", ".join(f"{n} {rows:,} rows ({size}, {parts} tables)" for n, rows, size, parts in cur))
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
    dsn = database(url, name, args)
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
        day_start = datetime.combine(LAST_DAY, day_time(), UTC)
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            cur.execute("SET jit = off")  # as the report sets it (report/data.py); docs/scale.md says why
            began = time.perf_counter()
            cur.execute(
                "SELECT store_id, hour, sum(customers) FROM channel_hours_between(%s, %s) GROUP BY 1, 2",
                (day_start, day_start + timedelta(days=1)),
            )
            found = len(cur.fetchall())
            took = (time.perf_counter() - began) * 1000
            print(f"  all stores, one day, hourly customers (channel_hours_between): {took:.0f} ms ({found} rows)")
        conn.close()
        for label, period in (("one day", one_day), (f"{args.days} days", month)):
            print(f"  the report's slowest queries for one store, {label} (EXPLAIN ANALYZE):")
            for line in report_plans.slowest_plans(dsn, store, period):
                print(f"    {line}")
        _, records = workload(args.insert_rows)
        rate, _, _, batches = bench_writer(dsn, 500, records)
        print(
            f"  the writer into this database: {rate:,.0f} rows/s ({args.insert_rows:,} rows, {batches} batches of 500)"
        )
        for line in scale_history.upkeep_costs(dsn, LAST_DAY, args.days):
            print(f"  {line}")
    finally:
        if not args.keep:
            admin = psycopg2.connect(admin_dsn(url, "postgres"), connect_timeout=5)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.close()


if __name__ == "__main__":
    main()
