"""Per-minute rollup of a channel: people seen, occupancy, processing rate, line entries/exits, zone dwells and
the seconds the channel actually saw (`channel_stats_minute`)."""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from footfall_worker.analytics.counting import IN, OUT
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.storage.records import ChannelStatMinute

_ENTRY_GENDERS = ("female", "male")
# Two processed frames further apart than this leave the time between them unseen: the tracker forgets a person
# lost for its track buffer (30 reference frames, 1 s by default), so a crossing in such a gap can go uncounted.
MAX_FRAME_GAP_S = 1.0


@dataclass(slots=True)
class _Minute:
    start: float  # wall clock, whole minute
    first_wall: float
    last_wall: float
    frames: int = 0
    occupancy_sum: int = 0
    occupancy_max: int = 0
    started: int = 0
    track_ids: set[int] = field(default_factory=set)
    entries: int = 0
    exits: int = 0
    entries_by_gender: dict[str, int] = field(default_factory=dict)  # female / male / unknown
    dwells: int = 0
    dwell_sum_s: float = 0.0
    covered_s: float = 0.0  # seconds of the minute between processed frames at most MAX_FRAME_GAP_S apart
    entries_staff: int = 0
    exits_staff: int = 0

    def count(self, event: ChannelEvent) -> None:
        if event.kind == EventKind.LINE_CROSSING:
            staff = event.payload.get("staff") is True
            if event.payload.get("direction") == IN:
                self.entries += 1
                self.entries_staff += staff
                gender = event.payload.get("gender")
                label = gender if gender in _ENTRY_GENDERS else "unknown"
                self.entries_by_gender[label] = self.entries_by_gender.get(label, 0) + 1
            elif event.payload.get("direction") == OUT:
                self.exits += 1
                self.exits_staff += staff
        elif event.kind == EventKind.ZONE_EXIT:
            self.dwells += 1
            self.dwell_sum_s += float(event.payload.get("dwell_s", 0.0))

    def record(self, run_id: str) -> ChannelStatMinute:
        span = self.last_wall - self.first_wall
        fps = (self.frames - 1) / span if span > 0 else 0.0
        return ChannelStatMinute(
            minute=self.start,
            people_count=self.started,
            unique_tracks=len(self.track_ids),
            fps=round(fps, 2),
            occupancy_avg=round(self.occupancy_sum / self.frames, 3) if self.frames else 0.0,
            occupancy_max=self.occupancy_max,
            entries=self.entries,
            exits=self.exits,
            entries_female=self.entries_by_gender.get("female", 0),
            entries_male=self.entries_by_gender.get("male", 0),
            entries_unknown=self.entries_by_gender.get("unknown", 0),
            dwells=self.dwells,
            dwell_mean_s=round(self.dwell_sum_s / self.dwells, 3) if self.dwells else None,
            run_id=run_id,
            covered_s=round(min(60.0, self.covered_s), 3),
            entries_staff=self.entries_staff,
            exits_staff=self.exits_staff,
        )


def _minute_of(wall: float) -> float:
    return math.floor(wall / 60.0) * 60.0


class MinuteStats:
    """Accumulates processed frames and analytics events and emits one `ChannelStatMinute` per wall-clock minute.

    `people_count` is the people who appeared (tracks started) in the minute; `unique_tracks` every track seen
    in it, including those that came in earlier; occupancy is the people visible per processed frame.
    A minute is emitted when the first frame of a later one arrives, and by `flush` at shutdown (a partial
    minute: a next run on the channel in the same minute writes its own share, and the two add up).

    Analytics events count in the minute of their own time: a line crossing in the minute of its frame, an
    entry under the gender its crossing event carries (`unknown` when none was decided then), a dwell in the
    minute its zone visit ended. A zone exit is known only after its grace period (or when the track ends),
    so it can belong to the minute already emitted: that minute is then corrected and emitted again (the writer
    upserts it). An event older than that minute counts in it too (the only minute still held).

    Coverage: the time between two consecutive processed frames at most `MAX_FRAME_GAP_S` apart was seen; a
    longer gap (camera down or stalled, detection failing, processing starved) was not. A gap across a minute's
    end is split between the two minutes. `covered_total_s` adds up every minute's share since the start.
    """

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self._minute: _Minute | None = None
        self._closed: _Minute | None = None  # the minute emitted last, corrected by late events
        self._last_frame_wall: float | None = None
        self.covered_total_s = 0.0

    def observe(self, wall: float, track_ids: list[int], started: int) -> ChannelStatMinute | None:
        """Count one processed frame; returns the previous minute when this frame opens a new one."""
        start = _minute_of(wall)
        gap = wall - self._last_frame_wall if self._last_frame_wall is not None else 0.0
        seen = 0.0 < gap <= MAX_FRAME_GAP_S
        self._last_frame_wall = wall
        done = None
        minute = self._minute
        if minute is None or start != minute.start:
            if seen and minute is not None:
                minute.covered_s += max(0.0, gap - (wall - start))  # the gap's part before this minute began
            done = self.flush()
            minute = self._minute = _Minute(start, wall, wall)
            if seen:
                minute.covered_s += min(gap, wall - start)
        elif seen:
            minute.covered_s += gap
        if seen:
            self.covered_total_s += gap
        minute.frames += 1
        minute.last_wall = wall
        minute.occupancy_sum += len(track_ids)
        minute.occupancy_max = max(minute.occupancy_max, len(track_ids))
        minute.started += started
        minute.track_ids.update(track_ids)
        return done

    def count(self, events: Iterable[ChannelEvent]) -> list[ChannelStatMinute]:
        """Count analytics events (on the wall clock); returns emitted minutes that they corrected."""
        corrected: dict[float, _Minute] = {}
        for event in events:
            wall = event.t
            minute = self._minute
            if minute is None or _minute_of(wall) < minute.start:
                if self._closed is not None:
                    minute = self._closed
                    corrected[minute.start] = minute
                elif minute is None:  # nothing counted yet: open the event's minute
                    minute = self._minute = _Minute(_minute_of(wall), wall, wall)
            minute.count(event)
        return [minute.record(self.run_id) for minute in corrected.values()]

    def flush(self) -> ChannelStatMinute | None:
        """The minute in progress, if any frame or event was counted in it."""
        minute, self._minute = self._minute, None
        if minute is None or (minute.frames == 0 and not _has_events(minute)):
            return None
        self._closed = minute
        return minute.record(self.run_id)


def _has_events(minute: _Minute) -> bool:
    return bool(minute.entries or minute.exits or minute.dwells)
