"""Minute rollups per run: a restart within a minute adds its share instead of overwriting the earlier run's,
a replayed journal changes nothing, and the migration keeps the rows of a database filled by the old schema."""

from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest

from footfall_worker.storage.journal import Journal
from footfall_worker.storage.migrations import apply_migrations, load_migrations
from footfall_worker.storage.records import (
    ChannelRow,
    ChannelStatMinute,
    HeatmapHour,
    RunStart,
    TrackRow,
    encode_record,
    new_run_id,
)
from tests.storage.workload import CHANNEL, T0, make_writer
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

MINUTE = (int(T0) // 60) * 60


@pytest.fixture
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    return pg_cluster.create_database("m")


def minute_of_run(run_id: str, entries: int, exits: int, dwells: int, dwell_mean_s: float | None) -> ChannelStatMinute:
    return ChannelStatMinute(
        MINUTE + 5.0, entries, entries, 12.0, 1.5, 3, entries, exits, 0, 0, entries, dwells, dwell_mean_s, run_id
    )


def totals(dsn: str) -> tuple[object, ...] | None:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT entries, exits, entries_unknown, dwells, round(dwell_mean_s::numeric, 3), people_count, runs"
            " FROM channel_minutes WHERE channel_id = %s",
            (CHANNEL,),
        )
        return cur.fetchone()


def journal_of(directory: Path, records: list[object]) -> None:
    journal = Journal(directory)
    journal.append([encode_record(r) for r in records])  # type: ignore[arg-type]
    journal.close()


def test_a_restart_within_a_minute_adds_its_share_and_a_replay_changes_nothing(dsn: str, tmp_path: Path) -> None:
    first, second = new_run_id(), new_run_id()
    channel = ChannelRow(CHANNEL, "store_1", "door", "rtsp://192.0.2.10/x", {})
    writer = make_writer(dsn, tmp_path)
    writer.start()
    for record in (channel, RunStart(first, T0), minute_of_run(first, 3, 1, 2, 10.0)):
        writer.put(record)
    assert writer.close(5.0)

    # The restarted worker's share of the same minute, replayed twice from its journal (a crash after the
    # commit, before the segment was removed), plus its newer state of the minute.
    second_rows = [RunStart(second, T0 + 30), minute_of_run(second, 1, 0, 1, 40.0)]
    journal_of(tmp_path / "journal", second_rows)
    journal_of(tmp_path / "journal", second_rows)
    again = make_writer(dsn, tmp_path)
    again.start()
    again.put(minute_of_run(second, 2, 1, 1, 40.0))  # the minute grew: the run's newer share replaces its older
    assert again.close(5.0)
    # 3 + 2 entries, 1 + 1 exits, 2 + 1 dwells of mean (2*10 + 1*40)/3 = 20 s, two runs in the minute
    assert totals(dsn) == (5, 2, 5, 3, pytest.approx(20.0), 5, 2)

    replay = make_writer(dsn, tmp_path / "replay")
    journal_of(tmp_path / "replay" / "journal", [channel, *second_rows, minute_of_run(second, 2, 1, 1, 40.0)])
    replay.start()
    assert replay.close(5.0)
    assert totals(dsn) == (5, 2, 5, 3, pytest.approx(20.0), 5, 2)  # the same journal again: the same totals


def test_the_migration_keeps_the_minutes_of_a_database_filled_by_the_old_schema(dsn: str) -> None:
    migrations = load_migrations()
    before = [m for m in migrations if m.version < 5]
    with connect(dsn) as conn:
        apply_migrations(conn, before)
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO channels (id, store_id, name, source_masked) VALUES (%s, 's', 'n', 'x')", (CHANNEL,)
            )
            cur.execute(
                "INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps, occupancy_avg,"
                " occupancy_max, entries, exits, entries_female, entries_male, entries_unknown, dwells, dwell_mean_s)"
                " VALUES (%s, to_timestamp(%s), 4, 4, 12.0, 1.5, 3, 4, 2, 1, 1, 2, 1, 30.0)",
                (CHANNEL, MINUTE),
            )
        conn.commit()
        applied = apply_migrations(conn, migrations)
        assert [m.version for m in applied] == [m.version for m in migrations if m.version >= 5]
        with conn.cursor() as cur:
            cur.execute("SELECT run_id, entries FROM channel_stats_minute")
            assert cur.fetchall() == [("", 4)]
    assert totals(dsn) == (4, 2, 2, 1, pytest.approx(30.0), 4, 1)


def test_coverage_and_the_store_time_zone_reach_the_record_and_the_hourly_view(dsn: str, tmp_path: Path) -> None:
    first, second = new_run_id(), new_run_id()
    writer = make_writer(dsn, tmp_path)
    writer.start()
    hours = {"open": "09:00", "close": "21:00"}
    writer.put(ChannelRow(CHANNEL, "store_1", "door", "rtsp://192.0.2.10/x", {}, "America/New_York", hours))
    writer.put(RunStart(first, T0))
    # A restart in the minute: the runs saw 40 s and 35 s of it (at most the minute), the next minute 12.5 s.
    writer.put(replace(minute_of_run(first, 1, 0, 0, None), covered_s=40.0))
    writer.put(RunStart(second, T0 + 30))
    writer.put(replace(minute_of_run(second, 1, 0, 0, None), covered_s=35.0))
    writer.put(replace(minute_of_run(second, 0, 0, 0, None), minute=MINUTE + 65.0, covered_s=12.5))
    assert writer.close(5.0)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT minute, covered_s FROM channel_minutes WHERE channel_id = %s ORDER BY minute", (CHANNEL,))
        assert [float(c) for _, c in cur.fetchall()] == [60.0, 12.5]
        cur.execute("SELECT opening_hours FROM channels")
        assert cur.fetchall() == [(hours,)]
        cur.execute("SELECT timezone, hour, local_hour, covered_s, entries, minutes FROM channel_hours")
        ((timezone, hour, local_hour, covered_s, entries, minutes),) = cur.fetchall()
    assert timezone == "America/New_York" and local_hour == hour.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    assert (covered_s, entries, minutes) == (72.5, 2, 2) and local_hour.minute == 0


def test_the_coverage_migration_keeps_old_minutes_and_counts_them_whole(dsn: str) -> None:
    migrations = load_migrations()
    with connect(dsn) as conn:
        apply_migrations(conn, [m for m in migrations if m.version < 6])
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO channels (id, store_id, name, source_masked) VALUES (%s, 's', 'n', 'x')", (CHANNEL,)
            )
            cur.execute(
                "INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps, occupancy_avg,"
                " occupancy_max, entries, entries_unknown, run_id)"
                " VALUES (%s, to_timestamp(%s), 4, 4, 12.0, 1.5, 3, 4, 4, 'r')",
                (CHANNEL, MINUTE),
            )
        conn.commit()
        assert [m.version for m in apply_migrations(conn, migrations)] == [m.version for m in migrations][5:]
        with conn.cursor() as cur:
            cur.execute("SELECT covered_s FROM channel_stats_minute")
            assert cur.fetchall() == [(None,)]  # not measured: stays unknown in the table
            cur.execute("SELECT covered_s, entries FROM channel_minutes")
            assert cur.fetchall() == [(60.0, 4)]  # it had frames processed: counted whole in the view
            cur.execute("SELECT timezone FROM channels")
            assert cur.fetchall() == [("UTC",)]
            with pytest.raises(psycopg2.Error, match="Mars/Olympus"):
                cur.execute("UPDATE channels SET timezone = 'Mars/Olympus'")
        conn.rollback()
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute("""UPDATE channels SET opening_hours = '{"open": "8am", "close": "22:00"}'""")
        conn.rollback()


def test_staff_stays_staff_in_the_record_and_minutes_keep_their_staff_part(dsn: str, tmp_path: Path) -> None:
    run = new_run_id()
    writer = make_writer(dsn, tmp_path)
    writer.start()
    writer.put(ChannelRow(CHANNEL, "store_1", "door", "rtsp://192.0.2.10/x", {}))
    writer.put(RunStart(run, T0))
    writer.put(TrackRow(run, 7, T0, T0 + 1.0, 10, staff=True))
    writer.put(TrackRow(run, 7, T0, T0 + 2.0, 20))  # a later row that does not say so (a replayed older writer)
    writer.put(replace(minute_of_run(run, 3, 2, 0, None), entries_staff=1, exits_staff=2))
    assert writer.close(5.0)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT staff, frames FROM tracks")
        assert cur.fetchall() == [(True, 20)]
        cur.execute("SELECT entries, entries_staff, exits_staff, customers FROM channel_hours")
        assert cur.fetchall() == [(3, 1, 2, 2)]
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute("UPDATE channel_stats_minute SET entries_staff = entries + 1")


def test_an_hours_heatmap_is_replaced_as_it_grows_and_runs_add_up(dsn: str, tmp_path: Path) -> None:
    first, second = new_run_id(), new_run_id()
    hour = (int(T0) // 3600) * 3600
    writer = make_writer(dsn, tmp_path)
    writer.start()
    writer.put(ChannelRow(CHANNEL, "store_1", "door", "rtsp://192.0.2.10/x", {}))
    writer.put(HeatmapHour(hour + 10.0, first, 2, 2, [1, 0, 0, 2], 10))
    writer.put(HeatmapHour(hour + 70.0, first, 2, 2, [3, 0, 1, 2], 30))  # the same hour, grown: replaces
    writer.put(HeatmapHour(hour + 1800.0, second, 2, 2, [0, 5, 0, 0], 20))  # a restart: its own share
    assert writer.close(5.0)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, counts, frames FROM channel_heatmap_hour ORDER BY frames")
        assert cur.fetchall() == [(second, [0, 5, 0, 0], 20), (first, [3, 0, 1, 2], 30)]
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute("UPDATE channel_heatmap_hour SET counts = '{1, 2, 3}'")  # not cols x rows
