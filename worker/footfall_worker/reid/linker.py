"""Linking new tracks to recently ended ones: the glue between the tracker, an encoder and the gallery."""

from dataclasses import dataclass, field

import numpy as np

from footfall_worker.reid.appearance import AppearanceEncoder
from footfall_worker.reid.cache import ReidCache
from footfall_worker.tracking.events import TrackedBoxes, TrackEvent, TrackEventKind


@dataclass(frozen=True, slots=True)
class Link:
    """`track_id` is the same person as `earlier_track_id` of run `earlier_run_id`."""

    track_id: int
    earlier_track_id: int
    earlier_run_id: str
    similarity: float


@dataclass(slots=True)
class _Appearance:
    first_seen_wall_s: float
    samples: list[np.ndarray] = field(default_factory=list)
    last_sample_s: float = float("-inf")
    queried: bool = False


class TrackLinker:
    """Samples each track's appearance, stores ended tracks in the gallery, and links new ones to them.

    A new track is compared only once it has `match_after` samples spread over `sample_interval_s` steps:
    one frame of someone walking in, half occluded by the door frame, is a poor description of them.

    Args:
        encoder: appearance embeddings for boxes (colour histograms today, a ReID model later).
        cache: the channel's gallery and linking rule.
        samples_per_track: embeddings kept per track (the newest).
        sample_interval_s: time between samples of one track.
        match_after: samples a new track needs before it is compared.
    """

    def __init__(
        self,
        encoder: AppearanceEncoder,
        cache: ReidCache,
        samples_per_track: int = 6,
        sample_interval_s: float = 0.3,
        match_after: int = 3,
    ) -> None:
        self.encoder = encoder
        self.cache = cache
        self.samples_per_track = samples_per_track
        self.sample_interval_s = sample_interval_s
        self.match_after = match_after
        self._tracks: dict[int, _Appearance] = {}
        self.links: dict[int, Link] = {}  # of tracks still alive

    def observe(self, frame: np.ndarray, tracks: TrackedBoxes, events: list[TrackEvent], wall_s: float) -> list[Link]:
        """Feed one processed frame: its visible tracks, the tracker's events and the frame's wall time."""
        for event in events:
            if event.kind is TrackEventKind.STARTED:
                self._tracks[event.track_id] = _Appearance(wall_s)
        self._sample(frame, tracks, wall_s)
        new_links = [link for track_id in tracks.track_id.tolist() if (link := self._maybe_link(track_id))]
        self.remember_ended(events, wall_s)
        return new_links

    def remember_ended(self, events: list[TrackEvent], wall_s: float) -> None:
        """File the ended tracks among `events` in the gallery (also without a frame: the tracker's finish)."""
        for event in events:
            if event.kind is TrackEventKind.ENDED:
                self._remember(event, wall_s)
                self.links.pop(event.track_id, None)  # links are for the living: a long run must not grow

    def _sample(self, frame: np.ndarray, tracks: TrackedBoxes, wall_s: float) -> None:
        due = [
            i
            for i, track_id in enumerate(tracks.track_id.tolist())
            if track_id in self._tracks and wall_s - self._tracks[track_id].last_sample_s >= self.sample_interval_s
        ]
        if not due:
            return
        embeddings = self.encoder.encode(frame, tracks.xyxy[due])
        for i, embedding in zip(due, embeddings, strict=True):
            appearance = self._tracks[int(tracks.track_id[i])]
            appearance.last_sample_s = wall_s
            if embedding.any():
                appearance.samples = [*appearance.samples[-(self.samples_per_track - 1) :], embedding]

    def _maybe_link(self, track_id: int) -> Link | None:
        appearance = self._tracks.get(track_id)
        if appearance is None or appearance.queried or len(appearance.samples) < self.match_after:
            return None
        appearance.queried = True
        found = self.cache.match(np.stack(appearance.samples), now_s=appearance.first_seen_wall_s)
        if found is None:
            return None
        self.cache.forget(found.track_id, found.run_id)
        link = self.links[track_id] = Link(track_id, found.track_id, found.run_id, found.similarity)
        return link

    def _remember(self, event: TrackEvent, wall_s: float) -> None:
        appearance = self._tracks.pop(event.track_id, None)
        if appearance is not None and appearance.samples:
            # Filed under when the person was last SEEN (the tracker ends a track a buffer later): a new
            # track that started after that moment may be them; one that started before cannot.
            last_seen_wall_s = wall_s - (event.t - event.track.last_seen_s)
            self.cache.remember(
                event.track_id, np.stack(appearance.samples), last_seen_wall_s, event.track.observed_xyxy
            )
