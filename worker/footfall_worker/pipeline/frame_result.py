"""What one step of a channel produced: the value `FrameProcessor` returns and the sinks take."""

from dataclasses import dataclass, field

from footfall_worker.detections import Detections
from footfall_worker.events import ChannelEvent
from footfall_worker.ingest.frames import Frame
from footfall_worker.storage.records import Record
from footfall_worker.tracking.events import TrackedBoxes


@dataclass(frozen=True, slots=True)
class ChannelTally:
    """The channel's running figures after a step. Replaced, never mutated, so other threads (probes, the live
    state) read one consistent set."""

    track_ids: tuple[int, ...] = ()  # the people in view now
    tracks_started: int = 0
    entries: int = 0  # people counted in since the start, over all lines
    exits: int = 0
    zone_occupancy: dict[str, int] = field(default_factory=dict)
    genders: dict[str, int] = field(default_factory=dict)  # final labels of the tracks that ended

    @property
    def people_now(self) -> int:
        return len(self.track_ids)


@dataclass(slots=True)
class FrameResult:
    """One processed frame (or, with `frame` None, an idle tick or the finish).

    `records` go to the record in order (a track's row before its final row, a minute before its correction);
    `events` are the same channel events the records hold, on the wall clock, for the live stream.
    """

    frame: Frame | None
    detections: Detections | None
    tracks: TrackedBoxes | None
    tally: ChannelTally = field(default_factory=ChannelTally)
    records: list[Record] = field(default_factory=list)
    events: list[ChannelEvent] = field(default_factory=list)
