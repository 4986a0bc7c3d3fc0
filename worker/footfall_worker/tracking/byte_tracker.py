"""ByteTrack (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box", ECCV 2022).

Per frame:
1. predict every tracked and lost track to this frame's time (real time between processed frames);
2. match high-score detections to them by 1 - IoU x score (Hungarian, `lap`);
3. match the low-score detections to the tracked ones still unmatched, by IoU: an occluded person's weak
   box keeps their identity instead of being thrown away — the paper's point;
4. tracks still unmatched become lost; tentative tracks (seen once) are confirmed by a second match or
   dropped; unmatched confident detections start tentative tracks;
5. lost tracks older than the buffer end.

With `appearance` on (`refinding.py`), a confident detection that would start a track is first offered to the
lost tracks by appearance, and lost tracks wait `reid_window_s` for that (overlap matching still only within
the buffer); `appearance="off"` is the paper's ByteTrack, unchanged.

Boxes are xyxy everywhere; the tracker instance owns its id counter.
"""

import numpy as np

from footfall_worker.detections import Detections
from footfall_worker.settings import TrackerSettings
from footfall_worker.tracking import kalman
from footfall_worker.tracking.events import TrackedBoxes, TrackEvent, TrackEventKind, TrackingResult
from footfall_worker.tracking.matching import fused_cost, iou_cost, iou_matrix, linear_assignment
from footfall_worker.tracking.refinding import AppearanceProbe, refind, uncrowded, update_appearance
from footfall_worker.tracking.track import Track, TrackState

_EMPTY_BOXES = TrackedBoxes(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64))


class ByteTracker:
    """Tracks people in one channel. Not thread-safe: one tracker per processing loop.

    Args:
        settings: thresholds and buffers (`TrackerSettings`, the paper's defaults).
        min_similarity: least appearance similarity to re-find a lost track (the encoder's scale).
    """

    def __init__(self, settings: TrackerSettings | None = None, min_similarity: float = 0.9) -> None:
        self.settings = settings or TrackerSettings(_env_file=None)  # type: ignore[call-arg]
        self.uses_appearance = self.settings.appearance != "off"
        self.min_similarity = min_similarity
        self.refound = 0  # lost tracks re-found by appearance (a counter for the bench and metrics)
        self._tracked: list[Track] = []  # TENTATIVE and TRACKED
        self._lost: list[Track] = []
        self._next_id = 1
        self._frames = 0
        self.lost_timeout_s = self.settings.track_buffer / self.settings.reference_fps

    @property
    def active_tracks(self) -> list[Track]:
        """Confirmed tracks that are tracked or lost (not yet ended)."""
        return [t for t in self._tracked + self._lost if t.confirmed]

    def update(
        self, detections: Detections, timestamp_s: float, appearance: AppearanceProbe | None = None
    ) -> TrackingResult:
        """Advance the tracker by one processed frame.

        Args:
            detections: this frame's people (xyxy, scores), down to at least `low_thresh`.
            timestamp_s: the frame's capture time in seconds (monotonic); frames may be unevenly spaced.
            appearance: embeds boxes of this frame; used only when the settings turn appearance on.

        Returns:
            The confirmed tracks matched in this frame and the lifecycle events it caused.
        """
        s = self.settings
        self._frames += 1
        events: list[TrackEvent] = []
        boxes = detections.xyxy.astype(np.float64, copy=False)
        scores = detections.confidence.astype(np.float64, copy=False)
        high = np.flatnonzero(scores >= s.track_thresh)
        low = np.flatnonzero((scores > s.low_thresh) & (scores < s.track_thresh))

        tentative = [t for t in self._tracked if not t.confirmed]
        lost = self._lost
        if self.uses_appearance:  # past the buffer a lost track waits for appearance, not for overlap
            lost = [t for t in lost if timestamp_s - t.last_seen_s <= self.lost_timeout_s]
        pool = [t for t in self._tracked if t.confirmed] + lost
        pool_boxes = self._predict(pool, timestamp_s)

        # Stage 1: confident detections against tracked and lost tracks.
        matches, unmatched_pool, unmatched_high = linear_assignment(
            fused_cost(pool_boxes, boxes[high], scores[high]), s.match_thresh
        )
        matched: list[tuple[Track, int]] = [(pool[i], int(high[j])) for i, j in matches.tolist()]

        # Stage 2: weak detections against tracks that were being tracked (not the lost ones).
        still_tracked = [int(i) for i in unmatched_pool if pool[i].state is TrackState.TRACKED]
        matches, unmatched_second, _ = linear_assignment(
            iou_cost(pool_boxes[still_tracked], boxes[low]), s.second_match_thresh
        )
        matched += [(pool[still_tracked[i]], int(low[j])) for i, j in matches.tolist()]
        for i in unmatched_second:
            track = pool[still_tracked[i]]
            track.state = TrackState.LOST
            events.append(TrackEvent(TrackEventKind.LOST, track.track_id, timestamp_s, track.xyxy, track))

        # Tentative tracks: confirmed by a second sighting, dropped otherwise.
        remaining = high[unmatched_high]
        matches, unmatched_tentative, unmatched_remaining = linear_assignment(
            fused_cost(self._boxes(tentative), boxes[remaining], scores[remaining]), s.unconfirmed_match_thresh
        )
        confirmed_now = [(tentative[i], int(remaining[j])) for i, j in matches.tolist()]
        matched += confirmed_now
        for i in unmatched_tentative:
            tentative[i].state = TrackState.REMOVED

        self._correct(matched, boxes, scores, timestamp_s)
        for track, _ in confirmed_now:
            self._confirm(track, timestamp_s, events)

        # New tentative tracks from confident, unexplained detections (confirmed at once on the first frame).
        fresh = remaining[unmatched_remaining]
        fresh = fresh[scores[fresh] >= s.new_track_thresh]
        if appearance is not None and self.uses_appearance:
            fresh = self._appearance_step(matched, fresh, boxes, scores, timestamp_s, appearance)
        new_tracks = self._start(boxes[fresh], scores[fresh], timestamp_s)
        if self._frames == 1:
            for track in new_tracks:
                self._confirm(track, timestamp_s, events)

        # Lost tracks past the buffer end.
        waits_s = s.reid_window_s if self.uses_appearance else self.lost_timeout_s
        for track in self._lost:
            if track.state is TrackState.LOST and timestamp_s - track.last_seen_s > waits_s:
                track.state = TrackState.REMOVED
                events.append(TrackEvent(TrackEventKind.ENDED, track.track_id, timestamp_s, track.xyxy, track))

        self._regroup(new_tracks, events, timestamp_s)
        return TrackingResult(self._visible(timestamp_s, events), events)

    def finish(self, timestamp_s: float) -> list[TrackEvent]:
        """End every confirmed track (shutdown, end of a file); returns their ENDED events."""
        events = [
            TrackEvent(TrackEventKind.ENDED, t.track_id, timestamp_s, t.xyxy, t)
            for t in self._tracked + self._lost
            if t.confirmed
        ]
        self._tracked, self._lost = [], []
        return events

    # -- steps ------------------------------------------------------------------------------------------
    def _appearance_step(
        self,
        matched: list[tuple[Track, int]],
        fresh: np.ndarray,
        boxes: np.ndarray,
        scores: np.ndarray,
        at_s: float,
        appearance: AppearanceProbe,
    ) -> np.ndarray:
        """Sample the matched tracks that are due, re-find lost tracks among `fresh`; returns the rows left to
        start new tracks. One embedding call for both."""
        interval = self.settings.appearance_interval_s
        due = [(t, row) for t, row in matched if t.confirmed and at_s - t.appearance_at_s >= interval]
        if due:  # the frame's pairwise overlaps only on the frames that sample someone
            clear = uncrowded(boxes)
            due = [(track, row) for track, row in due if clear[row]]
        candidates = [t for t in self._lost if t.state is TrackState.LOST and t.appearance is not None]
        asked = fresh if candidates else fresh[:0]
        rows = np.concatenate([np.fromiter((row for _, row in due), np.int64, len(due)), asked])
        if not len(rows):
            return fresh
        embeddings = np.asarray(appearance(boxes[rows]), dtype=np.float32)
        for (track, _), embedding in zip(due, embeddings[: len(due)], strict=True):
            update_appearance(track, embedding, at_s)
        if not len(asked):
            return fresh
        pairs, left = refind(candidates, boxes[asked], embeddings[len(due) :], at_s, self.min_similarity)
        for track, j in pairs:
            row = int(asked[j])
            # The prediction went stale while lost: start the filter afresh at the box, keep the identity.
            means, covariances = kalman.initiate(boxes[row : row + 1])
            track.mean, track.covariance, track.predicted_at_s = means[0], covariances[0], at_s
            track.observed(boxes[row], float(scores[row]), at_s)
            track.state = TrackState.TRACKED
            self.refound += 1
        return asked[left]

    def _predict(self, tracks: list[Track], timestamp_s: float) -> np.ndarray:
        """Move `tracks` to `timestamp_s`; returns their predicted xyxy boxes."""
        if not tracks:
            return np.zeros((0, 4))
        means = np.array([t.mean for t in tracks])
        covariances = np.array([t.covariance for t in tracks])
        # ByteTrack lets a lost track drift at its last speed, only freezing its height.
        lost = np.fromiter((t.state is not TrackState.TRACKED for t in tracks), bool, len(tracks))
        means[lost, 7] = 0.0
        steps = np.fromiter((timestamp_s - t.predicted_at_s for t in tracks), float, len(tracks))
        means, covariances = kalman.predict(means, covariances, np.maximum(steps, 0.0) * self.settings.reference_fps)
        for track, mean, covariance in zip(tracks, means, covariances, strict=True):
            track.mean, track.covariance, track.predicted_at_s = mean, covariance, timestamp_s
        boxes = kalman.xyah_to_xyxy(means[:, :4])
        if self.settings.freeze_lost and lost.any():
            # In a store people are mostly lost to occlusion from below (a shelf, another shopper): the box
            # shrinks towards the head, the filter learns a fake upward speed and the prediction runs away from
            # where the person reappears. Matching a lost track by its last observed box finds them again.
            boxes[lost] = [t.observed_xyxy for t, is_lost in zip(tracks, lost, strict=True) if is_lost]
        return boxes

    @staticmethod
    def _boxes(tracks: list[Track]) -> np.ndarray:
        if not tracks:
            return np.zeros((0, 4))
        return kalman.xyah_to_xyxy(np.array([t.mean[:4] for t in tracks]))

    def _correct(self, matched: list[tuple[Track, int]], boxes: np.ndarray, scores: np.ndarray, at_s: float) -> None:
        if not matched:
            return
        tracks = [track for track, _ in matched]
        rows = np.fromiter((j for _, j in matched), np.int64, len(matched))
        means, covariances = kalman.update(
            np.array([t.mean for t in tracks]), np.array([t.covariance for t in tracks]), boxes[rows]
        )
        for track, mean, covariance, row in zip(tracks, means, covariances, rows, strict=True):
            track.mean, track.covariance, track.predicted_at_s = mean, covariance, at_s
            track.observed(boxes[row], float(scores[row]), at_s)
            if track.state is TrackState.LOST:
                track.state = TrackState.TRACKED

    def _confirm(self, track: Track, at_s: float, events: list[TrackEvent]) -> None:
        track.track_id = self._next_id
        self._next_id += 1
        track.state = TrackState.TRACKED
        events.append(TrackEvent(TrackEventKind.STARTED, track.track_id, at_s, track.xyxy, track))

    def _start(self, boxes: np.ndarray, scores: np.ndarray, at_s: float) -> list[Track]:
        if len(scores) == 0:
            return []
        means, covariances = kalman.initiate(boxes)
        return [Track(means[i], covariances[i], at_s, float(scores[i])) for i in range(len(scores))]

    def _regroup(self, new_tracks: list[Track], events: list[TrackEvent], at_s: float) -> None:
        """Sort tracks into tracked and lost lists again and resolve tracked/lost duplicates."""
        everyone = self._tracked + self._lost + new_tracks
        tracked = [t for t in everyone if t.state in (TrackState.TENTATIVE, TrackState.TRACKED)]
        lost = [t for t in everyone if t.state is TrackState.LOST]
        confirmed_tracked = [t for t in tracked if t.confirmed]
        if confirmed_tracked and lost:
            overlap = iou_matrix(self._boxes(confirmed_tracked), self._boxes(lost))
            for i, j in zip(*np.nonzero(overlap > self.settings.duplicate_iou), strict=True):
                # Two tracks on one person: keep the one with the longer history.
                a, b = confirmed_tracked[i], lost[j]
                loser = b if a.duration_s >= b.duration_s else a
                if loser.state is not TrackState.REMOVED:
                    loser.state = TrackState.REMOVED
                    events.append(TrackEvent(TrackEventKind.ENDED, loser.track_id, at_s, loser.xyxy, loser))
            tracked = [t for t in tracked if t.state is not TrackState.REMOVED]
            lost = [t for t in lost if t.state is not TrackState.REMOVED]
        self._tracked, self._lost = tracked, lost

    def _visible(self, at_s: float, events: list[TrackEvent]) -> TrackedBoxes:
        """Confirmed tracks matched in this frame; samples their history and emits UPDATED events."""
        visible = [t for t in self._tracked if t.confirmed and t.last_seen_s == at_s]
        if not visible:
            return _EMPTY_BOXES
        visible.sort(key=lambda t: t.track_id)
        xyxy = self._boxes(visible)
        interval = self.settings.history_interval_s
        for track, box in zip(visible, xyxy, strict=True):
            if at_s - track.last_history_s >= interval:
                track.last_history_s = at_s
                track.history.append((at_s, *map(float, box)))
                if len(track.history) > self.settings.max_history:
                    track.history.popleft()
                events.append(TrackEvent(TrackEventKind.UPDATED, track.track_id, at_s, box, track))
        return TrackedBoxes(
            xyxy.astype(np.float32),
            np.fromiter((t.score for t in visible), np.float32, len(visible)),
            np.fromiter((t.track_id for t in visible), np.int64, len(visible)),
        )
