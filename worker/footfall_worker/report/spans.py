"""A report's many short spans (each day's opening hours, the same day a day and a week before) asked in one query
each, not one query per span: a 30-day report has 90 of them, and at a chain's size each round trip costs more than
the rows it reads (the scale bench: bench/report_scale_bench.py).

Each span is [start, end) in absolute time; the answers come back in the spans' order.
"""

from collections.abc import Sequence
from datetime import datetime

import psycopg2.extensions

from footfall_worker.report.query import STAFF_CROSSING, crossing_track

Span = tuple[datetime, datetime]

_SPANS = "unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) WITH ORDINALITY AS s (start_at, end_at, i)"


def _params(channel_ids: Sequence[str], spans: Sequence[Span]) -> dict[str, object]:
    return {"channels": list(channel_ids), "starts": [s for s, _ in spans], "ends": [e for _, e in spans]}


def seen_seconds(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], spans: Sequence[Span]
) -> list[dict[str, float]]:
    """Seconds each channel saw in each span (a channel that saw nothing is absent)."""
    found: list[dict[str, float]] = [{} for _ in spans]
    if not spans or not channel_ids:
        return found
    with conn.cursor() as cur:
        # LATERAL, so each span's bounds reach the view's (channel_id, minute) filter before it groups the minutes
        cur.execute(
            f"""
            SELECT s.i, m.channel_id, sum(m.covered_s)
            FROM {_SPANS}
            CROSS JOIN LATERAL (
                SELECT channel_id, covered_s FROM channel_minutes
                WHERE channel_id = ANY(%(channels)s) AND minute >= s.start_at AND minute < s.end_at
            ) m
            GROUP BY 1, 2
            """,
            _params(channel_ids, spans),
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
                AND e.t >= s.start_at AND e.t < s.end_at
            {crossing_track("s.start_at", "s.end_at")}
            GROUP BY 1
            """,
            _params(channel_ids, spans),
        )
        for i, n in cur.fetchall():
            found[int(i) - 1] = int(n)
    return found
