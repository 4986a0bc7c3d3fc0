"""What the tracker tells storage and analytics: track lifecycle events and the tracks visible now."""

import enum
from dataclasses import dataclass

import numpy as np

from footfall_worker.tracking.track import Track


class TrackEventKind(enum.StrEnum):
    STARTED = "started"  # confirmed: a person, not a one-frame flicker
    UPDATED = "updated"  # a new sample in the track's box history (every history_interval_s)
    LOST = "lost"  # out of sight; may come back within the lost-track buffer
    ENDED = "ended"  # gone for good (buffer ran out, or the tracker finished)


@dataclass(frozen=True, slots=True)
class TrackEvent:
    kind: TrackEventKind
    track_id: int
    t: float  # seconds on the tracker's clock (the frame's; the recorder adds the offset to wall time)
    xyxy: np.ndarray  # the track's box at that moment
    track: Track  # the live record: first/last seen, frames, score statistics, history


@dataclass(frozen=True, slots=True)
class TrackedBoxes:
    """Confirmed tracks seen in this frame: xyxy (m, 4), confidence (m,), track_id (m,), ids ascending."""

    xyxy: np.ndarray
    confidence: np.ndarray
    track_id: np.ndarray

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


@dataclass(frozen=True, slots=True)
class TrackingResult:
    tracks: TrackedBoxes
    events: list[TrackEvent]
