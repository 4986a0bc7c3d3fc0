"""The writer when PostgreSQL refuses: for now (a failover, a migration under way) the rows wait and go in whole;
as data (a value that can never be written) only that row is quarantined and the rest of its batch commits.

Against a real, private PostgreSQL whose state the tests change the way a deploy or a failover would.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

from footfall_worker.storage.journal import REJECTED_FILE, Journal
from footfall_worker.storage.pg_errors import Failure, classify
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import EventRow, TrackPoint, encode_record
from tests.storage.workload import T0, Workload, assert_database_holds, make_writer
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    return pg_cluster.create_database("f")


def admin(dsn: str, *statements: str) -> None:
    with connect(dsn) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


def wait_until(what: Callable[[], bool], timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, why
        time.sleep(0.05)


def produce(writer: PostgresWriter, work: Workload, ticks: int) -> None:
    for _ in range(ticks):
        for record in work.tick():
            assert writer.put(record)


def running(writer: PostgresWriter, work: Workload, ticks: int) -> None:
    """Start the writer and let it commit the run's first rows: the fault that follows hits a working writer."""
    writer.start()
    for record in work.begin():
        writer.put(record)
    produce(writer, work, ticks)
    wait_until(lambda: writer.stats().buffered_rows == 0, 10, "the first rows were not written")


def test_a_table_missing_during_a_migration_holds_the_rows_until_it_is_back(dsn: str, tmp_path: Path) -> None:
    work = Workload()
    writer = make_writer(dsn, tmp_path)
    running(writer, work, ticks=20)
    admin(dsn, "ALTER TABLE events RENAME TO events_being_migrated")  # 42P01 for every batch with an event
    try:
        produce(writer, work, 60)
        wait_until(lambda: writer.stats().transient_errors >= 3, 10, f"no transient error: {writer.stats()}")
        during = writer.stats()
        assert during.rejected_rows == 0 and during.dropped_rows == 0, during
    finally:
        admin(dsn, "ALTER TABLE events_being_migrated RENAME TO events")
    for record in work.end():
        writer.put(record)
    assert writer.close(deadline_s=15.0), writer.stats()
    assert writer.stats().rejected_rows == 0
    assert_database_holds(dsn, work)  # every row, once, events in put order


def test_a_read_only_primary_after_a_failover_holds_the_rows_until_writes_are_allowed(dsn: str, tmp_path: Path) -> None:
    database = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    work = Workload()
    writer = make_writer(dsn, tmp_path)
    running(writer, work, ticks=10)
    # A failover to a standby: the writer's session ends, and the server it reconnects to is read-only (25006).
    maintenance = dsn.rsplit("/", 1)[0] + "/postgres"  # not the database itself: it is about to be read-only
    admin(
        maintenance,
        f'ALTER DATABASE "{database}" SET default_transaction_read_only = on',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'footfall-writer:%'",
    )
    try:
        produce(writer, work, 40)
        wait_until(lambda: writer.stats().transient_errors >= 2, 10, f"no transient error: {writer.stats()}")
        during = writer.stats()
        assert during.rejected_rows == 0 and during.dropped_rows == 0 and during.written_rows > 0, during
    finally:
        admin(maintenance, f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
    for record in work.end():
        writer.put(record)
    assert writer.close(deadline_s=15.0), writer.stats()
    stats = writer.stats()
    assert stats.rejected_rows == 0 and stats.reconnects >= 1, stats
    assert_database_holds(dsn, work)


def test_poison_rows_in_a_journal_batch_are_quarantined_and_the_rest_of_it_commits(dsn: str, tmp_path: Path) -> None:
    """What once blocked the writer for good: a replayed value that raises in Python, not in PostgreSQL."""
    work = Workload()
    items = [encode_record(r) for r in work.begin()]
    for _ in range(30):
        items += [encode_record(r) for r in work.tick()]
    overflow = encode_record(TrackPoint(work.run_id, 1, 10**400, 0, 0, 1, 1))  # float(t): OverflowError
    unadaptable = ["EventRow", "0f0f0f0f-0000-4000-8000-000000000000", work.run_id, {"a": 1}, "zone_enter", None, None]
    undecodable = ["TrackPoint", "too", "few"]
    out_of_range = encode_record(TrackPoint(work.run_id, 2**40, T0 + 1, 0, 0, 1, 1))  # 22003: integer out of range
    poison = [overflow, unadaptable, undecodable, out_of_range]
    batch = items[:100] + poison[:2] + items[100:200] + poison[2:] + items[200:]
    journal = Journal(tmp_path / "journal")
    journal.append(batch)
    journal.close()

    writer = make_writer(dsn, tmp_path)
    writer.start()
    assert writer.close(deadline_s=10.0) is False  # not everything went in: four rows are quarantined
    stats = writer.stats()
    assert stats.rejected_rows == 4 and stats.dropped_rows == 0 and stats.journal_batches == 0, stats
    assert_database_holds(dsn, work)
    rejected = [json.loads(line) for line in (tmp_path / "journal" / REJECTED_FILE).read_text().splitlines()]
    assert sorted(r["record"] for r in rejected) == sorted(json.loads(json.dumps(p)) for p in poison)
    errors = " | ".join(r["error"] for r in rejected)
    assert "OverflowError" in errors and "[22003]" in errors and "not a storage record" in errors, errors


def test_a_payload_too_deep_to_encode_is_quarantined_not_a_crash(dsn: str, tmp_path: Path) -> None:
    work = Workload()
    writer = make_writer(dsn, tmp_path)
    writer.start()
    deep: dict[str, object] = {}
    for _ in range(5000):
        deep = {"d": deep}
    for record in work.begin():
        writer.put(record)
    produce(writer, work, 5)
    writer.put(EventRow.new(work.run_id, T0 + 1, "zone_enter", 1, deep))  # RecursionError when encoded
    produce(writer, work, 5)
    assert writer.close(deadline_s=10.0) is False
    stats = writer.stats()
    assert stats.rejected_rows == 1 and stats.dropped_rows == 0 and not stats.running, stats
    assert_database_holds(dsn, work)


@pytest.mark.parametrize(
    ("sqlstate", "failure"),
    [
        ("25006", Failure.TRANSIENT),  # read-only transaction: a failover
        ("42501", Failure.TRANSIENT),  # insufficient privilege: a grant change
        ("42P01", Failure.TRANSIENT),  # undefined table: a migration under way
        ("57014", Failure.TRANSIENT),  # query canceled: a statement timeout
        ("53100", Failure.TRANSIENT),  # disk full
        ("08006", Failure.UNREACHABLE),  # connection failure
        ("22003", Failure.DATA),  # numeric value out of range
        ("23514", Failure.DATA),  # check violation
    ],
)
def test_a_server_error_is_classified_by_its_sqlstate(dsn: str, sqlstate: str, failure: Failure) -> None:
    """Raised by the real server (a PL/pgSQL RAISE with that SQLSTATE), so psycopg2 builds its real exception."""
    with connect(dsn) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as raised:
            cur.execute(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{sqlstate}'; END $$")
    assert raised.value.pgcode == sqlstate and classify(raised.value) is failure


def test_python_errors_are_data_and_a_lost_connection_is_unreachable() -> None:
    assert classify(OverflowError("int too large to convert to float")) is Failure.DATA
    assert classify(RecursionError("maximum recursion depth exceeded")) is Failure.DATA
    assert classify(psycopg2.ProgrammingError("can't adapt type 'dict'")) is Failure.DATA
    assert classify(psycopg2.OperationalError("server closed the connection unexpectedly")) is Failure.UNREACHABLE
    assert classify(psycopg2.InterfaceError("connection already closed")) is Failure.UNREACHABLE


def test_a_hung_server_is_given_up_on_within_the_bound_and_the_rows_wait_in_the_journal(
    pg_cluster: PostgresCluster,  # noqa: F811
    dsn: str,
    tmp_path: Path,
) -> None:
    """SIGSTOPped PostgreSQL: the kernel still ACKs, so only our own wait bound notices (statement_timeout_s
    2 s + answer_grace_s 1 s here); the writer drops the connection, journals, and writes everything after."""
    answer_limit_s = 3.0
    work = Workload()
    writer = make_writer(
        dsn,
        tmp_path,
        statement_timeout_s=2.0,
        answer_grace_s=1.0,
        max_buffered_rows=1000,
        spill_fraction=0.3,  # journal above 300 rows; 700 rows of room while a connect waits out its 2 s
        backoff_max_s=1.0,
    )
    running(writer, work, ticks=10)
    pids = pg_cluster.freeze()
    try:
        frozen_at = time.monotonic()
        produce(writer, work, 5)  # a batch the writer sends into the silent server
        wait_until(lambda: not writer.stats().db_up, answer_limit_s + 3, f"still waiting: {writer.stats()}")
        noticed_s = time.monotonic() - frozen_at
        for _ in range(60):  # 600 rows at 200 rows/s, more than the spill threshold: the journal takes them
            produce(writer, work, 1)
            time.sleep(0.05)
        during = writer.stats()
        assert during.journal_rows > 0 and during.dropped_rows == 0 and not during.db_up, during
    finally:
        pg_cluster.thaw(pids)
    print(f"\nhung server given up on after {noticed_s:.1f} s (bound {answer_limit_s:.0f} s + a flush interval)")
    assert noticed_s <= answer_limit_s + 2.0
    for record in work.end():
        writer.put(record)
    assert writer.close(deadline_s=15.0), writer.stats()
    assert writer.stats().rejected_rows == 0
    assert_database_holds(dsn, work)


def test_a_shutdown_while_the_server_hangs_keeps_every_row_in_the_journal_within_the_deadline(
    pg_cluster: PostgresCluster,  # noqa: F811
    dsn: str,
    tmp_path: Path,
) -> None:
    work = Workload()
    writer = make_writer(dsn, tmp_path, statement_timeout_s=20.0, answer_grace_s=5.0)  # 25 s: longer than the close
    running(writer, work, ticks=10)
    pids = pg_cluster.freeze()
    try:
        produce(writer, work, 30)
        for record in work.end():
            writer.put(record)
        time.sleep(0.3)  # a flush is sent into the silent server
        started = time.monotonic()
        assert writer.close(deadline_s=3.0) is False
        closed_s = time.monotonic() - started
        stats = writer.stats()
    finally:
        pg_cluster.thaw(pids)
    assert closed_s < 3.5 and not stats.running, (closed_s, stats)
    assert stats.dropped_rows == 0 and stats.buffered_rows == 0 and stats.journal_rows > 0, stats
    # The next start replays it all.
    again = make_writer(dsn, tmp_path)
    again.start()
    assert again.close(deadline_s=15.0), again.stats()
    assert_database_holds(dsn, work)
