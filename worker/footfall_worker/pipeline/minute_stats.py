"""Per-minute rollup of a channel: people seen, occupancy, processing rate (`channel_stats_minute`)."""

import math
from dataclasses import dataclass, field

from footfall_worker.storage.records import ChannelStatMinute


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


class MinuteStats:
    """Accumulates processed frames and emits one `ChannelStatMinute` per wall-clock minute.

    `people_count` is the people who appeared (tracks started) in the minute; `unique_tracks` every track seen
    in it, including those that came in earlier; occupancy is the people visible per processed frame.
    A minute is emitted when the first frame of a later one arrives, and by `flush` at shutdown (a partial
    minute: the next run on the channel replaces it if it writes the same minute).
    """

    def __init__(self) -> None:
        self._minute: _Minute | None = None

    def observe(self, wall: float, track_ids: list[int], started: int) -> ChannelStatMinute | None:
        """Count one processed frame; returns the previous minute when this frame opens a new one."""
        start = math.floor(wall / 60.0) * 60.0
        done = None
        minute = self._minute
        if minute is None or start != minute.start:
            done = self.flush()
            minute = self._minute = _Minute(start, wall, wall)
        minute.frames += 1
        minute.last_wall = wall
        minute.occupancy_sum += len(track_ids)
        minute.occupancy_max = max(minute.occupancy_max, len(track_ids))
        minute.started += started
        minute.track_ids.update(track_ids)
        return done

    def flush(self) -> ChannelStatMinute | None:
        """The minute in progress, if any frame was counted in it."""
        minute, self._minute = self._minute, None
        if minute is None or minute.frames == 0:
            return None
        span = minute.last_wall - minute.first_wall
        fps = (minute.frames - 1) / span if span > 0 else 0.0
        return ChannelStatMinute(
            minute=minute.start,
            people_count=minute.started,
            unique_tracks=len(minute.track_ids),
            fps=round(fps, 2),
            occupancy_avg=round(minute.occupancy_sum / minute.frames, 3),
            occupancy_max=minute.occupancy_max,
        )
