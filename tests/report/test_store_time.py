"""Store-local time across DST changes, against a real PostgreSQL: the report and `channel_hours` bucket by the
store's wall-clock hours, so a spring-forward day has 23 of them, a fall-back day 25 (the repeated hour twice,
one per UTC offset), and a zone without DST always 24. Each absolute hour of the day holds a known number of
crossings, so an hour merged, lost or shifted changes a count."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from psycopg2.extras import execute_values

from footfall_worker.storage.migrations import migrate
from tests.report.conftest import footfall_report
from tests.support.postgres import PostgresCluster, connect

# (store, zone, day, hours in the day, the local wall-clock hour that repeats or is skipped)
DAYS = [
    ("berlin_spring", "Europe/Berlin", date(2026, 3, 29), 23, "02:00 skipped"),
    ("berlin_autumn", "Europe/Berlin", date(2026, 10, 25), 25, "02:00 twice"),
    ("new_york_spring", "America/New_York", date(2026, 3, 8), 23, "02:00 skipped"),
    ("new_york_autumn", "America/New_York", date(2026, 11, 1), 25, "01:00 twice"),
    ("ho_chi_minh", "Asia/Ho_Chi_Minh", date(2026, 3, 29), 24, "none"),
    # a store seen on a day, the day before and the same weekday a week before: its day line compares them
    ("week", "Asia/Ho_Chi_Minh", date(2026, 3, 20), 24, "none"),
    ("week", "Asia/Ho_Chi_Minh", date(2026, 3, 26), 24, "none"),
    ("week", "Asia/Ho_Chi_Minh", date(2026, 3, 27), 24, "none"),
]


def crossings_in(k: int) -> int:
    """Entries in the k-th absolute hour of a day: 1, 2, 3, 1, 2, 3, ...; a shifted or merged hour is caught."""
    return k % 3 + 1


def day_bounds(zone: str, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return datetime.combine(day, time(), tz).astimezone(UTC), datetime.combine(day + timedelta(1), time(), tz)


@pytest.fixture(scope="module")
def dst_dsn(report_cluster: PostgresCluster) -> str:
    """One store per row of DAYS, its one entrance camera seeing every minute of its day."""
    dsn = report_cluster.create_database("store_time")
    migrate(dsn)
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            for store, zone, day, _, _ in DAYS:
                channel, run = f"{store}_door", str(uuid.uuid4())
                start, end = day_bounds(zone, day)
                cur.execute(
                    "INSERT INTO channels (id, store_id, name, source_masked, timezone)"
                    " VALUES (%s, %s, 'door', 'x', %s) ON CONFLICT DO NOTHING",
                    (channel, store, zone),
                )
                cur.execute("INSERT INTO runs (id, channel_id, started_at) VALUES (%s, %s, %s)", (run, channel, start))
                hours = int((end - start).total_seconds() // 3600)
                events = [
                    (str(uuid.uuid4()), run, channel, start + timedelta(hours=k, minutes=10 * (i + 1)), "line_crossing")
                    + (i + 1, json.dumps({"line": "door", "direction": "in", "gender": None}))
                    for k in range(hours)
                    for i in range(crossings_in(k))
                ]
                execute_values(
                    cur,
                    "INSERT INTO events (id, run_id, channel_id, t, kind, track_id, payload) VALUES %s",
                    events,
                    template="(%s, %s, %s, %s, %s, %s, %s::jsonb)",
                )
                per_minute: dict[datetime, int] = {}
                for _, _, _, t, *_ in events:
                    per_minute[t.replace(second=0)] = per_minute.get(t.replace(second=0), 0) + 1
                minutes = [
                    (channel, minute, n := per_minute.get(minute, 0), n, run, 60.0)
                    for minute in (start + timedelta(minutes=m) for m in range(hours * 60))
                ]
                execute_values(
                    cur,
                    "INSERT INTO channel_stats_minute (channel_id, minute, people_count, unique_tracks, fps,"
                    " occupancy_avg, occupancy_max, entries, entries_unknown, run_id, covered_s) VALUES %s",
                    minutes,
                    template="(%s, %s, 0, 0, 10.0, 0, 0, %s, %s, %s, %s)",
                )
            insert_partner_store(cur)
        conn.commit()
    finally:
        conn.close()
    return dsn


PARTNERS = ("partner_store", "door_outside", "door_inside")  # two cameras on one door, in Berlin
PARTNER_DAY = date(2026, 10, 25)


def insert_partner_store(cur: psycopg2.extensions.cursor) -> None:
    """Two people in through the door, each seen by both cameras (one second apart); one of them out, seen by
    both; the other out, seen by the inside camera only; then one more exit while nobody is counted inside."""
    store, outside, inside = PARTNERS
    tz = ZoneInfo("Europe/Berlin")
    run = str(uuid.uuid4())
    partner = {"analytics": {"partner": {"channel": outside, "window_s": 2.0}}}
    for channel, config in ((outside, {}), (inside, partner)):
        cur.execute(
            "INSERT INTO channels (id, store_id, name, source_masked, config, timezone, opening_hours)"
            " VALUES (%s, %s, 'door', 'x', %s, 'Europe/Berlin', '{\"open\": \"09:00\", \"close\": \"20:00\"}')",
            (channel, store, json.dumps(config)),
        )
    cur.execute("INSERT INTO runs (id, channel_id, started_at) VALUES (%s, %s, %s)", (run, outside, start_of(tz)))
    moves = [(10, outside, "in"), (11, inside, "in"), (60, outside, "in"), (61.5, inside, "in")]
    moves += [(600, inside, "out"), (600.5, outside, "out"), (3600, inside, "out"), (4000, inside, "out")]
    execute_values(
        cur,
        "INSERT INTO events (id, run_id, channel_id, t, kind, track_id, payload) VALUES %s",
        [
            (str(uuid.uuid4()), run, channel, start_of(tz) + timedelta(seconds=s), "line_crossing", i)
            + (json.dumps({"line": "door", "direction": direction, "gender": None}),)
            for i, (s, channel, direction) in enumerate(moves)
        ],
        template="(%s, %s, %s, %s, %s, %s, %s::jsonb)",
    )


def start_of(tz: ZoneInfo) -> datetime:
    return datetime.combine(PARTNER_DAY, time(10), tz)


def expected_hours(zone: str, day: date) -> list[tuple[str, int]]:
    """(local hour start with its offset, entries) for every absolute hour of the local day."""
    start, end = day_bounds(zone, day)
    hours = int((end - start).total_seconds() // 3600)
    tz = ZoneInfo(zone)
    return [((start + timedelta(hours=k)).astimezone(tz).isoformat(), crossings_in(k)) for k in range(hours)]


@pytest.mark.parametrize(("store", "zone", "day", "hours", "change"), DAYS, ids=[f"{d[0]}-{d[2]}" for d in DAYS])
def test_the_report_has_every_local_hour_of_a_dst_day_once(
    dst_dsn: str, tmp_path_factory: pytest.TempPathFactory, store: str, zone: str, day: date, hours: int, change: str
) -> None:
    report = footfall_report(
        dst_dsn, tmp_path_factory.mktemp(store), "--store", store, "--from", day.isoformat(), "--to", day.isoformat()
    )
    assert report.completed.returncode == 0, report.completed.stderr
    rows = report.csv("hourly_footfall.csv")
    assert [(r["hour_start"], int(r["in"])) for r in rows] == expected_hours(zone, day)
    assert len(rows) == hours
    assert {(r["coverage"], r["status"]) for r in rows} == {("1.0000", "full")}
    wall_clock = [r["hour_start"][11:16] for r in rows]
    if change.endswith("twice"):
        assert wall_clock.count(change[:5]) == 2 and len(set(wall_clock)) == 24
    elif change.endswith("skipped"):
        assert change[:5] not in wall_clock and len(set(wall_clock)) == 23
    else:
        assert wall_clock == [f"{h:02d}:00" for h in range(24)]
    (summary,) = [r for r in report.csv("summary_footfall.csv") if r["scope"] == "channel"]
    assert int(summary["in"]) == sum(n for _, n in expected_hours(zone, day))
    assert summary["coverage"] == "1.0000"  # the day's own length, 23 or 25 hours, is its whole


@pytest.mark.parametrize(("store", "zone", "day", "hours", "change"), DAYS, ids=[f"{d[0]}-{d[2]}" for d in DAYS])
def test_channel_hours_view_buckets_by_the_stores_zone(
    dst_dsn: str, store: str, zone: str, day: date, hours: int, change: str
) -> None:
    start, end = day_bounds(zone, day)
    with connect(dst_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT hour, local_hour, entries, coverage FROM channel_hours WHERE store_id = %s AND hour >= %s"
            " AND hour < %s ORDER BY hour",
            (store, start, end),
        )
        rows = cur.fetchall()
    assert [(hour.astimezone(ZoneInfo(zone)).isoformat(), entries) for hour, _, entries, _ in rows] == expected_hours(
        zone, day
    )
    assert all(coverage == 1.0 for *_, coverage in rows)
    assert [local.hour for _, local, _, _ in rows] == [h.astimezone(ZoneInfo(zone)).hour for h, *_ in rows]


def test_partner_cameras_count_a_person_once_in_the_store_and_corrections_are_kept(
    dst_dsn: str, tmp_path: Path
) -> None:
    store, outside, inside = PARTNERS
    day = PARTNER_DAY.isoformat()
    report = footfall_report(dst_dsn, tmp_path, "--store", store, "--from", day, "--to", day)
    assert report.completed.returncode == 0, report.completed.stderr
    totals = {(r["scope"], r["channel_id"]): (r["in"], r["out"]) for r in report.csv("summary_footfall.csv")}
    # each camera keeps its own counts; the store counts the two people once, and the one exit seen twice once
    assert totals == {("channel", inside): ("2", "3"), ("channel", outside): ("2", "1"), ("store", ""): ("2", "3")}
    (days,) = report.csv("occupancy_days.csv")
    assert (days["entries"], days["exits"], days["partner_duplicates"], days["exits_clamped"]) == ("2", "3", "3", "1")
    assert (days["residual_at_close"], days["peak_inside"]) == ("0", "2")
    timeline = [int(row["people_inside"]) for row in report.csv("store_occupancy.csv")]
    assert timeline == [0, 1, 2, 1, 0]  # never below zero: the clamped exit is not on it
    assert f"{inside} and {outside} counted once" in report.html


def test_a_day_is_compared_with_the_day_before_and_the_same_weekday_a_week_before(dst_dsn: str, tmp_path: Path) -> None:
    report = footfall_report(dst_dsn, tmp_path, "--store", "week", "--from", "2026-03-27", "--to", "2026-03-27")
    assert report.completed.returncode == 0, report.completed.stderr
    # 48 entries a day (1, 2, 3, ... an hour); every hour the first of them, at 10 past
    line = "Friday 27 Mar: 48 visitors, busiest 02:00-03:00 (3); vs Thu: +0%, vs last Fri: +0%"
    assert report.completed.stdout.splitlines()[0] == line
    (day,) = report.csv("daily_summary.csv")
    assert (day["previous_day_visitors"], day["previous_week_visitors"], day["coverage"]) == ("48", "48", "1.0000")
    report = footfall_report(dst_dsn, tmp_path / "thu", "--store", "week", "--from", "2026-03-26", "--to", "2026-03-26")
    assert report.completed.stdout.splitlines()[0].endswith("(3)")  # nothing the day before or a week before
