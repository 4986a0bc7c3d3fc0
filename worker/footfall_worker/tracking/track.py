"""One tracked person: Kalman state, lifecycle, and the record storage and analytics read."""

import enum
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from footfall_worker.tracking.kalman import xyah_to_xyxy


class TrackState(enum.IntEnum):
    TENTATIVE = 0  # seen once; becomes TRACKED (and gets its id) when matched again
    TRACKED = 1
    LOST = 2  # not matched lately; kept for re-association until the lost-track buffer runs out
    REMOVED = 3


@dataclass(slots=True, eq=False)
class Track:
    """A person across frames. `track_id` is 0 until the track is confirmed, then unique per tracker."""

    mean: np.ndarray  # Kalman state (8,)
    covariance: np.ndarray  # (8, 8)
    first_seen_s: float
    score: float
    track_id: int = 0
    state: TrackState = TrackState.TENTATIVE
    last_seen_s: float = 0.0
    predicted_at_s: float = 0.0
    frames_seen: int = 1
    score_sum: float = 0.0
    score_max: float = 0.0
    last_history_s: float = float("-inf")
    history: deque[tuple[float, float, float, float, float]] = field(default_factory=deque)
    observed_xyxy: np.ndarray = field(default_factory=lambda: np.zeros(4))  # the last matched detection box
    appearance: np.ndarray | None = None  # running mean embedding (unit length), when appearance is on
    appearance_at_s: float = float("-inf")  # when it was last sampled

    def __post_init__(self) -> None:
        self.last_seen_s = self.predicted_at_s = self.first_seen_s
        self.score_sum = self.score_max = self.score
        if not self.observed_xyxy.any():
            self.observed_xyxy = self.xyxy

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0

    @property
    def xyxy(self) -> np.ndarray:
        return xyah_to_xyxy(self.mean[None, :4])[0]

    @property
    def score_mean(self) -> float:
        return self.score_sum / self.frames_seen

    @property
    def duration_s(self) -> float:
        return self.last_seen_s - self.first_seen_s

    def observed(self, box: np.ndarray, score: float, at_s: float) -> None:
        self.observed_xyxy = box
        self.frames_seen += 1
        self.score_sum += score
        self.score_max = max(self.score_max, score)
        self.score = score
        self.last_seen_s = at_s
