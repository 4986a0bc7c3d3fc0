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
itself (further than `_BIRTH_OFFSET` of the band) on one side and it leaves the band on the other, that is a
crossing; born on the line itself, it only takes the side it leaves towards.

Zones: an anchor inside the polygon enters the zone; the visit ends when the anchor has been outside for
`zone_exit_grace_s` (a missed detection is not an exit) or the track ends; its dwell is from the first to the
last time inside.

Hot path: the geometry is numpy over all anchors at once; the per-track bookkeeping is a dict lookup per track
and line or zone.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig, CountingLine, Zone
from footfall_worker.analytics.polygon import inside_polygon
from footfall_worker.events import ChannelEvent, EventKind

IN, OUT = "in", "out"
# Share of the band an anchor born inside it must stand off the line for its side there to count as evidence.
_BIRTH_OFFSET = 0.15
# A track unseen this long is dropped even if nobody said it ended (bounded memory over days).
FORGET_AFTER_S = 120.0


def anchors(boxes: np.ndarray) -> np.ndarray:
    """Bottom centres (x, y) of xyxy boxes, shape (n, 2)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]))


class _Line:
    """One counting line in pixels, straight or bent: each anchor's side and whether it is beside the line.

    A bent line is judged by its segment nearest to the anchor, so a point near a bend is on the side that the
    line's shape puts it; the band is the distance to the whole line.
    """

    def __init__(self, line: CountingLine, width: int, height: int, band: float) -> None:
        self.id = line.id
        self.in_sign = 1 if line.in_side == "left" else -1
        corners = np.asarray(line.points, dtype=np.float64) * np.array([width, height], dtype=np.float64)
        self.starts = corners[:-1]  # (k, 2) segment starts
        directions = corners[1:] - corners[:-1]
        self.lengths = np.hypot(directions[:, 0], directions[:, 1])  # (k,)
        self.units = directions / self.lengths[:, None]
        self.band_px = band * float(np.hypot(width, height))
        self.sides: dict[int, int] = {}  # track -> -1 / +1, once it was clearly on one side
        self.born_sides: dict[int, int] = {}  # track born in the band -> the side it first stood off the line
        self.counted: dict[int, set[str]] = {}
        self.totals = {IN: 0, OUT: 0}

    def committed_sides(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per anchor: +1 / -1 when clearly on one side (0 inside the band), whether it is beside the line
        (a side change beyond its ends is walking around the line, not across it), and +1 / -1 when it stands
        off the line itself (0 on it), for a track born inside the band."""
        offset = points[:, None, :] - self.starts[None, :, :]  # (n, k, 2)
        along = np.einsum("nkd,kd->nk", offset, self.units)
        # y grows downwards in images: left of the walking direction is a negative cross product
        signed = -(self.units[None, :, 0] * offset[:, :, 1] - self.units[None, :, 1] * offset[:, :, 0])
        beyond = along - np.clip(along, 0.0, self.lengths[None, :])  # < 0 before a segment's start, > 0 after its end
        distance = np.hypot(signed, beyond)
        nearest = np.argmin(distance, axis=1)
        rows = np.arange(len(points))
        side = np.sign(signed[rows, nearest])
        clear = distance[rows, nearest] > self.band_px
        last = len(self.lengths) - 1
        within = ~(
            ((nearest == 0) & (beyond[rows, 0] < -self.band_px))
            | ((nearest == last) & (beyond[rows, last] > self.band_px))
        )
        off_line = distance[rows, nearest] > _BIRTH_OFFSET * self.band_px
        return np.where(clear, side, 0).astype(np.int8), within, np.where(off_line, side, 0).astype(np.int8)


class _Zone:
    def __init__(self, zone: Zone, width: int, height: int) -> None:
        self.id = zone.id
        self.corners = np.asarray(zone.polygon, dtype=np.float64) * np.array([width, height], dtype=np.float64)
        self.entered: dict[int, float] = {}  # track -> first time inside in this visit
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
    _frame: _Frame | None = None
    _lines: list[_Line] = field(default_factory=list)
    _zones: list[_Zone] = field(default_factory=list)
    _last_seen: dict[int, float] = field(default_factory=dict)

    def _layout(self, width: int, height: int) -> None:
        # Geometry is in pixels of the current frame size; a resolution change rebuilds it (and forgets sides).
        if self._frame is not None and (self._frame.width, self._frame.height) == (width, height):
            return
        self._frame = _Frame(width, height)
        lines = [_Line(line, width, height, self.config.line_band) for line in self.config.lines]
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
            The crossings and zone entries/exits this frame caused, in time order.
        """
        if self.config.empty:
            return []
        self._layout(*frame_size)
        events: list[ChannelEvent] = []
        ids = [int(track_id) for track_id in track_ids]
        points = anchors(boxes) if ids else np.empty((0, 2))
        for track_id in ids:
            self._last_seen[track_id] = ts
        for line in self._lines:
            events += self._cross(line, ids, points, ts, gender_of)
        for zone in self._zones:
            events += self._visit(zone, ids, points, ts)
        events += self._forget_stale(ts)
        return events

    def _cross(
        self,
        line: _Line,
        ids: list[int],
        points: np.ndarray,
        ts: float,
        gender_of: Callable[[int], str | None] | None,
    ) -> list[ChannelEvent]:
        if not ids:
            return []
        sides, within, off_line = line.committed_sides(points)
        events = []
        for track_id, side, inside_extent, standing in zip(
            ids, sides.tolist(), within.tolist(), off_line.tolist(), strict=True
        ):
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
            payload = {"line": line.id, "direction": direction, "gender": gender}
            events.append(ChannelEvent(EventKind.LINE_CROSSING, track_id, ts, payload))
        return events

    def _visit(self, zone: _Zone, ids: list[int], points: np.ndarray, ts: float) -> list[ChannelEvent]:
        events = []
        inside = zone.contains(points).tolist() if ids else []
        for track_id, is_inside in zip(ids, inside, strict=True):
            if not is_inside:
                continue
            zone.last_inside[track_id] = ts
            if track_id not in zone.entered:
                zone.entered[track_id] = ts
                events.append(ChannelEvent(EventKind.ZONE_ENTER, track_id, ts, {"zone": zone.id}))
        grace = self.config.zone_exit_grace_s
        for track_id in [t for t, last in zone.last_inside.items() if ts - last > grace]:
            events.append(self._exit(zone, track_id))
        return events

    @staticmethod
    def _exit(zone: _Zone, track_id: int) -> ChannelEvent:
        entered = zone.entered.pop(track_id)
        last = zone.last_inside.pop(track_id)
        return ChannelEvent(EventKind.ZONE_EXIT, track_id, last, {"zone": zone.id, "dwell_s": round(last - entered, 3)})

    def end_track(self, track_id: int) -> list[ChannelEvent]:
        """A track ended: close its zone visits (at the last time inside) and forget its line sides."""
        events = [self._exit(zone, track_id) for zone in self._zones if track_id in zone.entered]
        for line in self._lines:
            line.sides.pop(track_id, None)
            line.born_sides.pop(track_id, None)
            line.counted.pop(track_id, None)
        self._last_seen.pop(track_id, None)
        return events

    def _forget_stale(self, ts: float) -> list[ChannelEvent]:
        stale = [track_id for track_id, seen in self._last_seen.items() if ts - seen > FORGET_AFTER_S]
        return [event for track_id in stale for event in self.end_track(track_id)]

    def occupancy(self) -> dict[str, int]:
        """People in each zone now (entered, visit not ended)."""
        return {zone.id: len(zone.entered) for zone in self._zones}

    def totals(self) -> dict[str, dict[str, int]]:
        """In and out counts per line since the start."""
        return {line.id: dict(line.totals) for line in self._lines}
