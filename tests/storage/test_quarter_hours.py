"""The quarter-hour rollups (migration 0010) against a real PostgreSQL: whatever happens to the minute rows (new
runs in a minute, re-sent minutes growing or shrinking, seen seconds over a minute's 60 or unknown, rows deleted)
`channel_hours_between` gives what the minutes give through `channel_minutes`, the definition it replaced; and a
database filled before the migration is rolled up by it."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from footfall_worker.report.spans import seen_seconds
from footfall_worker.storage.migrations import apply_migrations, load_migrations
from footfall_worker.storage.records import ChannelRow, ChannelStatMinute, RunStart, new_run_id
from footfall_worker.storage.sql_mapping import execute_records
from tests.support.chain_history import generate
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

QUARTERS = 10  # the migration under test
# (start, end) seconds after the history's first minute: whole quarters, quarters and minutes, minutes alone
SPANS_S = [(0, 3600), (420, 4800), (600, 840), (3540, 3660), (-900, 120)]
# The hours of a span straight from the minutes (`channel_minutes`, what the rollups must equal): the oracle.
FROM_MINUTES = """
SELECT m.channel_id, c.store_id, c.timezone, date_trunc('hour', m.minute, c.timezone) AS hour,
       sum(m.entries), sum(m.exits), sum(m.entries_female), sum(m.entries_male), sum(m.entries_unknown),
       sum(m.people_count), round(sum(m.covered_s)::numeric, 2), count(*), sum(m.entries_staff), sum(m.exits_staff),
       sum(m.entries) - sum(m.entries_staff)
FROM channel_minutes m JOIN channels c ON c.id = m.channel_id
WHERE date_trunc('hour', m.minute, c.timezone) >= %(start)s AND date_trunc('hour', m.minute, c.timezone) < %(end)s
GROUP BY 1, 2, 3, 4
"""
FROM_QUARTERS = """
SELECT channel_id, store_id, timezone, hour, entries, exits, entries_female, entries_male, entries_unknown,
       people_count, round(covered_s::numeric, 2), minutes, entries_staff, exits_staff, customers
FROM channel_hours_between(%(start)s, %(end)s)
"""


def migrate_to(dsn: str, version: int) -> None:
    with connect(dsn) as conn:
        apply_migrations(conn, [m for m in load_migrations() if m.version <= version])


def hours(dsn: str, sql: str, start: datetime, end: datetime) -> list[tuple]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, {"start": start, "end": end})
        return sorted(tuple(float(v) if hasattr(v, "as_integer_ratio") else v for v in row) for row in cur.fetchall())


def assert_quarters_agree(dsn: str, start: datetime, end: datetime) -> None:
    want = hours(dsn, FROM_MINUTES, start, end)
    assert want, "the span should hold minutes"
    assert hours(dsn, FROM_QUARTERS, start, end) == want


def test_a_database_filled_before_the_migration_is_rolled_up(pg_cluster: PostgresCluster) -> None:  # noqa: F811
    dsn = pg_cluster.create_database("q")
    migrate_to(dsn, QUARTERS - 1)
    generate(dsn, stores=3, channels=2, days=2, last_day=date(2026, 10, 25))  # Europe/Berlin's 25-hour day
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("UPDATE channels SET timezone = 'Asia/Kolkata' WHERE store_id = 'store_001'")  # :30 hours
    migrate_to(dsn, QUARTERS)
    assert_quarters_agree(dsn, datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))


def test_every_change_to_the_minutes_reaches_the_quarters(pg_cluster: PostgresCluster) -> None:  # noqa: F811
    dsn = pg_cluster.create_database("q")
    migrate_to(dsn, QUARTERS)
    rng = random.Random(7)
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp()
    runs = [new_run_id() for _ in range(3)]
    with connect(dsn) as conn:
        with conn.cursor() as cur:
            setup = [ChannelRow(f"ch{i}", "s", f"ch{i}", "rtsp://192.0.2.1/x", {}) for i in range(2)]
            execute_records(cur, "ch0", [*setup, *(RunStart(run, t0) for run in runs)])
        conn.commit()
        for step in range(400):
            channel, run = f"ch{rng.randrange(2)}", rng.choice(runs)
            minute = t0 + 60 * rng.randrange(150)  # two and a half hours: quarters and hours both cut
            with conn.cursor() as cur:
                if step % 7 == 3:  # two runs' share of one minute in one batch (a restart, replayed together)
                    shares = [
                        ChannelStatMinute(minute, 2, 1, 15.0, 1.0, 2, 1, 1, 1, 0, 0, run_id=r, covered_s=40.0)
                        for r in runs[:2]
                    ]
                    execute_records(cur, channel, shares)
                elif step % 9 == 8:  # a minute row gone (deleted by hand, or retention of a partition's rows)
                    cur.execute(
                        "DELETE FROM channel_stats_minute WHERE channel_id = %s AND minute = to_timestamp(%s)",
                        (channel, minute),
                    )
                else:  # a run's minute, new or re-sent with other values (it may shrink, too)
                    entries = rng.randrange(5)
                    covered = rng.choice([None, 0.0, 12.5, 45.0, 60.0])  # two runs may add past the minute's 60
                    row = ChannelStatMinute(
                        minute, rng.randrange(9), 1, 15.0, 1.0, 2, entries, rng.randrange(5), entries, 0, 0,
                        run_id=run, covered_s=covered, entries_staff=rng.randrange(entries + 1),
                    )  # fmt: skip
                    execute_records(cur, channel, [row])
            conn.commit()
    assert_quarters_agree(dsn, datetime(2026, 12, 1, 8, tzinfo=UTC), datetime(2026, 12, 1, 12, tzinfo=UTC))
    # a span that starts and ends inside hours in some zone, and the view over every hour
    assert_quarters_agree(dsn, datetime(2026, 12, 1, 9, 30, tzinfo=UTC), datetime(2026, 12, 1, 10, 30, tzinfo=UTC))
    # a report's spans, aligned on quarters or not, read from quarters and minutes: what the minutes alone give
    spans = [(datetime.fromtimestamp(t0 + a, UTC), datetime.fromtimestamp(t0 + b, UTC)) for a, b in SPANS_S]
    with connect(dsn) as conn, conn.cursor() as cur:
        got = seen_seconds(conn, ["ch0", "ch1"], spans, ZoneInfo("Asia/Kolkata"))
        for (start, end), found in zip(spans, got, strict=True):
            cur.execute(
                "SELECT channel_id, sum(covered_s) FROM channel_minutes WHERE minute >= %s AND minute < %s GROUP BY 1",
                (start, end),
            )
            want = dict(cur.fetchall())
            assert found == pytest.approx(want), (start, end)
    all_hours = hours(dsn, "SELECT * FROM channel_hours", datetime.min, datetime.max)
    assert len(all_hours) == len(
        hours(dsn, FROM_MINUTES, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    )


@pytest.mark.parametrize("gone", ["rows", "minute"])
def test_a_minute_emptied_leaves_no_hour_behind(pg_cluster: PostgresCluster, gone: str) -> None:  # noqa: F811
    dsn = pg_cluster.create_database("q")
    migrate_to(dsn, QUARTERS)
    t0 = datetime(2026, 12, 2, 10, tzinfo=UTC).timestamp()
    run = new_run_id()
    with connect(dsn) as conn:
        with conn.cursor() as cur:
            execute_records(cur, "ch", [ChannelRow("ch", "s", "ch", "rtsp://192.0.2.1/x", {}), RunStart(run, t0)])
            execute_records(cur, "ch", [ChannelStatMinute(t0, 3, 1, 15.0, 1.0, 2, 2, 1, 2, 0, 0, run_id=run)])
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("DELETE FROM channel_stats_minute")
        conn.commit()
    start = datetime(2026, 12, 2, tzinfo=UTC)
    assert hours(dsn, FROM_QUARTERS, start, start + timedelta(days=1)) == []
