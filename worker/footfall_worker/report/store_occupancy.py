"""The report's store occupancy: the entrance cameras' crossings over the period, reconciled the way the live
count is (`analytics.store_occupancy`: clamped at zero, reset at closing time, partner cameras counted once),
from the start of the business day the period begins in, so the count at the period's start is right."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2.extensions
from pydantic import ValidationError

from footfall_contract.config.geometry import PartnerChannel
from footfall_contract.config.store_hours import OpeningHours, business_day
from footfall_worker.analytics.line_state import IN, OUT
from footfall_worker.analytics.store_occupancy import Crossing, OccupancyDay, mark_duplicates, reconcile
from footfall_worker.report.query import Channel, ReportInputError, Window

log = logging.getLogger("footfall.report")


@dataclass(frozen=True, slots=True)
class StoreOccupancy:
    timeline: tuple[tuple[datetime, int], ...]  # (local time, people inside from then), inside the period
    resets: tuple[datetime, ...]  # closing times in the period (local)
    days: tuple[OccupancyDay, ...]  # the business days the period touches that had crossings
    hours: OpeningHours | None
    partners: tuple[tuple[str, str], ...]  # (channel, partner) pairs counted once
    duplicate_entries: tuple[datetime, ...]  # when partner duplicates among the period's entries were (UTC) ...
    duplicate_exits: int  # ... and how many among its exits: the store's totals leave them out


def store_hours(store_id: str, channels: Sequence[Channel]) -> OpeningHours | None:
    """The opening hours the store's workers recorded; an error when its channels disagree."""
    recorded = {tuple(sorted(c.opening_hours.items())) if c.opening_hours else None for c in channels}
    if len(recorded) > 1:
        shown = ", ".join(sorted("none" if r is None else "-".join(v for _, v in sorted(r)) for r in recorded))
        raise ReportInputError(
            f"the channels of store {store_id!r} record different opening hours ({shown}): set one "
            "`opening_hours` for the store (its CameraChannels or store config)"
        )
    (hours,) = recorded
    return None if hours is None else OpeningHours.model_validate(dict(hours))


def partners(channels: Sequence[Channel]) -> dict[str, PartnerChannel]:
    """Each channel's partner from its recorded config; one not what a worker writes is skipped (logged)."""
    found = {}
    for channel in channels:
        raw = (channel.config.get("analytics") or {}).get("partner") if isinstance(channel.config, dict) else None
        if raw is None:
            continue
        try:
            found[channel.id] = PartnerChannel.model_validate(raw)
        except (ValidationError, TypeError):
            log.warning("skipping a malformed partner in the recorded config", extra={"channel_id": channel.id})
    return found


def crossings(
    conn: psycopg2.extensions.connection, channel_ids: Sequence[str], start: datetime, end: datetime
) -> list[Crossing]:
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT extract(epoch FROM t)::float8, channel_id, payload->>'direction'
            FROM events
            WHERE kind = 'line_crossing' AND channel_id = ANY(%(channels)s) AND t >= %(start)s AND t < %(end)s
              AND payload->>'direction' IN ('in', 'out')
            ORDER BY t
            """,
            {"channels": list(channel_ids), "start": start, "end": end},
        )
        return [Crossing(t, channel, direction) for t, channel, direction in cur.fetchall()]


def store_occupancy(
    conn: psycopg2.extensions.connection, channels: Sequence[Channel], window: Window, hours: OpeningHours | None
) -> StoreOccupancy | None:
    """The period's reconciled store occupancy over the store's business days (`hours`: `store_hours`); None when
    no entrance crossed in the business days it touches."""
    tz = window.timezone
    first_day = business_day(window.start, tz, hours)
    found = crossings(conn, [c.id for c in channels], first_day.start, window.end)
    if not found:
        return None
    pairs = partners(channels)
    start = window.start.timestamp()
    duplicates = [c for c, duplicate in mark_duplicates(found, pairs) if duplicate and c.t >= start]
    until = min(window.end, datetime.now(UTC))
    result = reconcile(found, lambda t: business_day(t, tz, hours), until, pairs)
    before = [people for t, people in result.timeline if t < start]
    timeline = [(window.start, before[-1] if before else 0)]
    timeline += [(datetime.fromtimestamp(t, tz), people) for t, people in result.timeline if t >= start]
    resets = []
    day = first_day
    while day.end < window.end:
        if day.end > window.start:
            resets.append(day.end.astimezone(tz))
        day = business_day(day.end, tz, hours)
    return StoreOccupancy(
        timeline=tuple(timeline),
        resets=tuple(resets),
        days=result.days,
        hours=hours,
        partners=tuple(sorted((channel, p.channel) for channel, p in pairs.items())),
        duplicate_entries=tuple(datetime.fromtimestamp(c.t, UTC) for c in duplicates if c.direction == IN),
        duplicate_exits=sum(1 for c in duplicates if c.direction == OUT),
    )


def duplicate_entries(
    conn: psycopg2.extensions.connection, channels: Sequence[Channel], start: datetime, end: datetime
) -> list[datetime]:
    """When partner cameras' duplicate entries were in [start, end) (UTC): what a day's visitors leave out."""
    pairs = partners(channels)
    if not pairs:
        return []
    found = crossings(conn, [c.id for c in channels], start, end)
    return [datetime.fromtimestamp(c.t, UTC) for c, dup in mark_duplicates(found, pairs) if dup and c.direction == IN]
