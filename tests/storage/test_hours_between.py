"""`channel_hours_between(start, end)` (migration 0010) against a real PostgreSQL: exactly the `channel_hours` rows
of the hours starting in [start, end), for stores east and west of UTC and one a half hour off it, over a DST
change; and `channel_hours` itself still every hour."""

from datetime import UTC, date, datetime, timedelta

import pytest

from footfall_worker.storage.migrations import migrate
from tests.support.chain_history import generate
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

LAST_DAY = date(2026, 10, 25)  # Europe/Berlin falls back: its 25-hour day


@pytest.fixture(scope="module")
def dsn(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    dsn = pg_cluster.create_database("hours")
    migrate(dsn)
    generate(dsn, stores=5, channels=2, days=2, last_day=LAST_DAY)
    with connect(dsn) as conn, conn.cursor() as cur:
        # a store half an hour off UTC: its hours start at :30 in absolute time
        cur.execute("UPDATE channels SET timezone = 'Asia/Kolkata' WHERE store_id = 'store_001'")
    return dsn


def rows(dsn: str, sql: str, *params: object) -> list[tuple]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return sorted(cur.fetchall())


@pytest.mark.parametrize(
    ("start", "hours"),
    [
        (datetime(2026, 10, 25, 0, tzinfo=UTC), 24),
        (datetime(2026, 10, 25, 4, 30, tzinfo=UTC), 3),  # starts where Kolkata's hours do (its store open)
        (datetime(2026, 10, 24, 17, 15, tzinfo=UTC), 1),  # a bound inside every zone's hour
    ],
)
def test_the_same_rows_as_the_view_for_the_hours_in_the_span(dsn: str, start: datetime, hours: int) -> None:
    end = start + timedelta(hours=hours)
    want = rows(dsn, "SELECT * FROM channel_hours WHERE hour >= %s AND hour < %s", start, end)
    assert want, "the span should hold hours of the generated history"
    assert rows(dsn, "SELECT * FROM channel_hours_between(%s, %s)", start, end) == want
    if start.minute == 30:
        assert any(row[2] == "Asia/Kolkata" for row in want)


def test_the_view_still_holds_every_hour_with_every_minute(dsn: str) -> None:
    ((minutes, entries),) = rows(dsn, "SELECT count(*), sum(entries) FROM channel_minutes")
    ((hour_minutes, hour_entries),) = rows(dsn, "SELECT sum(minutes), sum(entries) FROM channel_hours")
    assert (hour_minutes, hour_entries) == (minutes, entries) and minutes > 0
