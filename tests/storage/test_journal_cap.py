"""The journal's size cap: at the cap new batches are refused and counted, what it holds is kept and written
once PostgreSQL is back, and the bytes are accounted across segments, commits and restarts."""

import time
from pathlib import Path

import pytest

from footfall_operator.quantity import quantity_bytes
from footfall_worker.storage.journal import REJECTED_FILE, Journal, JournalFull
from footfall_worker.storage.journal_format import encode_frame, json_dumps
from tests.storage.workload import Workload, make_writer
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    return pg_cluster.create_database("c")


def segment_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("segment-*"))


def test_the_cap_refuses_new_batches_and_keeps_the_old_ones(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096, max_bytes=16 * 1024)
    batch = [["n", 0, "x" * 1000]]
    frame = len(encode_frame(json_dumps(batch).encode()))
    appended = 0
    with pytest.raises(JournalFull, match="journal full"):
        while True:
            journal.append(batch)
            appended += 1
    assert appended == 16 * 1024 // frame and journal.full_refusals == 1  # what fits, and not one more
    assert journal.size_bytes == segment_bytes(tmp_path) <= 16 * 1024 and journal.pending_batches == appended
    for _ in range(5):  # PostgreSQL takes some: their segments go, and room comes back
        got = journal.peek()
        assert got is not None
        journal.commit(got)
    assert journal.size_bytes == segment_bytes(tmp_path) <= 16 * 1024 - 4096  # a whole segment went
    journal.append(batch)
    journal.close()
    again = Journal(tmp_path, max_bytes=16 * 1024)  # the next process counts what it finds
    again.open()
    # The first segment's 4 batches are gone; the 5th sits in a segment still in use, so the next process
    # replays it again (an idempotent upsert).
    assert again.size_bytes == segment_bytes(tmp_path) and again.pending_batches == appended - 4 + 1


def test_rejected_rows_are_kept_within_a_tenth_of_the_cap_then_only_counted(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=64 * 1024)
    kept = 0
    with pytest.raises(JournalFull):
        for index in range(1000):
            journal.reject(["EventRow", index, "y" * 500], "CheckViolation [23514]: the kind check")
            kept += 1
    assert 0 < kept < 20 and (tmp_path / REJECTED_FILE).stat().st_size <= 64 * 1024 // 10


def test_a_long_outage_past_the_cap_drops_counted_rows_and_writes_all_it_kept(
    pg_cluster: PostgresCluster,  # noqa: F811
    dsn: str,
    tmp_path: Path,
) -> None:
    work = Workload()
    writer = make_writer(dsn, tmp_path, max_buffered_rows=200, journal_max_bytes=64 * 1024)
    writer.start()
    for record in work.begin():
        writer.put(record)
    pg_cluster.stop()
    refused = 0
    try:
        for _ in range(300):  # 3000 rows, ~350 KB of journal: far past the cap
            for record in work.tick():
                if not writer.put(record):
                    refused += 1
            time.sleep(0.005)
        time.sleep(0.5)
        during = writer.stats()
        assert during.dropped_rows > 0 and during.journal_errors > 0 and "journal full" in (during.last_error or "")
        assert segment_bytes(tmp_path / "journal") <= 64 * 1024
    finally:
        pg_cluster.start()
    assert writer.close(deadline_s=20.0) is False  # rows were dropped: not complete
    stats = writer.stats()
    produced = len(work.records)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM track_points) + (SELECT count(*) FROM events)")
        committed_points_events = cur.fetchone()[0]
    assert stats.journal_batches == 0 and stats.buffered_rows == 0 and committed_points_events > 0
    # Counting: every row produced was committed or counted as dropped (put refused, or lost at the cap).
    assert stats.written_rows + stats.dropped_rows >= produced - refused and stats.dropped_rows >= refused
    print(f"\ncap 64 KiB: {produced} rows produced, {stats.written_rows} written, {stats.dropped_rows} dropped")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1Gi", 2**30), ("512Mi", 512 * 2**20), ("500M", 500 * 10**6), ("1073741824", 2**30), ("1.5Gi", 3 * 2**29)],
)
def test_storage_quantities(text: str, expected: int) -> None:
    assert quantity_bytes(text) == expected


@pytest.mark.parametrize("text", ["lots", "1GB", "-1Gi", ""])
def test_a_bad_quantity_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="not a storage quantity"):
        quantity_bytes(text)
