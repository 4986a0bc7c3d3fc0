"""The chain generator the scale bench fills PostgreSQL with: its rows are what workers would write (rollups that
agree with the events, everyone who came in going out, customers inside the opening hours in the store's zone,
staff apart), its mix is the one it promises, the same seed gives the same rows, and the report reads them."""

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2.extensions
import pytest

from footfall_worker.storage import pg_wait
from footfall_worker.storage.migrations import migrate
from tests.report.conftest import footfall_report
from tests.support.chain_history import generate, stores_of
from tests.support.postgres import PostgresCluster, connect, pg_cluster  # noqa: F401 - pg_cluster is a fixture

LAST_DAY = date(2026, 3, 29)  # Europe/Berlin springs forward that day (store_004)
STORES, CHANNELS, DAYS = 5, 3, 2


@pytest.fixture(scope="module")
def chain(pg_cluster: PostgresCluster) -> str:  # noqa: F811
    dsn = pg_cluster.create_database("chain")
    migrate(dsn)
    pg_wait.install()  # as a writer in the same process leaves it: the generator must cope
    totals = generate(dsn, STORES, CHANNELS, DAYS, LAST_DAY)
    assert psycopg2.extensions.get_wait_callback() is pg_wait._wait  # and put it back
    assert (totals.stores, totals.channels) == (STORES, STORES * CHANNELS) and totals.events == totals.tracks > 0
    return dsn


def rows(dsn: str, sql: str, *params: object) -> list[tuple]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_customers_cross_inside_the_opening_hours_and_everyone_leaves(chain: str) -> None:
    for store, channels, zone, (opens, closes), _ in stores_of(STORES, CHANNELS):
        tz = ZoneInfo(zone)
        crossings = rows(
            chain,
            "SELECT t, payload->>'direction', (payload->>'staff')::boolean FROM events"
            " WHERE kind = 'line_crossing' AND channel_id = ANY(%s)",
            channels,
        )
        assert crossings
        ins = sum(1 for _, direction, _ in crossings if direction == "in")
        assert ins == len(crossings) - ins  # everyone who came in went out
        for t, direction, staff in crossings:
            local = t.astimezone(tz)
            day_open = datetime.combine(local.date(), time.fromisoformat(opens), tz)
            day_close = datetime.combine(local.date(), time.fromisoformat(closes), tz)
            if staff:  # before opening in, after closing out
                assert (local < day_open) if direction == "in" else (local > day_close), (store, local, direction)
            elif direction == "in":
                assert day_open <= local < day_close, (store, local)
            else:
                assert day_open <= local <= day_close + timedelta(minutes=10), (store, local)


def test_the_rollups_agree_with_the_events(chain: str) -> None:
    by_events = dict(
        ((channel, staff), n)
        for channel, staff, n in rows(
            chain,
            "SELECT channel_id, (payload->>'staff')::boolean, count(*) FROM events"
            " WHERE kind = 'line_crossing' AND payload->>'direction' = 'in' GROUP BY 1, 2",
        )
    )
    by_minutes = rows(chain, "SELECT channel_id, sum(entries), sum(entries_staff) FROM channel_minutes GROUP BY 1")
    for channel, entries, staff in by_minutes:
        assert entries == by_events.get((channel, False), 0) + by_events.get((channel, True), 0), channel
        assert staff == by_events.get((channel, True), 0), channel
    # only the two entrance cameras of a store count crossings
    assert {channel.rsplit("_", 1)[1] for channel, _ in by_events} == {"1", "2"}


def test_the_gender_mix_is_the_promised_one(chain: str) -> None:
    ((female, male, unknown),) = rows(
        chain,
        "SELECT count(*) FILTER (WHERE tr.gender = 'female'), count(*) FILTER (WHERE tr.gender = 'male'),"
        " count(*) FILTER (WHERE tr.gender = 'unknown') FROM events e"
        " JOIN tracks tr ON tr.run_id = e.run_id AND tr.track_id = e.track_id"
        " WHERE e.kind = 'line_crossing' AND e.payload->>'direction' = 'in' AND NOT tr.staff",
    )
    total = female + male + unknown
    assert total > 1000
    assert 0.50 < female / total < 0.60 and 0.30 < male / total < 0.40 and 0.06 < unknown / total < 0.14


def test_the_same_seed_gives_the_same_rows(chain: str, pg_cluster: PostgresCluster) -> None:  # noqa: F811
    again = pg_cluster.create_database("chain_again")
    migrate(again)
    generate(again, STORES, CHANNELS, DAYS, LAST_DAY)
    query = "SELECT id, t, channel_id FROM events ORDER BY t, id LIMIT 50"
    assert rows(again, query) == rows(chain, query)
    assert rows(again, "SELECT count(*) FROM channel_stats_minute") == rows(
        chain, "SELECT count(*) FROM channel_stats_minute"
    )


def test_the_report_reads_a_generated_store_day(chain: str, tmp_path: Path) -> None:
    store, channels, _, _, _ = next(iter(stores_of(STORES, CHANNELS)))
    day = LAST_DAY.isoformat()
    report = footfall_report(chain, tmp_path, "--store", store, "--from", day, "--to", day)
    assert report.completed.returncode == 0, report.completed.stderr
    (line,) = report.csv("daily_summary.csv")
    ((customers,),) = rows(
        chain,
        "SELECT count(*) FROM events WHERE kind = 'line_crossing' AND payload->>'direction' = 'in'"
        " AND NOT (payload->>'staff')::boolean AND channel_id = ANY(%s)"
        " AND (t AT TIME ZONE 'Asia/Ho_Chi_Minh')::date = %s",
        channels,
        LAST_DAY,
    )
    assert int(line["visitors"]) == customers and line["coverage"] == "1.0000"
