"""A report's many short spans (each day's opening hours, the same day a day and a week before) asked in one query
each, not one query per span: a 30-day report has 90 of them, and at a chain's size each round trip costs more than
the rows it reads (the scale bench: bench/report_scale_bench.py).

Each span is [start, end) in absolute time; the answers come back in the spans' order.
"""

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg2.extensions

from footfall_worker.report.query import STAFF_CROSSING, crossing_track

Span = tuple[datetime, datetime]

_SPANS = "unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) WITH ORDINALITY AS s (start_at, end_at, i)"
_DAY_SPANS = (
    "unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[], %(days)s::date[])"
    " WITH ORDINALITY AS s (start_at, end_at, local_day, i)"
)


def _params(channel_ids: Sequence[str], spans: Sequence[Span]) -> dict[str, object]:
    # `first` and `last` bound all spans as constants: what lets the planner read only their partitions
    return {
        "channels": list(channel_ids),
        "starts": [s for s, _ in spans],
        "ends": [e for _, e in spans],
        "first": min(s for s, _ in spans),
        "last": max(e for _, e in spans),
    }


def seen_seconds(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], spans: Sequence[Span], timezone: ZoneInfo
) -> list[dict[str, float]]:
    """Seconds each channel saw in each span (a channel that saw nothing is absent). Each span lies within one
    local day of `timezone` (a day's opening hours, or a piece of a day)."""
    found: list[dict[str, float]] = [{} for _ in spans]
    if not spans or not channel_ids:
        return found
    with conn.cursor() as cur:
        # The minutes are read once and matched to their spans by local day, a hash join: matching every minute
        # against every span cost 0.6 s for a 30-day report's 37 spans over the chain's history.
        cur.execute(
            f"""
            SELECT s.i, m.channel_id, sum(m.covered_s)
            FROM channel_minutes m
            JOIN {_DAY_SPANS}
              ON (m.minute AT TIME ZONE %(tz)s)::date = s.local_day AND m.minute >= s.start_at AND m.minute < s.end_at
            WHERE m.channel_id = ANY(%(channels)s) AND m.minute >= %(first)s AND m.minute < %(last)s
            GROUP BY 1, 2
            """,
            {
                **_params(channel_ids, spans),
                "days": [start.astimezone(timezone).date() for start, _ in spans],
                "tz": timezone.key,
            },
        )
        for i, channel, seconds in cur.fetchall():
            found[int(i) - 1][channel] = float(seconds or 0.0)
    return found


def customers(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], spans: Sequence[Span]
) -> list[int | None]:
    """Entries that were not staff over `channel_ids` in each span; None where those cameras crossed nobody."""
    found: list[int | None] = [None for _ in spans]
    if not spans or not channel_ids:
        return found
    with conn.cursor() as cur:
        cur.execute(
            f"""
            SELECT s.i, count(*) FILTER (WHERE e.payload->>'direction' = 'in' AND NOT {STAFF_CROSSING})
            FROM {_SPANS}
            JOIN events e ON e.kind = 'line_crossing' AND e.channel_id = ANY(%(channels)s)
                AND e.t >= s.start_at AND e.t < s.end_at AND e.t >= %(first)s AND e.t < %(last)s
            {crossing_track("%(first)s", "%(last)s")}
            GROUP BY 1
            """,
            _params(channel_ids, spans),
        )
        for i, n in cur.fetchall():
            found[int(i) - 1] = int(n)
    return found
