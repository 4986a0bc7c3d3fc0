"""The buffered writer and its journal against a real, private PostgreSQL that the tests stop and start."""

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from footfall_worker.storage.journal import REJECTED_FILE, Journal
from footfall_worker.storage.journal_format import encode_frame, scan_segment
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import (
    ChannelRow,
    EventRow,
    Record,
    RunStart,
    TrackRow,
    encode_record,
    new_run_id,
)
from tests.storage.workload import CHANNEL, T0, Workload, assert_database_holds, fast_settings, make_writer
from tests.support.paths import free_port
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    return pg_cluster.create_database("w")


# -- normal operation ------------------------------------------------------------------------------------------


def test_rows_written_equal_rows_produced(dsn: str, tmp_path: Path) -> None:
    work = Workload()
    writer = make_writer(dsn, tmp_path, batch_rows=500, max_buffered_rows=10_000)
    writer.start()
    for record in work.begin():
        assert writer.put(record)
    for _ in range(600):  # 6000 rows
        for record in work.tick():
            assert writer.put(record)
    for record in work.end():
        assert writer.put(record)
    started = time.monotonic()
    assert writer.close(deadline_s=10.0), writer.stats()
    assert time.monotonic() - started < 10.0
    stats = writer.stats()
    assert stats.written_rows == len(work.records) and stats.dropped_rows == stats.rejected_rows == 0
    assert stats.buffered_rows == stats.journal_batches == 0 and not stats.running
    assert_database_holds(dsn, work)
    assert writer.put(work.tick()[0]) is False  # closed: refused and counted
    assert writer.stats().dropped_rows == 1


def test_a_growing_track_updates_its_row_and_an_older_state_never_wins(dsn: str, tmp_path: Path) -> None:
    writer = make_writer(dsn, tmp_path)
    writer.start()
    run = new_run_id()
    writer.put(ChannelRow(CHANNEL, "s", "n", "rtsp://h/x", {}))
    writer.put(RunStart(run, T0))
    for frames in range(1, 6):
        writer.put(TrackRow(run, 7, T0, T0 + frames, frames, gender="unknown" if frames < 5 else "female"))
        time.sleep(0.25)  # > flush_interval_s: each state lands in its own batch
    writer.put(TrackRow(run, 7, T0, T0 + 2, 2))  # a late, older state (e.g. replayed): ignored
    writer.put(TrackRow(run, 7, T0, T0 + 5, 5, "female", 0.9, 3, 1.8, linked_run_id=run, linked_track_id=3))
    assert writer.close(5.0)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), max(frames), max(gender), max(gender_confidence), max(linked_track_id),"
            " extract(epoch FROM max(last_seen))::float8 FROM tracks"
        )
        assert cur.fetchone() == (1, 5, "female", pytest.approx(0.9), 3, T0 + 5)
    assert writer.stats().written_batches >= 6


def test_a_retried_batch_does_not_duplicate(dsn: str, tmp_path: Path) -> None:
    """The same batches twice (a crash after the commit, before the journal segment was removed)."""
    work = Workload()
    items = [encode_record(r) for r in work.begin()]
    for _ in range(30):
        items += [encode_record(r) for r in work.tick()]
    journal = Journal(tmp_path / "journal")
    journal.append(items)
    journal.append(items)  # the retry
    journal.close()
    writer = make_writer(dsn, tmp_path)
    writer.start()
    assert writer.close(5.0)
    stats = writer.stats()
    assert stats.replayed_rows == 2 * len(items) and stats.journal_batches == 0
    assert_database_holds(dsn, work)
    assert list((tmp_path / "journal").glob("segment-*")) == []


def test_rows_postgresql_refuses_are_set_aside_and_the_rest_is_written(dsn: str, tmp_path: Path) -> None:
    work = Workload()
    writer = make_writer(dsn, tmp_path)
    writer.start()
    for record in work.begin() + work.tick():
        writer.put(record)
    writer.put(EventRow.new(work.run_id, T0, "Not A Kind!"))  # violates the kind check
    writer.put(TrackRow(new_run_id(), 1, T0, T0, 1))  # a run that does not exist (deferred foreign key)
    writer.put(TrackRow(work.run_id, 99, T0, T0, 1, gender="robot"))  # violates the gender check
    for record in work.tick():
        writer.put(record)
    assert writer.close(5.0) is False  # not everything was written
    stats = writer.stats()
    assert stats.rejected_rows == 3 and stats.dropped_rows == 0 and stats.buffered_rows == 0
    assert_database_holds(dsn, work)
    rejected = [json.loads(line) for line in (tmp_path / "journal" / REJECTED_FILE).read_text().splitlines()]
    assert sorted(r["record"][0] for r in rejected) == ["EventRow", "TrackRow", "TrackRow"]
    assert all(r["error"] for r in rejected)


# -- outages ---------------------------------------------------------------------------------------------------


def test_a_30_s_outage_under_a_steady_producer_loses_nothing(
    pg_cluster: PostgresCluster,  # noqa: F811
    dsn: str,
    tmp_path: Path,
) -> None:
    """200 rows/s; PostgreSQL stopped for 30 s; memory bound 1000 rows, so most of the outage goes to disk."""
    max_rows = 1000
    work = Workload()
    writer = make_writer(dsn, tmp_path, max_buffered_rows=max_rows, batch_rows=100, flush_interval_s=0.5)
    writer.start()
    put_times: list[float] = []
    buffered: list[int] = []
    refused = 0
    stop = threading.Event()

    def produce() -> None:
        nonlocal refused
        for record in work.begin():
            writer.put(record)
        next_at = time.monotonic()
        while not stop.is_set():
            for record in work.tick():  # 10 rows every 50 ms
                began = time.perf_counter()
                if not writer.put(record):
                    refused += 1
                put_times.append(time.perf_counter() - began)
            next_at += 0.05
            time.sleep(max(0.0, next_at - time.monotonic()))

    def sample() -> None:
        while not stop.is_set():
            buffered.append(writer.stats().buffered_rows)
            time.sleep(0.02)

    threads = [threading.Thread(target=produce), threading.Thread(target=sample)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3.0)
        pg_cluster.stop()
        try:
            time.sleep(30.0)
            during = writer.stats()
            assert not during.db_up and during.journal_batches > 0 and during.retries > 0
        finally:
            pg_cluster.start()
        time.sleep(5.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    for record in work.end():
        writer.put(record)
    assert writer.close(deadline_s=20.0), writer.stats()
    stats = writer.stats()
    print(
        f"\noutage: {len(work.records)} rows, journaled {stats.journaled_rows}, replayed {stats.replayed_rows},"
        f" retries {stats.retries}, max buffered {max(buffered)}, put max {max(put_times) * 1e6:.0f} us,"
        f" put p99 {np.percentile(put_times, 99) * 1e6:.1f} us"
    )
    assert refused == 0 and stats.dropped_rows == 0 and stats.rejected_rows == 0
    assert stats.journaled_rows > 4000 and stats.replayed_rows == stats.journaled_rows and stats.reconnects >= 1
    assert max(buffered) <= max_rows  # memory stayed bounded throughout
    # The producer never waited on the database: a put that did would take a retry's back-off or a connect
    # timeout (>= 0.5 s). Not tighter: on a loaded 2-core box the scheduler alone can stall a thread for tens
    # of ms (the put's own cost is printed above and measured in `make bench`).
    assert max(put_times) < 0.5
    assert_database_holds(dsn, work)  # nothing lost, nothing doubled, events in put order
    assert list((tmp_path / "journal").glob("segment-*")) == []


def test_an_unwritable_journal_drops_counted_rows_and_the_writer_survives(
    pg_cluster: PostgresCluster,  # noqa: F811
    dsn: str,
    tmp_path: Path,
) -> None:
    """As root, permissions do not stop writes; a journal path under a regular FILE fails for anyone (ENOTDIR)."""
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    max_rows = 200
    work = Workload()
    writer = PostgresWriter(dsn, CHANNEL, fast_settings(max_buffered_rows=max_rows), blocker / "journal")
    writer.start()
    for record in work.begin():
        assert writer.put(record)
    pg_cluster.stop()
    try:
        accepted: list[Record] = []
        refused = 0
        slowest = 0.0
        for _ in range(100):  # 1000 rows into a 200-row memory with nowhere to spill
            for record in work.tick():
                began = time.perf_counter()
                if writer.put(record):
                    accepted.append(record)
                else:
                    refused += 1
                slowest = max(slowest, time.perf_counter() - began)
            time.sleep(0.005)
        time.sleep(0.5)
        stats = writer.stats()
        assert refused > 0 and stats.dropped_rows == refused
        assert stats.journal_errors > 0 and not stats.journal_ok and "journal" in (stats.last_error or "")
        assert stats.running and stats.buffered_rows <= max_rows
        assert slowest < 0.5  # no put waited on the disk or the database (see the outage test for the bound)
    finally:
        pg_cluster.start()
    # The memory that was kept reaches PostgreSQL once it is back.
    deadline = time.monotonic() + 15
    while writer.stats().buffered_rows and time.monotonic() < deadline:
        time.sleep(0.1)
    assert writer.stats().buffered_rows == 0 and writer.stats().running
    assert writer.close(5.0) is False  # rows were dropped: not everything was written
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM events")
        written_events = cur.fetchone()[0]
    assert written_events == sum(isinstance(r, EventRow) for r in accepted) > 0


def test_close_with_postgresql_down_returns_false_and_the_journal_survives_for_the_next_start(
    dsn: str, tmp_path: Path
) -> None:
    work = Workload()
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/none"  # nothing listens there
    writer = PostgresWriter(nowhere, CHANNEL, fast_settings(), tmp_path / "journal")
    writer.start()
    for record in work.begin():
        writer.put(record)
    for _ in range(50):
        for record in work.tick():
            writer.put(record)
    started = time.monotonic()
    assert writer.close(deadline_s=1.0) is False
    assert time.monotonic() - started < 1.5
    stats = writer.stats()
    assert stats.buffered_rows == 0 and stats.journal_rows == len(work.records) and stats.dropped_rows == 0
    assert not stats.running and stats.retries > 0

    # The next start (same journal, PostgreSQL up) writes it all.
    again = make_writer(dsn, tmp_path)
    again.start()
    assert again.close(5.0)
    assert again.stats().replayed_rows == len(work.records)
    assert_database_holds(dsn, work)


def test_a_run_journaled_whole_is_replayed_with_its_tally_by_the_next_writer(dsn: str, tmp_path: Path) -> None:
    """A pod deleted while PostgreSQL is away: its rows and its RunEnd (with what it produced) wait on the journal's
    volume, and the next pod's writer commits them all; produced = committed once it has."""
    work = Workload()
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    writer = PostgresWriter(nowhere, CHANNEL, fast_settings(), tmp_path / "journal")
    writer.start()
    for record in [*work.begin(), *[r for _ in range(40) for r in work.tick()], *work.end()]:
        writer.put(record)
    assert writer.close(deadline_s=1.0) is False
    again = make_writer(dsn, tmp_path)
    again.start()
    assert again.close(5.0)
    assert_database_holds(dsn, work)


# -- the journal alone -------------------------------------------------------------------------------------------


def test_journal_replays_in_order_across_segments_and_deletes_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    batches = [[["n", i, "x" * 300]] for i in range(40)]  # ~13 KB: several segments
    for batch in batches[:25]:
        journal.append(batch)
    seen = []
    for _ in range(10):
        batch = journal.peek()
        assert batch is not None
        seen.append(batch.items)
        journal.commit(batch)
    for batch in batches[25:]:  # appends while reading
        journal.append(batch)
    while (batch := journal.peek()) is not None:
        seen.append(batch.items)
        journal.commit(batch)
    assert seen == batches and journal.pending_batches == journal.pending_rows == 0
    assert list(tmp_path.glob("segment-*")) == []


def test_journal_skips_a_torn_tail_and_a_damaged_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for i in range(4):
        journal.append([["n", i]])
    journal.close()
    (segment,) = tmp_path.glob("segment-*")
    data = bytearray(segment.read_bytes())
    records, damaged = scan_segment(bytes(data))
    assert len(records) == 4 and damaged == []
    second_payload = records[1][0] + 12
    data[second_payload] ^= 0xFF  # damage the second record's payload
    data += encode_frame(b'[["n", 4]]')[:-3]  # a crash in the middle of an append
    segment.write_bytes(bytes(data))

    reopened = Journal(tmp_path)
    reopened.open()
    assert reopened.pending_batches == 3
    seen = []
    while (batch := reopened.peek()) is not None:
        seen.append(batch.items)
        reopened.commit(batch)
    assert seen == [[["n", 0]], [["n", 2]], [["n", 3]]]
    assert reopened.damaged_records == 2


def test_a_torn_journal_is_replayed_up_to_the_tear_by_the_writer(dsn: str, tmp_path: Path) -> None:
    work = Workload()
    journal = Journal(tmp_path / "journal")
    journal.append([encode_record(r) for r in work.begin() + work.tick()])
    journal.close()
    (segment,) = (tmp_path / "journal").glob("segment-*")
    with open(segment, "ab") as handle:
        handle.write(encode_frame(json.dumps([encode_record(r) for r in Workload().tick()]).encode())[:40])
    writer = make_writer(dsn, tmp_path)
    writer.start()
    assert writer.close(5.0)
    assert writer.stats().journal_damaged == 1
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM events")
        assert cur.fetchone()[0] == 1  # the intact batch's event; the torn one never completed
