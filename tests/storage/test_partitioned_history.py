"""The partitioned history (migration 0009, storage/partitions.py) on a real, private PostgreSQL: a database
filled by the schema before it converts without losing or changing a row, the writer keeps a track one row
however its first_seen jitters, a row before its partition exists waits in DEFAULT and moves when it is created,
retention drops whole partitions by class, and the upkeep gives way to a long report instead of queueing."""

from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.errors
import pytest

from footfall_worker.storage.migrations import apply_migrations, load_migrations
from footfall_worker.storage.partitions import (
    UPKEEP_LOCK_KEY,
    default_partition_rows,
    drop_expired,
    ensure_partitions,
)
from footfall_worker.storage.records import EventRow, HeatmapHour, RunStart, TrackPoint, TrackRow, new_run_id
from footfall_worker.storage.sql_mapping import execute_records
from tests.support.chain_history import generate
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

TABLES = ["tracks", "track_points", "events", "channel_stats_minute", "channel_heatmap_hour"]
LAST_DAY = (datetime.now(UTC) - timedelta(days=3)).date()  # recent: the conversion partitions 60 days back
PARTITIONING = 9  # the migration that partitions the history


def migrate_to(dsn: str, version: int) -> None:
    with connect(dsn) as conn:
        apply_migrations(conn, [m for m in load_migrations() if m.version <= version])


def fingerprint(dsn: str) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of every row's text, in a fixed order."""
    out = {}
    with connect(dsn) as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {table} x")
            count, digest = cur.fetchone()
            out[table] = (int(count), str(digest))
    return out


def scalar(dsn: str, sql: str, *params: object) -> object:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


@pytest.fixture(scope="module")
def filled_before(pg_cluster: PostgresCluster) -> tuple[str, dict[str, tuple[int, str]]]:  # noqa: F811
    """A database filled by the schema before partitioning, then converted: the DSN and the rows before."""
    dsn = pg_cluster.create_database("part")
    migrate_to(dsn, PARTITIONING - 1)
    generate(dsn, stores=3, channels=3, days=3, last_day=LAST_DAY)
    with connect(dsn) as conn, conn.cursor() as cur:
        # the generator writes no boxes or heatmaps: some, as a worker would, for a few of its tracks
        cur.execute(
            "SELECT run_id::text, track_id, channel_id, extract(epoch FROM first_seen)::float8 FROM tracks"
            " ORDER BY run_id, track_id LIMIT 50"
        )
        for run_id, track_id, channel, first in cur.fetchall():
            records = [TrackPoint(run_id, track_id, first + 0.2 * k, 10.0, 20.0 + k, 60.5, 180.25) for k in range(5)]
            records.append(HeatmapHour(first, run_id, 2, 2, [track_id, 1, 0, 3], 40))
            execute_records(cur, channel, records)
        # rows outside any partition the migration creates: a clock far ahead, and one before every run
        cur.execute("SELECT id, channel_id FROM runs LIMIT 1")
        run_id, channel = cur.fetchone()
        # and a run stamped by a clock at zero: the migration bounds its partitions, it does not make 20 000
        cur.execute("INSERT INTO runs (id, channel_id, started_at) VALUES (gen_random_uuid(), %s, 'epoch')", (channel,))
        for t in ("2031-05-05 12:00Z", "2020-01-01 00:00Z"):
            cur.execute(
                "INSERT INTO events (id, run_id, channel_id, t, kind) VALUES (gen_random_uuid(), %s, %s, %s, 'odd')",
                (run_id, channel, t),
            )
        conn.commit()
    before = fingerprint(dsn)
    migrate_to(dsn, PARTITIONING)
    return dsn, before


def test_conversion_keeps_every_row_of_every_table(filled_before: tuple[str, dict[str, tuple[int, str]]]) -> None:
    dsn, before = filled_before
    assert all(count > 0 for count, _ in before.values())
    assert fingerprint(dsn) == before
    for table in TABLES:
        assert scalar(dsn, "SELECT relkind::text FROM pg_class WHERE relname = %s", table) == "p"


def test_converted_rows_sit_in_their_periods_partitions(filled_before: tuple[str, dict[str, tuple[int, str]]]) -> None:
    dsn, _ = filled_before
    # Only the two out-of-range events wait in DEFAULT; everything else found its day's or month's partition.
    with connect(dsn) as conn:
        assert default_partition_rows(conn) == {table: 2 if table == "events" else 0 for table in TABLES}
    # a track of the last local day's evening may start after UTC midnight
    newest = scalar(dsn, "SELECT tableoid::regclass::text FROM tracks ORDER BY first_seen DESC LIMIT 1")
    assert newest in {f"tracks_p{day:%Y%m%d}" for day in (LAST_DAY, LAST_DAY + timedelta(days=1))}
    # three local days in zones east and west of UTC straddle three or four UTC days
    assert scalar(dsn, "SELECT count(DISTINCT tableoid) FROM events WHERE kind = 'line_crossing'") in (3, 4)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT tableoid::regclass::text FROM channel_stats_minute")
        months = {name for (name,) in cur.fetchall()}
    days = [LAST_DAY - timedelta(days=d) for d in range(4)]
    assert months and months <= {f"channel_stats_minute_p{day:%Y%m}" for day in days}


def test_the_event_cursor_goes_on_after_the_converted_events(filled_before: tuple[str, dict]) -> None:
    dsn, _ = filled_before
    highest = scalar(dsn, "SELECT max(seq) FROM events")
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM runs LIMIT 1")
        run_id = cur.fetchone()[0]
        execute_records(cur, "store_000_channel_1", [EventRow.new(run_id, datetime.now(UTC).timestamp(), "probe")])
        conn.commit()
    assert scalar(dsn, "SELECT seq FROM events WHERE kind = 'probe'") > highest


def test_the_views_read_the_partitioned_tables(filled_before: tuple[str, dict]) -> None:
    dsn, _ = filled_before
    minutes = scalar(dsn, "SELECT sum(entries) FROM channel_stats_minute")
    assert minutes > 0 and scalar(dsn, "SELECT sum(entries) FROM channel_minutes") == minutes
    assert scalar(dsn, "SELECT sum(entries) FROM channel_hours") == minutes


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    dsn = pg_cluster.create_database("part")
    migrate_to(dsn, PARTITIONING)
    return dsn


def _track(run_id: str, first_seen: float, last_seen: float, frames: int) -> TrackRow:
    return TrackRow(run_id, 7, first_seen, last_seen, frames, gender="female")


def test_a_tracks_rows_with_a_jittering_first_seen_stay_one_row(dsn: str) -> None:
    run_id, t0 = new_run_id(), datetime.now(UTC).timestamp()
    batches = [
        [RunStart(run_id, t0 - 5), _track(run_id, t0, t0 + 1, 10)],
        [_track(run_id, t0 + 0.004, t0 + 2, 20)],  # the wall offset moved by 4 ms between frames
        [_track(run_id, t0 - 0.003, t0 + 1.5, 15)],  # a replayed older row: must not roll the track back
    ]
    with connect(dsn) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO channels (id, store_id, name, source_masked) VALUES ('channel_1', 's', 'n', 'x')")
        for batch in batches:
            with conn.cursor() as cur:
                execute_records(cur, "channel_1", batch)
            conn.commit()
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM first_seen)::float8, frames FROM tracks WHERE run_id = %s", (run_id,))
        rows = cur.fetchall()
    assert len(rows) == 1
    first, frames = rows[0]
    assert first == pytest.approx(t0, abs=1e-6) and frames == 20


def test_a_row_before_its_partition_waits_in_default_and_moves_when_it_is_created(dsn: str) -> None:
    later = datetime(2030, 6, 15, 9, 30, tzinfo=UTC)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO channels (id, store_id, name, source_masked) VALUES ('channel_1', 's', 'n', 'x')")
        run_id = new_run_id()
        execute_records(
            cur, "channel_1", [RunStart(run_id, later.timestamp()), EventRow.new(run_id, later.timestamp(), "x")]
        )
        conn.commit()
        assert default_partition_rows(conn)["events"] == 1
        created = ensure_partitions(conn, later, ahead=timedelta(days=1))
        assert created is not None
        moved = {change.partition: change.rows for change in created}
        assert moved["events_p20300615"] == 1 and moved["tracks_p20300615"] == 0
        assert default_partition_rows(conn)["events"] == 0
        assert ensure_partitions(conn, later, ahead=timedelta(days=1)) == []  # idempotent
    assert scalar(dsn, "SELECT tableoid::regclass::text FROM events WHERE kind = 'x'") == "events_p20300615"


def test_retention_drops_whole_raw_partitions_and_keeps_rollups(dsn: str) -> None:
    now = datetime(2030, 3, 31, 12, tzinfo=UTC)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO channels (id, store_id, name, source_masked) VALUES ('channel_1', 's', 'n', 'x')")
        run_id = new_run_id()
        ensure_partitions(conn, now - timedelta(days=40), ahead=timedelta(days=45))
        records = [RunStart(run_id, (now - timedelta(days=40)).timestamp())]
        records += [EventRow.new(run_id, (now - timedelta(days=d)).timestamp(), "x") for d in range(40)]
        execute_records(cur, "channel_1", records)
        cur.execute(
            "INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps, occupancy_avg,"
            " occupancy_max, run_id) VALUES ('channel_1', %s, 1, 1, 15, 1, 1, %s)",
            (now - timedelta(days=39, minutes=now.minute), run_id),
        )
        # a partition someone attached by hand, under a name this schema does not give: never ours to drop
        cur.execute(
            "CREATE TABLE events_archive_2020 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')"
        )
        conn.commit()
        dropped = drop_expired(conn, now, raw_days=30, rollup_days=None)
    assert dropped is not None
    days_dropped = {c.partition.removeprefix("events_p") for c in dropped if c.partition.startswith("events_p")}
    # a day goes once it ended 30 days before now: 31 days ago (ended 30.5 days ago) and older
    assert {f"{now - timedelta(days=d):%Y%m%d}" for d in range(31, 42)} <= days_dropped
    assert all(day < f"{now - timedelta(days=30):%Y%m%d}" for day in days_dropped)
    assert sum(c.rows for c in dropped if c.partition.startswith("events_")) == 9  # the events of days 31..39
    assert not any(c.partition.startswith("channel_stats_minute") for c in dropped)
    assert scalar(dsn, "SELECT count(*) FROM events") == 31
    assert scalar(dsn, "SELECT count(*) FROM channel_stats_minute") == 1
    assert scalar(dsn, "SELECT to_regclass('events_archive_2020') IS NOT NULL")


def test_upkeep_skips_a_round_another_process_is_doing(dsn: str) -> None:
    with connect(dsn) as holder, connect(dsn) as conn:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (UPKEEP_LOCK_KEY,))
            assert ensure_partitions(conn, datetime(2031, 1, 1, tzinfo=UTC)) is None
            cur.execute("SELECT pg_advisory_unlock(%s)", (UPKEEP_LOCK_KEY,))
        assert ensure_partitions(conn, datetime(2031, 1, 1, tzinfo=UTC))


def test_upkeep_gives_way_to_a_long_report_instead_of_queueing(dsn: str) -> None:
    with connect(dsn) as report, connect(dsn) as conn:
        report.autocommit = False
        with report.cursor() as cur:
            cur.execute("SELECT count(*) FROM events")  # the report's open transaction holds the table
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            ensure_partitions(conn, datetime(2032, 1, 1, tzinfo=UTC), lock_timeout_s=0.2)
        report.rollback()
    assert scalar(dsn, "SELECT to_regclass('events_p20320101') IS NULL")
