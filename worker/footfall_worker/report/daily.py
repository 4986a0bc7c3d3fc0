"""What a manager reads first: per local day a summary line ("Tue 06 May: 412 visitors, 58 % women, busiest
17:00-18:00 (61); vs Mon: +8 %, vs last Tue: -3 %; checkout (channel_3) down 40 min"), with the store's
per-hour gender split of customers beside its coverage.

Visitors are customers: entries over every entrance less staff's, less a partner camera's duplicates. Women's
share is of the customers whose gender was decided. A camera is down for the minutes of the store's opening
hours (the whole day without them) it did not see; five minutes or more are named. Comparisons are with the
same hours of the previous day and of the same weekday a week before; a day whose cameras saw less than
MIN_COVERAGE of its opening hours is no baseline: the line says how much they saw instead of a percentage.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg2.extensions

from footfall_contract.config.store_hours import OpeningHours
from footfall_worker.report import spans
from footfall_worker.report.query import CROSSING_TRACK, MIN_COVERAGE, STAFF_CROSSING, Channel, HourlyCount, Window
from footfall_worker.report.store_occupancy import duplicate_entries

DOWN_FROM_MIN = 5.0  # a camera unseen for less of a day is not named


@dataclass(frozen=True, slots=True)
class HourGenders:
    """The store's customers' entries in one local hour by final gender, and the least coverage of its
    entrances in that hour (the counts are a lower bound below 1)."""

    start: datetime  # UTC instant the local hour starts
    hour: datetime  # the same, local
    female: int
    male: int
    unknown: int
    coverage: float


@dataclass(frozen=True, slots=True)
class Down:
    channel_id: str
    name: str
    minutes: float


@dataclass(frozen=True, slots=True)
class DayLine:
    day: date
    visitors: int
    women_share: float | None  # of customers with a decided gender
    busiest: datetime | None  # local start of the hour with the most visitors
    busiest_visitors: int
    coverage: float  # least over the entrances, of the day's opening hours in the period
    previous_day: tuple[int, float] | None  # (visitors, coverage) of the day before, same hours
    previous_week: tuple[int, float] | None  # the same weekday a week before
    down: tuple[Down, ...]
    transactions: int | None = None  # the till's, over the hours it reported (None: no till data)
    till_customers: int = 0  # the customers of those same hours

    @property
    def conversion(self) -> float | None:
        if self.transactions is None or not self.till_customers:
            return None
        return self.transactions / self.till_customers

    @property
    def text(self) -> str:
        line = f"{self.day:%A %d %b}: {self.visitors} visitors"
        if self.coverage < MIN_COVERAGE:
            line += f" (cameras saw {self.coverage:.0%} of the opening hours: a lower bound)"
        if self.women_share is not None:
            line += f", {self.women_share:.0%} women"
        if self.conversion is not None:
            line += f", conversion {self.conversion:.0%}"
        if self.busiest is not None and self.busiest_visitors:
            line += (
                f", busiest {self.busiest:%H:%M}-{self.busiest + timedelta(hours=1):%H:%M} ({self.busiest_visitors})"
            )
        compared = [
            _versus(label, then, self.visitors)
            for label, then in (
                (f"{self.day - timedelta(days=1):%a}", self.previous_day),
                (f"last {self.day:%a}", self.previous_week),
            )
            if then is not None
        ]
        if compared:
            line += "; " + ", ".join(compared)
        if self.down:
            line += "; " + ", ".join(f"{d.name} ({d.channel_id}) down {d.minutes:.0f} min" for d in self.down)
        return line


def _versus(label: str, then: tuple[int, float], now: int) -> str:
    visitors, coverage = then
    if coverage < MIN_COVERAGE:  # a partly seen day is not a baseline
        return f"vs {label}: cameras saw {coverage:.0%}"
    if not visitors:
        return f"vs {label}: 0 visitors"
    return f"vs {label}: {(now - visitors) / visitors:+.0%}"


def hourly_genders(
    conn: psycopg2.extensions.connection, hourly: Sequence[HourlyCount], window: Window
) -> list[HourGenders]:
    """Every local hour of the period with its customers by final gender (store-wide) and its coverage."""
    entrances = sorted({h.channel_id for h in hourly})
    found: dict[datetime, dict[str, int]] = {}
    if entrances:
        with conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT date_trunc('hour', e.t, %(tz)s),
                       CASE WHEN tr.gender IS NOT NULL THEN tr.gender
                            WHEN e.payload->>'gender' IN ('female', 'male') THEN e.payload->>'gender'
                            ELSE 'unknown' END,
                       count(*)
                FROM events e
                {CROSSING_TRACK}
                WHERE e.kind = 'line_crossing' AND e.payload->>'direction' = 'in' AND NOT {STAFF_CROSSING}
                  AND e.channel_id = ANY(%(channels)s) AND e.t >= %(start)s AND e.t < %(end)s
                GROUP BY 1, 2
                """,
                {"tz": window.timezone.key, "channels": entrances, "start": window.start, "end": window.end},
            )
            for hour, gender, n in cur.fetchall():
                found.setdefault(hour.astimezone(UTC), {})[gender] = int(n)
    coverage: dict[datetime, float] = {}
    for h in hourly:
        coverage[h.start] = min(coverage.get(h.start, 1.0), h.coverage)
    starts = list(dict.fromkeys(h.start for h in hourly))
    return [
        HourGenders(
            start,
            window.local(start),
            *(found.get(start, {}).get(g, 0) for g in ("female", "male", "unknown")),
            coverage=coverage[start],
        )
        for start in starts
    ]


def _local_days(window: Window) -> list[Window]:
    """The period cut at local midnights, each piece a window of its own."""
    pieces = []
    start = window.start
    while start < window.end:
        local = window.local(start)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(), window.timezone)
        end = min(window.end, midnight.astimezone(UTC))
        pieces.append(Window(start.astimezone(UTC), end, window.timezone, window.timezone_source))
        start = end
    return pieces


def _shifted(day: Window, days: int) -> Window:
    """The same wall-clock span `days` earlier (a DST change between them keeps the hours, not the seconds)."""
    tz = day.timezone
    start = (day.local(day.start) - timedelta(days=days)).replace(tzinfo=None)
    end = (day.local(day.end) - timedelta(days=days)).replace(tzinfo=None)
    return Window(start.replace(tzinfo=tz), end.replace(tzinfo=tz), tz, day.timezone_source)


def _opening_span(day: Window, hours: OpeningHours | None) -> tuple[datetime, datetime]:
    """The part of the day the store is open (the whole day without hours, or when it closes after midnight)."""
    if hours is None or hours.closes <= hours.opens:
        return day.start, day.end
    tz, local_day = day.timezone, day.local(day.start).date()
    start = max(day.start, datetime.combine(local_day, hours.opens, tz).astimezone(UTC))
    return start, max(start, min(day.end, datetime.combine(local_day, hours.closes, tz).astimezone(UTC)))


SeenInSpans = Mapping[tuple[datetime, datetime], Mapping[str, float]]
"""Seconds each channel saw in each span."""


def opening_seen(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], window: Window, hours: OpeningHours | None
) -> SeenInSpans:
    """Seconds each channel saw in the opening hours of every local day of the period and of the days a day and a
    week before them, each span asked once (a 30-day period: 37 spans, not the 120 its coverage, day lines and
    comparisons would ask apart)."""
    days = _local_days(window)
    wanted = {_opening_span(day, hours) for day in days}
    wanted |= {_opening_span(_shifted(day, n), hours) for day in days for n in (1, 7)}
    ordered = sorted(wanted)
    return dict(zip(ordered, spans.seen_seconds(conn, channel_ids, ordered, window.timezone), strict=True))


def opening_coverage(
    seen: SeenInSpans, channel_ids: Sequence[str], window: Window, hours: OpeningHours | None
) -> dict[str, float]:
    """The fraction of the period's opening hours (the whole period without them) each channel saw."""
    opening = [_opening_span(day, hours) for day in _local_days(window)]
    expected = sum((end - start).total_seconds() for start, end in opening)
    total: dict[str, float] = {}
    for span in opening:
        for channel, seconds in seen[span].items():
            total[channel] = total.get(channel, 0.0) + seconds
    return {channel: min(1.0, total.get(channel, 0.0) / expected) if expected else 1.0 for channel in channel_ids}


def _coverage(seen: Mapping[str, float], span: tuple[datetime, datetime], entrances: Sequence[str]) -> float:
    """The least any entrance saw of the span."""
    expected = (span[1] - span[0]).total_seconds()
    return min(min(1.0, seen.get(channel, 0.0) / expected) if expected else 1.0 for channel in entrances)


def _earlier_days(
    conn: psycopg2.extensions.connection,
    channels: Sequence[Channel],
    entrances: Sequence[str],
    earlier: Sequence[Window],
    hours: OpeningHours | None,
    seen_in: SeenInSpans,
) -> list[tuple[int, float] | None]:
    """(visitors, coverage over the opening hours) of each day outside the period, for comparing; None: no data."""
    if not earlier:
        return []
    visitors = spans.customers(conn, entrances, [(day.start, day.end) for day in earlier])
    opening = [_opening_span(day, hours) for day in earlier]
    seen = [seen_in[span] for span in opening]
    duplicates = duplicate_entries(conn, channels, min(d.start for d in earlier), max(d.end for d in earlier))
    return [
        None
        if n is None
        else (n - sum(1 for t in duplicates if day.start <= t < day.end), _coverage(found, span, entrances))
        for n, day, span, found in zip(visitors, earlier, opening, seen, strict=True)
    ]


def day_lines(
    conn: psycopg2.extensions.connection,
    channels: Sequence[Channel],
    hourly: Sequence[HourlyCount],
    genders: Sequence[HourGenders],
    partner_entries: Sequence[datetime],
    hours: OpeningHours | None,
    window: Window,
    seen_in: SeenInSpans,
    till: Mapping[datetime, int] | None = None,
) -> list[DayLine]:
    """One line per local day of the period (none when no camera of the store counts entries)."""
    entrances = sorted({h.channel_id for h in hourly})
    if not entrances:
        return []
    days = _local_days(window)
    opening = [_opening_span(day, hours) for day in days]
    seen_by_day = [seen_in[span] for span in opening]
    earlier = _earlier_days(
        conn, channels, entrances, [_shifted(day, n) for day in days for n in (1, 7)], hours, seen_in
    )
    lines = []
    for i, (day, (start, end), seen) in enumerate(zip(days, opening, seen_by_day, strict=True)):
        mine = [h for h in hourly if day.start <= h.start < day.end]
        duplicates = sum(1 for t in partner_entries if day.start <= t < day.end)
        expected = (end - start).total_seconds()
        down = [Down(c.id, c.name, (expected - seen.get(c.id, 0.0)) / 60) for c in channels]
        by_hour: dict[datetime, int] = {}
        for h in mine:
            by_hour[h.hour] = by_hour.get(h.hour, 0) + h.customers
        busiest = max(by_hour, key=lambda hour: by_hour[hour], default=None)
        reported = [g for g in genders if day.start <= g.start < day.end and g.start in (till or {})]
        transactions = sum((till or {})[g.start] for g in reported) if reported else None
        women = sum(g.female for g in genders if day.start <= g.start < day.end)
        men = sum(g.male for g in genders if day.start <= g.start < day.end)
        lines.append(
            DayLine(
                day.local(day.start).date(),
                sum(h.customers for h in mine) - duplicates,
                women / (women + men) if women + men else None,
                busiest,
                by_hour.get(busiest, 0) if busiest is not None else 0,
                _coverage(seen, (start, end), entrances),
                earlier[2 * i],
                earlier[2 * i + 1],
                tuple(d for d in down if d.minutes >= DOWN_FROM_MIN),
                transactions,
                sum(g.female + g.male + g.unknown for g in reported),
            )
        )
    return lines
