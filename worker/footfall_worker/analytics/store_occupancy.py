"""A store's occupancy from its entrance cameras' crossings, reconciled so it never drifts.

People inside = entries - exits over every entrance, which drifts as soon as one crossing is missed: a missed
exit leaves a ghost inside for ever, a missed entry drives the count below zero. So the count is clamped at
zero (an exit that finds nobody inside is counted as `clamped`, not subtracted), and it is reset at the store's
closing time (whoever is still counted inside then is the day's `residual`). Two cameras watching the same door
(partners, `PartnerChannel`) see one person twice: a crossing that follows its partner's in the same direction
within the pair's window counts once (`duplicates`). Each day keeps what was corrected, so a store whose
residual grows is a camera to look at.

Pure: the record's reconciliation (reports) and tests use it as is; the live count in Redis applies the same
rules in one Lua script (`storage/store_occupancy_live.py`).
"""

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from footfall_contract.config.geometry import PartnerChannel
from footfall_contract.config.store_hours import BusinessDay
from footfall_worker.analytics.line_state import IN


@dataclass(frozen=True, slots=True)
class Crossing:
    """One line crossing of an entrance camera: when (UTC seconds), where, which way."""

    t: float
    channel_id: str
    direction: str  # IN or OUT


@dataclass(slots=True)
class OccupancyDay:
    """One business day of a store: its crossings after de-duplication, and what reconciliation corrected."""

    day: date
    entries: int = 0
    exits: int = 0
    duplicates: int = 0  # partner crossings counted once
    clamped: int = 0  # exits that found nobody inside (a missed entry, or an exit miscounted)
    residual: int = 0  # people still counted inside at closing, reset to 0 (a missed exit, or a ghost)
    peak: int = 0

    @property
    def drift(self) -> int:
        """People reconciliation took out of or put into the count over the day."""
        return self.clamped + self.residual


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The store's occupancy after each counted crossing and at each reset, and its days."""

    timeline: tuple[tuple[float, int], ...]  # (UTC seconds, people inside after it)
    days: tuple[OccupancyDay, ...]


def partner_pairs(partners: Mapping[str, PartnerChannel]) -> dict[str, tuple[str, float]]:
    """Each channel's partner and window, both ways: a partnership named on either camera holds for both (the
    widest window when both name each other)."""
    pairs: dict[str, tuple[str, float]] = {}
    for channel, partner in partners.items():
        for a, b in ((channel, partner.channel), (partner.channel, channel)):
            window = max(partner.window_s, pairs.get(a, (b, 0.0))[1])
            pairs[a] = (b, window)
    return pairs


def mark_duplicates(
    crossings: Sequence[Crossing], partners: Mapping[str, PartnerChannel]
) -> list[tuple[Crossing, bool]]:
    """The crossings in time order, each with whether it is a partner's duplicate.

    A crossing is a duplicate when its channel's partner crossed in the same direction at most the window
    before it and that crossing was not matched yet: each kept crossing absorbs at most one of its partner's, so
    two people walking through together on both cameras stay two.
    """
    pairs = partner_pairs(partners)
    unmatched: dict[tuple[str, str], deque[float]] = {}  # (channel, direction) -> times of kept crossings
    marked: list[tuple[Crossing, bool]] = []
    for crossing in sorted(crossings, key=lambda c: c.t):
        pair = pairs.get(crossing.channel_id)
        duplicate = False
        if pair is not None:
            partner, window = pair
            waiting = unmatched.get((partner, crossing.direction))
            while waiting and crossing.t - waiting[0] > window:
                waiting.popleft()
            if waiting:
                waiting.popleft()
                duplicate = True
            else:
                unmatched.setdefault((crossing.channel_id, crossing.direction), deque()).append(crossing.t)
        marked.append((crossing, duplicate))
    return marked


def reconcile(
    crossings: Sequence[Crossing],
    days: Callable[[datetime], BusinessDay],
    until: datetime,
    partners: Mapping[str, PartnerChannel] | None = None,
) -> Reconciled:
    """The store's occupancy over `crossings` (any order), clamped at zero and reset when each business day
    (`days`: the store's `business_day` for its zone and hours) ends. Only days with a crossing appear; a day
    still open at `until` has no residual yet (its people may still leave)."""
    timeline: list[tuple[float, int]] = []
    out: list[OccupancyDay] = []
    inside = 0
    current: BusinessDay | None = None
    for crossing, duplicate in mark_duplicates(crossings, partners or {}):
        when = datetime.fromtimestamp(crossing.t, UTC)
        if current is None or when not in current:
            if current is not None and inside:
                out[-1].residual = inside
                timeline.append((current.end.timestamp(), 0))
            inside = 0
            current = days(when)
            out.append(OccupancyDay(current.day))
        day = out[-1]
        if duplicate:
            day.duplicates += 1
        elif crossing.direction == IN:
            day.entries += 1
            inside += 1
        elif inside == 0:
            day.exits += 1
            day.clamped += 1
            continue
        else:
            day.exits += 1
            inside -= 1
        if not duplicate:
            day.peak = max(day.peak, inside)
            timeline.append((crossing.t, inside))
    if current is not None and inside and current.end <= until:
        out[-1].residual = inside
        timeline.append((current.end.timestamp(), 0))
    return Reconciled(tuple(timeline), tuple(out))
