"""Line crossings and zone visits of tracked people, per processed frame.

Each person is reduced to an anchor, the bottom centre of the box (where the feet touch the floor, so the
count does not depend on height or on a head leaning over the line).

Lines: an anchor's side of a line only changes once it is further than `line_band` (relative to the frame's
diagonal) from the line on the other side; inside that band nothing changes. So box jitter near the line and a
person standing on it never count, and a crossing is counted at most once per track and direction (someone
going in, out and in again within one track is one in and one out). A change of side beyond the line's ends
(walking around it) does not count. A bent line (a polyline) judges each anchor by its nearest segment.

A track born inside the band (someone stepping out from behind a shelf at the line, or re-found there after a
break) has no clear side yet. Where it stood while in the band is the evidence: if its anchor was off the line
itself (further than `BIRTH_OFFSET` of the band) on one side and it leaves the band on the other, that is a
crossing; born on the line itself, it only takes the side it leaves towards.

A box whose feet are out of view (cut by the frame's edge, hidden behind someone nearer: `analytics/feet.py`)
says nothing about a side.

Where a track came from (`analytics/track_origins.py`): a track born where a person's track was just lost
continues it, and starts on its side of every line (an occlusion that cuts a walk across the line in two still
counts once). Static objects (a mannequin, a poster) never count: no crossings, no zone visits. A track not yet
judged (born mid-view, not moved) has its zone visits withheld until it is: a person's visit then starts at its
first time inside (so that event is older than the frame that releases it).

Staff (`analytics/staff.py`): a track that appears in a staff zone or stays in staff zones long enough is staff;
its crossings carry `staff`, and the tag is a `staff_tagged` event.

Zones: an anchor inside the polygon enters the zone; the visit ends when the anchor has been outside for
`zone_exit_grace_s` (a missed detection is not an exit) or the track ends; its dwell is from the first to the
last time inside.

Hot path: the geometry is numpy over all anchors at once; the per-track bookkeeping is a dict lookup per track
and line or zone.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig, Zone
from footfall_worker.analytics.feet import FeetVisibility
from footfall_worker.analytics.line_state import IN, OUT, LineState, anchors
from footfall_worker.analytics.polygon import inside_polygon
from footfall_worker.analytics.staff import StaffTagger
from footfall_worker.analytics.track_origins import TrackOrigins, Verdict
from footfall_worker.events import ChannelEvent, EventKind

# A track unseen this long is dropped even if nobody said it ended (bounded memory over days).
FORGET_AFTER_S = 120.0


class _Zone:
    def __init__(self, zone: Zone, width: int, height: int) -> None:
        self.id = zone.id
        self.corners = np.asarray(zone.polygon, dtype=np.float64) * np.array([width, height], dtype=np.float64)
        self.entered: dict[int, float] = {}  # track -> first time inside in this visit
        self.withheld: dict[int, float] = {}  # the same for a track not yet judged a person (track_origins.py)
        self.last_inside: dict[int, float] = {}

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Even-odd ray casting for all points against every edge at once."""
        return inside_polygon(points, self.corners)


@dataclass
class _Frame:
    width: int
    height: int


@dataclass
class StoreAnalytics:
    """Counts line crossings and zone visits for one channel.

    Call `update` with every processed frame's tracks and `end_track` when a track ends. Not thread-safe: it
    belongs to the channel's processing loop.
    """

    config: AnalyticsConfig
    origins: TrackOrigins = field(init=False)
    staff: StaffTagger = field(init=False)
    _feet: FeetVisibility = field(default_factory=FeetVisibility)
    _frame: _Frame | None = None
    _lines: list[LineState] = field(default_factory=list)
    _zones: list[_Zone] = field(default_factory=list)
    _last_seen: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.origins = TrackOrigins(self.config.static_after_s, self.config.static_radius)
        self.staff = StaffTagger(self.config.zones, self.config.staff_after_s)

    def _layout(self, width: int, height: int) -> None:
        # Geometry is in pixels of the current frame size; a resolution change rebuilds it (and forgets sides).
        if self._frame is not None and (self._frame.width, self._frame.height) == (width, height):
            return
        self._frame = _Frame(width, height)
        self.staff.layout(width, height)
        lines = [LineState(line, width, height, self.config.line_band) for line in self.config.lines]
        zones = [_Zone(zone, width, height) for zone in self.config.zones]
        # Sides, counts and visits are in relative terms, so they carry over to the new pixel layout.
        for new, old in zip(lines, self._lines, strict=False):
            new.sides, new.born_sides, new.counted, new.totals = old.sides, old.born_sides, old.counted, old.totals
        for new, old in zip(zones, self._zones, strict=False):
            new.entered, new.last_inside = old.entered, old.last_inside
        self._lines, self._zones = lines, zones

    def update(
        self,
        ts: float,
        track_ids: Sequence[int],
        boxes: np.ndarray,
        frame_size: tuple[int, int],
        gender_of: Callable[[int], str | None] | None = None,
    ) -> list[ChannelEvent]:
        """Advance by one processed frame.

        Args:
            ts: the frame's time (seconds).
            track_ids: the tracks in the frame.
            boxes: their xyxy boxes in pixels, shape (n, 4), in the order of `track_ids`.
            frame_size: (width, height) of the frame in pixels.
            gender_of: the track's gender label as known now, for the crossing events (None = unknown).

        Returns:
            The crossings and zone entries/exits this frame caused, in time order (a zone entry withheld until
            its track was judged a person comes dated when it began, before this frame).
        """
        if self.config.empty:
            return []
        self._layout(*frame_size)
        events: list[ChannelEvent] = []
        ids = [int(track_id) for track_id in track_ids]
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        points = anchors(boxes)
        for track_id in ids:
            self._last_seen[track_id] = ts
        # Where tracks come from and whether their feet show are judged in units of the frame's height, so a
        # change of resolution is no jump (the lines' state is relative too).
        unit = float(frame_size[1])
        relative = boxes / unit
        judged = self.origins.update(ts, ids, relative, (frame_size[0] / unit, 1.0))
        feet_seen = self._feet.update(ts, ids, relative, 1.0)
        for line in self._lines:
            for heir, lost in judged.heirs.items():
                line.inherit(heir, lost)
        verdicts = judged.verdicts
        events += self.staff.update(ts, ids, points, verdicts, judged.heirs)  # before crossings: they carry it
        for line in self._lines:
            events += self._cross(line, ids, points, feet_seen, verdicts, ts, gender_of)
        for zone in self._zones:
            events += self._visit(zone, ids, points, verdicts, ts)
        events += self._forget_stale(ts)
        return events

    def _cross(
        self,
        line: LineState,
        ids: list[int],
        points: np.ndarray,
        feet_seen: np.ndarray,
        verdicts: list[Verdict],
        ts: float,
        gender_of: Callable[[int], str | None] | None,
    ) -> list[ChannelEvent]:
        if not ids:
            return []
        sides, within, off_line = line.committed_sides(points)
        events = []
        for track_id, side, inside_extent, standing, seen, verdict in zip(
            ids, sides.tolist(), within.tolist(), off_line.tolist(), feet_seen.tolist(), verdicts, strict=True
        ):
            if verdict is Verdict.STATIC or not seen:
                continue
            if side == 0:
                if standing and inside_extent and track_id not in line.sides:
                    line.born_sides.setdefault(track_id, standing)
                continue
            before = line.sides.get(track_id)
            if before is None:
                before = line.born_sides.pop(track_id, None)
            line.sides[track_id] = side
            if before is None or before == side or not inside_extent:
                continue
            direction = IN if side == line.in_sign else OUT
            counted = line.counted.setdefault(track_id, set())
            if direction in counted:
                continue
            counted.add(direction)
            line.totals[direction] += 1
            gender = gender_of(track_id) if gender_of else None
            payload = {
                "line": line.id,
                "direction": direction,
                "gender": gender,
                "staff": self.staff.is_staff(track_id),
            }
            events.append(ChannelEvent(EventKind.LINE_CROSSING, track_id, ts, payload))
        return events

    def _visit(
        self, zone: _Zone, ids: list[int], points: np.ndarray, verdicts: list[Verdict], ts: float
    ) -> list[ChannelEvent]:
        events = []
        inside = zone.contains(points).tolist() if ids else []
        for track_id, is_inside, verdict in zip(ids, inside, verdicts, strict=True):
            if verdict is Verdict.STATIC:
                _drop_withheld(zone, track_id)
                continue
            if verdict is Verdict.PERSON and track_id in zone.withheld:
                # judged a person: the visit it was withheld from started when it was first inside
                first = zone.entered[track_id] = zone.withheld.pop(track_id)
                events.append(ChannelEvent(EventKind.ZONE_ENTER, track_id, first, {"zone": zone.id}))
            if not is_inside:
                continue
            zone.last_inside[track_id] = ts
            if track_id not in zone.entered and track_id not in zone.withheld:
                if verdict is Verdict.CANDIDATE:
                    zone.withheld[track_id] = ts
                    continue
                zone.entered[track_id] = ts
                events.append(ChannelEvent(EventKind.ZONE_ENTER, track_id, ts, {"zone": zone.id}))
        grace = self.config.zone_exit_grace_s
        for track_id in [t for t, last in zone.last_inside.items() if ts - last > grace]:
            events += self._exit(zone, track_id)
        return events

    @staticmethod
    def _exit(zone: _Zone, track_id: int) -> list[ChannelEvent]:
        """The visit's exit; none for a visit withheld until now (never judged a person: never counted)."""
        if track_id in zone.withheld:
            _drop_withheld(zone, track_id)
            return []
        entered = zone.entered.pop(track_id)
        last = zone.last_inside.pop(track_id)
        payload = {"zone": zone.id, "dwell_s": round(last - entered, 3)}
        return [ChannelEvent(EventKind.ZONE_EXIT, track_id, last, payload)]

    def end_track(self, track_id: int) -> list[ChannelEvent]:
        """A track ended: close its zone visits (at the last time inside) and forget its line sides (a
        person's only after the window in which a new track may continue it)."""
        events = [
            event
            for zone in self._zones
            if track_id in zone.entered or track_id in zone.withheld
            for event in self._exit(zone, track_id)
        ]
        self._feet.forget(track_id)
        if not self.origins.forget(track_id):
            self._forget_lines(track_id)
        self._last_seen.pop(track_id, None)
        return events

    def _forget_stale(self, ts: float) -> list[ChannelEvent]:
        stale = [track_id for track_id, seen in self._last_seen.items() if ts - seen > FORGET_AFTER_S]
        events = [event for track_id in stale for event in self.end_track(track_id)]
        for track_id in self.origins.prune(ts, FORGET_AFTER_S):
            self._forget_lines(track_id)
        return events

    def _forget_lines(self, track_id: int) -> None:
        for line in self._lines:
            line.forget(track_id)
        self.staff.forget(track_id)

    def occupancy(self) -> dict[str, int]:
        """People in each zone now (entered, visit not ended)."""
        return {zone.id: len(zone.entered) for zone in self._zones}

    def totals(self) -> dict[str, dict[str, int]]:
        """In and out counts per line since the start."""
        return {line.id: dict(line.totals) for line in self._lines}


def _drop_withheld(zone: _Zone, track_id: int) -> None:
    zone.withheld.pop(track_id, None)
    if track_id not in zone.entered:
        zone.last_inside.pop(track_id, None)
