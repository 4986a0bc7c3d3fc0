"""Gender per track, its whole lifecycle: pick each track's best crop per interval, classify it off the frame
path, vote, and say when an ended track's label is final (its results are in, or overdue)."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from footfall_worker.classify.crop_selection import crop_quality
from footfall_worker.classify.gender_votes import GenderVote
from footfall_worker.classify.gender_worker import GenderRequest, GenderResult, GenderWorker
from footfall_worker.inference.gender_classifier import person_crops
from footfall_worker.labels import Gender
from footfall_worker.settings import GenderSettings
from footfall_worker.tracking.events import TrackedBoxes


@dataclass(slots=True)
class _Candidate:
    quality: float
    crop: np.ndarray
    window_start_s: float


class TrackGender:
    """Decides which crops go to the classifier and keeps each track's vote.

    Per confirmed track: within each `crop_interval_s` the best crop (see `crop_quality`) is kept; at the end
    of the interval it is submitted, at most `max_crops_per_track` times, and no more once the vote is
    decided. `observe` costs a thumbnail and a Laplacian per visible track; it never waits for a result.

    An ended track is settled once every crop it asked about has been answered, or `settle_s` after it ended
    (Triton may never answer), so the label a track ends with is the one its crops earned. With no classifier
    (`off`) every track is "unknown" and settles as it ends.

    Args:
        settings: `GenderSettings`.
        submit: hands a request to the classifier (e.g. `GenderWorker.submit`); False when it was dropped.
            None: gender is off.
        settle_s: how long an ended track waits for its outstanding results.
        worker: the classifier's thread, when results are to be collected from it (`collect`, `wait`).
    """

    def __init__(
        self,
        settings: GenderSettings,
        submit: Callable[[GenderRequest], bool] | None,
        settle_s: float = 3.0,
        worker: GenderWorker | None = None,
    ) -> None:
        self.settings = settings
        self._submit = submit
        self._settle_s = settle_s
        self._worker = worker
        self._votes: dict[int, GenderVote] = {}
        self._asked: dict[int, int] = {}
        self._candidates: dict[int, _Candidate] = {}
        self._ending: dict[int, float] = {}  # ended track -> monotonic deadline for its results

    @classmethod
    def using(cls, worker: GenderWorker, settings: GenderSettings, settle_s: float) -> "TrackGender":
        return cls(settings, worker.submit, settle_s, worker)

    @classmethod
    def off(cls) -> "TrackGender":
        return cls(GenderSettings(), None)

    def collect(self) -> None:
        """Apply the classifier's finished results (never waits)."""
        if self._worker is not None:
            self.apply(self._worker.drain())

    def wait(self, timeout_s: float) -> None:
        """At shutdown: give the classifier up to `timeout_s` to answer what is queued, then collect."""
        if self._worker is not None:
            self._worker.wait_idle(timeout_s)
        self.collect()

    def observe(self, frame: np.ndarray, tracks: TrackedBoxes, at_s: float) -> None:
        if self._submit is None:
            return
        s = self.settings
        for box, confidence, track_id in zip(tracks.xyxy, tracks.confidence, tracks.track_id.tolist(), strict=True):
            vote = self._votes.setdefault(track_id, GenderVote())
            if self._asked.get(track_id, 0) >= s.max_crops_per_track or vote.decided(
                s.min_confidence, s.decided_weight
            ):
                continue
            if box[3] - box[1] < s.min_box_height:
                continue
            quality = crop_quality(frame, box, float(confidence))
            candidate = self._candidates.get(track_id)
            if candidate is None or quality > candidate.quality:
                crop = person_crops(frame, box[None])[0]
                if crop is None:
                    continue
                start = at_s if candidate is None else candidate.window_start_s
                candidate = self._candidates[track_id] = _Candidate(quality, crop.copy(), start)
            if at_s - candidate.window_start_s >= s.crop_interval_s:
                self._send(track_id, at_s)

    def track_ended(self, track_id: int, at_s: float) -> None:
        """A track that ends mid-interval still gets its best crop classified; its settle time starts."""
        if track_id in self._candidates and self._asked.get(track_id, 0) < self.settings.max_crops_per_track:
            self._send(track_id, at_s)
        self._candidates.pop(track_id, None)
        self._ending[track_id] = time.monotonic() + self._settle_s

    def settled(self, force: bool = False) -> list[int]:
        """The ended tracks whose label is now final (all of them when `force`), in the order they ended.
        They stay known (`label`, `vote`) until `forget`."""
        now = time.monotonic()
        done = [
            track_id
            for track_id, deadline in self._ending.items()
            if force or now >= deadline or self._asked.get(track_id, 0) <= self.vote(track_id).crops
        ]
        for track_id in done:
            del self._ending[track_id]
        return done

    @property
    def pending(self) -> int:
        """Ended tracks waiting for their results."""
        return len(self._ending)

    def apply(self, results: list[GenderResult]) -> None:
        for result in results:
            if result.track_id in self._votes:
                self._votes[result.track_id].add(result.estimate)

    def vote(self, track_id: int) -> GenderVote:
        return self._votes.get(track_id, GenderVote())

    def label(self, track_id: int) -> Gender:
        return self.vote(track_id).label(self.settings.min_confidence, self.settings.min_weight)

    def forget(self, track_id: int) -> None:
        """Drop everything about a track once its final label has been recorded."""
        self._votes.pop(track_id, None)
        self._asked.pop(track_id, None)
        self._candidates.pop(track_id, None)
        self._ending.pop(track_id, None)

    def asked(self, track_id: int) -> int:
        return self._asked.get(track_id, 0)

    def _send(self, track_id: int, at_s: float) -> None:
        candidate = self._candidates.pop(track_id)
        if self._submit is not None and self._submit(GenderRequest(track_id, candidate.crop, at_s)):
            self._asked[track_id] = self._asked.get(track_id, 0) + 1
