"""Storage numbers: rows/second the PostgreSQL writer sustains at batch sizes 100, 500 and 2000 (track points
mostly, some track upserts and events), the producer-side cost of `put`, and the journal's spill rate.
Printed, never asserted.

    make bench      (after the inference and ingest benches)
    .venv/bin/python bench/storage_bench.py --rows 100000

Runs against the server of FOOTFALL_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test) in a
throw-away database `footfall_bench_<hex>` that it creates and drops; the server's own durability settings
apply, so the numbers are what a worker would see there.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extensions

from footfall_worker.settings import StorageSettings
from footfall_worker.storage.journal import Journal
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import (
    ChannelRow,
    EventRow,
    Record,
    RunStart,
    TrackPoint,
    TrackRow,
    encode_record,
    new_run_id,
)

CHANNEL = "bench_channel"


def workload(rows: int) -> tuple[str, list[Record]]:
    """~90 % track points, ~8 % track upserts (a growing track re-sends its row), ~2 % events."""
    run_id = new_run_id()
    records: list[Record] = [ChannelRow(CHANNEL, "bench", "bench", "rtsp://127.0.0.1/x", {}), RunStart(run_id, 0.0)]
    t0 = time.time()
    i = 0
    while len(records) < rows:
        t = t0 + i * 0.04
        track_id = i // 300 * 8 + i % 8 + 1  # 8 live tracks; a new set every 300 steps
        records.append(TrackPoint(run_id, track_id, t, 100.0 + i % 50, 50.0, 180.0 + i % 50, 300.0))
        if i % 11 == 0:
            records.append(TrackRow(run_id, track_id, t0, t, i // 8 + 1, "unknown", None, 0, 0.0, 0.8, 0.9))
        if i % 50 == 0:
            records.append(EventRow.new(run_id, t, "zone_enter", track_id, {"zone": "door"}))
        i += 1
    return run_id, records[:rows]


def admin_dsn(url: str, database: str) -> str:
    params = psycopg2.extensions.parse_dsn(url)
    params["dbname"] = database
    return psycopg2.extensions.make_dsn(**params)


def bench_writer(dsn: str, batch_rows: int, records: list[Record]) -> tuple[float, float, float, int]:
    """Put every record as fast as possible, close, and time until all is committed.

    Returns:
        (rows/s committed, mean put µs, p99 put µs, batches).
    """
    settings = StorageSettings(  # type: ignore[call-arg]
        _env_file=None, batch_rows=batch_rows, max_buffered_rows=len(records) + 1, flush_interval_s=0.2
    )
    with tempfile.TemporaryDirectory() as journal_dir:
        writer = PostgresWriter(dsn, CHANNEL, settings, Path(journal_dir))
        writer.start()
        put_ns = []
        began = time.perf_counter()
        for record in records:
            t = time.perf_counter_ns()
            writer.put(record)
            put_ns.append(time.perf_counter_ns() - t)
        complete = writer.close(deadline_s=600)
        elapsed = time.perf_counter() - began
        stats = writer.stats()
    if not complete:
        print(f"  batch {batch_rows}: NOT complete: {stats}", file=sys.stderr)
    put_ns.sort()
    return (
        stats.written_rows / elapsed,
        statistics.fmean(put_ns) / 1000,
        put_ns[int(len(put_ns) * 0.99)] / 1000,
        stats.written_batches,
    )


def bench_put_alone(records: list[Record]) -> float:
    """µs per put with no writer thread competing for the GIL (the buffer append alone)."""
    settings = StorageSettings(_env_file=None, max_buffered_rows=len(records) + 1)  # type: ignore[call-arg]
    with tempfile.TemporaryDirectory() as journal_dir:
        writer = PostgresWriter("postgresql://127.0.0.1:1/none", CHANNEL, settings, Path(journal_dir))
        began = time.perf_counter()
        for record in records:
            writer.put(record)
        return (time.perf_counter() - began) / len(records) * 1e6


def bench_journal(records: list[Record], batch_rows: int) -> float:
    """Rows/s spilled to the journal (JSON, CRC, fsync per batch) on this machine's disk."""
    items = [encode_record(r) for r in records]
    with tempfile.TemporaryDirectory() as directory:
        journal = Journal(Path(directory))
        began = time.perf_counter()
        for start in range(0, len(items), batch_rows):
            journal.append(items[start : start + batch_rows])
        elapsed = time.perf_counter() - began
        journal.close()
    return len(items) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per batch-size run")
    parser.add_argument(
        "--url", default=os.environ.get("FOOTFALL_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()

    database = f"footfall_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.url, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')
        cur.execute("SHOW synchronous_commit")
        sync_commit = cur.fetchone()[0]
    try:
        dsn = admin_dsn(args.url, database)
        print(f"storage bench: {args.rows} rows per run (~90 % points), synchronous_commit={sync_commit}")
        print(f"{'batch rows':>10}  {'rows/s':>9}  {'batches':>7}  {'put mean µs':>11}  {'put p99 µs':>10}")
        for batch_rows in (100, 500, 2000):
            _, records = workload(args.rows)  # a fresh run each time: inserts, not conflicts
            rate, put_mean, put_p99, batches = bench_writer(dsn, batch_rows, records)
            print(f"{batch_rows:>10}  {rate:>9.0f}  {batches:>7}  {put_mean:>11.2f}  {put_p99:>10.2f}")
        _, records = workload(args.rows)
        print(f"put alone (no writer thread): {bench_put_alone(records):.2f} µs")
        for batch_rows in (100, 500):
            print(f"journal spill, batch {batch_rows}: {bench_journal(records[:20_000], batch_rows):.0f} rows/s")
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
