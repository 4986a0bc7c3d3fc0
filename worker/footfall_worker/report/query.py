"""The store report's numbers: SQL in, plain dataclasses out. Counts and durations only, never pixels or boxes.

Every query is bounded by the report window [start, end) in absolute time and by the store's channels.
Hours are the store's wall-clock hours, computed by PostgreSQL (`date_trunc('hour', t, tz)`): each is the
instant its local hour starts, so a spring-forward day has 23 and a fall-back day 25, the repeated hour
twice (one bucket per offset).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2.extensions

GENDERS = ("female", "male", "unknown")
OCCUPANCY_BUCKET_S = 300  # 5-minute buckets: the mean of the minute averages, the max of the minute maxima
HOUR_S = 3600.0  # every zone in use changes its offset on a whole hour: each local hour lasts an hour
# An hour the channel saw less of is shown as partial (greyed): its counts are a lower bound. The chart's
# FootfallCoverageLow alert defaults to the same fraction.
MIN_COVERAGE = 0.9
QUARTER_S = 900  # the step of the quarter-hour rollups (channel_stats_quarter, migration 0010)
# A crossing's track, for its final gender and staff tag. A crossing's track began at most a day before it (and
# not after it: a minute's slack for the wall clock), so each crossing looks its track up in one or two of the
# tracks' day partitions, by key; the period's bounds name the partitions to the planner, and the channels are
# named to the tracks too (the planner does not carry the crossings' `channel_id = ANY(...)` across the join).
# Without these, one store's 30 days over the scale bench's chain read a month of tracks (579-857 ms unpartitioned;
# 180 ms partitioned, probing every day's partition per crossing; 51 ms with the per-crossing bound).
# `CROSSING_TRACK` is bounded by the query's %(start)s, %(end)s and %(channels)s.


def quarter_aligned(t: datetime) -> bool:
    """Whether `t` starts a quarter hour (every zone's hours do, so local hours are whole quarters)."""
    return t.timestamp() % QUARTER_S == 0


def crossing_track(start: str, end: str) -> str:
    """The join of crossings `e` with their tracks `tr`, bounded by the SQL expressions `start` and `end` and the
    query's %(channels)s."""
    return f"""LEFT JOIN tracks tr ON tr.run_id = e.run_id AND tr.track_id = e.track_id
    AND tr.channel_id = e.channel_id AND tr.channel_id = ANY(%(channels)s)
    AND tr.first_seen >= {start} - interval '1 day' AND tr.first_seen < {end}
    AND tr.first_seen >= e.t - interval '1 day' AND tr.first_seen <= e.t + interval '1 minute'"""


CROSSING_TRACK = crossing_track("%(start)s", "%(end)s")
# A crossing is staff's when its track was finally tagged staff, or (no track row) when it was known at crossing;
# never NULL (a crossing of a worker before staff zones has no `staff` and is a customer's).
STAFF_CROSSING = "(tr.staff IS TRUE OR (e.payload->'staff' = 'true'::jsonb) IS TRUE)"


class ReportInputError(ValueError):
    """Bad input the user can fix (unknown store, empty window, bad flag): exit code 2, the message says why."""


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"  # the store's IANA zone as the channel's worker recorded it
    opening_hours: dict[str, str] | None = None  # the store's {"open", "close"} as recorded, if configured


@dataclass(frozen=True, slots=True)
class Window:
    """The report period: [start, end) as aware datetimes, shown in `timezone`."""

    start: datetime
    end: datetime
    timezone: ZoneInfo
    timezone_source: str  # where the time zone came from, said in the report header

    def local(self, t: datetime) -> datetime:
        return t.astimezone(self.timezone)


@dataclass(frozen=True, slots=True)
class HourlyCount:
    """Line crossings of one entrance channel in one local hour (every hour of the window), with the seconds of
    it the channel saw. An hour it did not see at all has unknown counts, never zero visitors (`seen`)."""

    start: datetime  # the instant the local hour starts, in UTC: the key (the repeated autumn hour is two)
    hour: datetime  # the same instant on the report's wall clock (aware; fold set in the repeated hour)
    channel_id: str
    entries: int
    exits: int
    covered_s: float  # seconds the channel processed frames in the hour (`channel_minutes.covered_s`)
    entries_staff: int = 0  # of the entries and exits, those of staff (`analytics/staff.py`)
    exits_staff: int = 0

    @property
    def customers(self) -> int:
        """Entries that were not staff."""
        return self.entries - self.entries_staff

    @property
    def coverage(self) -> float:
        return min(1.0, self.covered_s / HOUR_S)

    @property
    def seen(self) -> bool:
        """Anything of the hour was processed (crossings without coverage: rows of an older worker)."""
        return self.covered_s > 0 or self.entries > 0 or self.exits > 0

    @property
    def partial(self) -> bool:
        """Seen, but less than MIN_COVERAGE of it: the counts are a lower bound."""
        return self.seen and self.coverage < MIN_COVERAGE


@dataclass(frozen=True, slots=True)
class OccupancyBucket:
    """People in view of one camera over a 5-minute bucket, from `channel_minutes` (the runs of a minute added up)."""

    start: datetime  # local, aware
    channel_id: str
    occupancy_avg: float  # mean of the minutes' occupancy_avg
    occupancy_max: int  # max of the minutes' occupancy_max
    minutes: int  # minutes with a row (fewer than 5: the worker was down part of the bucket)


@dataclass(frozen=True, slots=True)
class ZoneDwells:
    """Every completed visit (zone_exit) of one zone: its dwell in seconds."""

    channel_id: str
    zone: str
    dwell_s: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class GenderCount:
    """Entries (line_crossing "in") of one channel with one final gender.

    `from_crossing` of them had no `tracks` row, so the gender known at crossing time was used (null = unknown).
    """

    channel_id: str
    gender: str
    entries: int
    from_crossing: int


def known_stores(conn: psycopg2.extensions.connection) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT store_id FROM channels ORDER BY store_id")
        return [row[0] for row in cur.fetchall()]


def store_channels(conn: psycopg2.extensions.connection, store_id: str) -> list[Channel]:
    """The store's channels, by id; empty when the store is unknown."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, name, config, timezone, opening_hours FROM channels WHERE store_id = %s ORDER BY id",
            (store_id,),
        )
        return [
            Channel(id_, name, config if isinstance(config, dict) else {}, timezone, hours)
            for id_, name, config, timezone, hours in cur.fetchall()
        ]


def stored_timezones(channels: Sequence[Channel]) -> list[str]:
    """The distinct time zones the store's workers recorded with its channels."""
    return sorted({c.timezone for c in channels})


def local_hours(conn: psycopg2.extensions.connection, window: Window) -> list[datetime]:
    """The start of every local wall-clock hour the window touches, as UTC instants, by the same date_trunc
    that buckets the rows (15-minute steps: every zone's offset is a whole quarter hour)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT DISTINCT date_trunc('hour', g, %(tz)s)
            FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond',
                                 interval '15 minutes') g
            ORDER BY 1
            """,
            {"tz": window.timezone.key, "start": window.start, "end": window.end},
        )
        return [hour.astimezone(UTC) for (hour,) in cur.fetchall()]


def hourly_coverage(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window
) -> dict[tuple[datetime, str], float]:
    """Seconds each channel saw in each local hour of the window (absent: none)."""
    # Every zone's hours are whole quarter hours: a window starting and ending on quarters reads the quarter
    # rollups (4 rows a channel and hour), any other the minutes (60).
    aligned = quarter_aligned(window.start) and quarter_aligned(window.end)
    table, column = ("channel_stats_quarter", "quarter") if aligned else ("channel_minutes", "minute")
    with conn.cursor() as cur:
        cur.execute(
            f"""
            SELECT date_trunc('hour', {column}, %(tz)s), channel_id, sum(covered_s)
            FROM {table}
            WHERE channel_id = ANY(%(channels)s) AND {column} >= %(start)s AND {column} < %(end)s
            GROUP BY 1, 2
            """,
            {"tz": window.timezone.key, "channels": list(channel_ids), "start": window.start, "end": window.end},
        )
        return {(hour.astimezone(UTC), channel): float(seconds) for hour, channel, seconds in cur.fetchall()}


def hourly_crossings(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window
) -> tuple[list[str], list[HourlyCount]]:
    """Entries and exits per local hour for each channel of `channel_ids` that has line crossings in the window,
    with the seconds of each hour the channel saw.

    Returns:
        The entrance channels (those with crossings), and a row for every (hour, entrance).
    """
    with conn.cursor() as cur:
        cur.execute(
            f"""
            SELECT e.channel_id, date_trunc('hour', e.t, %(tz)s) AS local_hour,
                   count(*) FILTER (WHERE e.payload->>'direction' = 'in'),
                   count(*) FILTER (WHERE e.payload->>'direction' = 'out'),
                   count(*) FILTER (WHERE e.payload->>'direction' = 'in' AND {STAFF_CROSSING}),
                   count(*) FILTER (WHERE e.payload->>'direction' = 'out' AND {STAFF_CROSSING})
            FROM events e
            {CROSSING_TRACK}
            WHERE e.kind = 'line_crossing' AND e.channel_id = ANY(%(channels)s) AND e.t >= %(start)s
              AND e.t < %(end)s
            GROUP BY 1, 2
            """,
            {"tz": window.timezone.key, "channels": list(channel_ids), "start": window.start, "end": window.end},
        )
        found = {(channel, hour.astimezone(UTC)): tuple(int(n) for n in counts) for channel, hour, *counts in cur}
    entrances = sorted({channel for channel, _ in found})
    covered = hourly_coverage(conn, entrances, window)
    rows = [
        HourlyCount(
            hour,
            window.local(hour),
            channel,
            *found.get((channel, hour), (0, 0))[:2],
            covered.get((hour, channel), 0.0),
            *found.get((channel, hour), (0, 0, 0, 0))[2:],
        )
        for hour in local_hours(conn, window)
        for channel in entrances
    ]
    return entrances, rows


def occupancy(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window
) -> list[OccupancyBucket]:
    """5-minute occupancy buckets per channel; a bucket without any minute row is absent (unknown, not zero)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT channel_id, to_timestamp(floor(extract(epoch FROM minute) / %(bucket)s) * %(bucket)s) AS bucket,
                   avg(occupancy_avg), max(occupancy_max), count(*)
            FROM channel_minutes
            WHERE channel_id = ANY(%(channels)s) AND minute >= %(start)s AND minute < %(end)s
            GROUP BY 1, 2
            ORDER BY 2, 1
            """,
            {"bucket": OCCUPANCY_BUCKET_S, "channels": list(channel_ids), "start": window.start, "end": window.end},
        )
        return [
            OccupancyBucket(window.local(bucket), channel, float(avg), int(peak), int(minutes))
            for channel, bucket, avg, peak, minutes in cur.fetchall()
        ]


def zone_dwells(conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window) -> list[ZoneDwells]:
    """Dwell seconds of every zone_exit in the window, per (channel, zone); exits without a numeric dwell_s are
    skipped (a zone_exit always carries one by contract)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT channel_id, COALESCE(payload->>'zone', '(no zone)'), (payload->>'dwell_s')::float8
            FROM events
            WHERE kind = 'zone_exit' AND channel_id = ANY(%(channels)s) AND t >= %(start)s AND t < %(end)s
              AND jsonb_typeof(payload->'dwell_s') = 'number'
            ORDER BY 1, 2, t
            """,
            {"channels": list(channel_ids), "start": window.start, "end": window.end},
        )
        grouped: dict[tuple[str, str], list[float]] = {}
        for channel, zone, dwell in cur.fetchall():
            grouped.setdefault((channel, zone), []).append(float(dwell))
    return [ZoneDwells(channel, zone, tuple(values)) for (channel, zone), values in sorted(grouped.items())]


def entry_genders(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window
) -> list[GenderCount]:
    """Customers' entries (staff's left out) per channel and final gender: `tracks.gender` of the crossing's
    (run_id, track_id) when the track is recorded (even when it is `unknown`: the final label wins), else the
    crossing's own gender, else unknown. Unknown stays its own category."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            SELECT e.channel_id,
                   CASE WHEN tr.gender IS NOT NULL THEN tr.gender
                        WHEN e.payload->>'gender' IN ('female', 'male') THEN e.payload->>'gender'
                        ELSE 'unknown' END AS gender,
                   count(*),
                   count(*) FILTER (WHERE tr.gender IS NULL)
            FROM events e
            {CROSSING_TRACK}
            WHERE e.kind = 'line_crossing' AND e.payload->>'direction' = 'in' AND NOT {STAFF_CROSSING}
              AND e.channel_id = ANY(%(channels)s) AND e.t >= %(start)s AND e.t < %(end)s
            GROUP BY 1, 2
            """,
            {"channels": list(channel_ids), "start": window.start, "end": window.end},
        )
        found = {(channel, gender): (int(n), int(fallback)) for channel, gender, n, fallback in cur.fetchall()}
    channels = sorted({channel for channel, _ in found})
    return [
        GenderCount(channel, gender, *found.get((channel, gender), (0, 0)))
        for channel in channels
        for gender in GENDERS
    ]
