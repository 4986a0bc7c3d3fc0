"""A report's many short spans (each day's opening hours, the same day a day and a week before) asked in one query
each, not one query per span: a 30-day report has 90 of them, and at a chain's size each round trip costs more than
the rows it reads (the scale bench: bench/report_scale_bench.py).

Each span is [start, end) in absolute time; the answers come back in the spans' order.
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg2.extensions

from footfall_worker.report.query import QUARTER_S, STAFF_CROSSING, crossing_track

Span = tuple[datetime, datetime]

_SPANS = "unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) WITH ORDINALITY AS s (start_at, end_at, i)"


def _params(channel_ids: Sequence[str], spans: Sequence[Span]) -> dict[str, object]:
    # `first` and `last` bound all spans as constants: what lets the planner read only their partitions
    return {
        "channels": list(channel_ids),
        "starts": [s for s, _ in spans],
        "ends": [e for _, e in spans],
        "first": min(s for s, _ in spans),
        "last": max(e for _, e in spans),
    }


def _split(span: Span) -> tuple[Span | None, list[Span]]:
    """The span's whole quarter hours, and the minutes before and after them (the whole span when it has none)."""
    start, end = span
    inner_start = datetime.fromtimestamp(math.ceil(start.timestamp() / QUARTER_S) * QUARTER_S, UTC)
    inner_end = datetime.fromtimestamp(math.floor(end.timestamp() / QUARTER_S) * QUARTER_S, UTC)
    if inner_start >= inner_end:
        return None, [span]
    return (inner_start, inner_end), [edge for edge in ((start, inner_start), (inner_end, end)) if edge[0] < edge[1]]


def seen_seconds(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], spans: Sequence[Span], timezone: ZoneInfo
) -> list[dict[str, float]]:
    """Seconds each channel saw in each span (a channel that saw nothing is absent). Each span lies within one
    local day of `timezone` (a day's opening hours, or a piece of a day).

    A span's whole quarter hours are read from the quarter rollups (channel_stats_quarter), the minutes around them
    (an opening time of 09:10, a period starting at 10:07) from the minutes: a 30-day report's opening hours read
    2 900 quarter rows a channel instead of 25 000 minutes."""
    found: list[dict[str, float]] = [{} for _ in spans]
    if not spans or not channel_ids:
        return found
    quarters: list[tuple[int, Span]] = []
    edges: list[tuple[int, Span]] = []
    for i, span in enumerate(spans):
        inner, outer = _split(span)
        if inner is not None:
            quarters.append((i, inner))
        edges += [(i, edge) for edge in outer]
    with conn.cursor() as cur:
        # quarters matched to their spans by local day, a hash join (every quarter against every span is not);
        # the few minutes of the edges looked up span by span
        cur.execute(
            """
            SELECT s.i, q.channel_id, sum(q.covered_s)
            FROM channel_stats_quarter q
            JOIN unnest(%(q_starts)s::timestamptz[], %(q_ends)s::timestamptz[], %(q_days)s::date[], %(q_index)s::int[])
                 AS s (start_at, end_at, local_day, i)
              ON (q.quarter AT TIME ZONE %(tz)s)::date = s.local_day AND q.quarter >= s.start_at
             AND q.quarter < s.end_at
            WHERE q.channel_id = ANY(%(channels)s) AND q.quarter >= %(first)s AND q.quarter < %(last)s
            GROUP BY 1, 2
            UNION ALL
            SELECT s.i, m.channel_id, sum(m.covered_s)
            FROM unnest(%(e_starts)s::timestamptz[], %(e_ends)s::timestamptz[], %(e_index)s::int[])
                 AS s (start_at, end_at, i)
            CROSS JOIN LATERAL (
                SELECT channel_id, covered_s FROM channel_minutes
                WHERE channel_id = ANY(%(channels)s) AND minute >= s.start_at AND minute < s.end_at
            ) m
            GROUP BY 1, 2
            """,
            {
                "channels": list(channel_ids),
                "tz": timezone.key,
                "q_starts": [start for _, (start, _) in quarters],
                "q_ends": [end for _, (_, end) in quarters],
                "q_days": [start.astimezone(timezone).date() for _, (start, _) in quarters],
                "q_index": [i for i, _ in quarters],
                "first": min((start for _, (start, _) in quarters), default=spans[0][0]),
                "last": max((end for _, (_, end) in quarters), default=spans[0][0]),
                "e_starts": [start for _, (start, _) in edges],
                "e_ends": [end for _, (_, end) in edges],
                "e_index": [i for i, _ in edges],
            },
        )
        for i, channel, seconds in cur.fetchall():
            found[int(i)][channel] = found[int(i)].get(channel, 0.0) + float(seconds or 0.0)
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
