"""Tracker events -> the record's rows: a track's row as it grows, its sampled boxes, started/ended events.

A track's row is re-sent whenever it changes (the writer upserts, the newest wins), so a crash loses at most
the last history interval. An ended track's final row waits up to `settle_s` for gender results still in
flight, so the label a track ends with is the one its crops earned, not whatever had arrived by then.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from footfall_worker.classify.gender_votes import GenderVote
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.reid.linker import Link
from footfall_worker.storage.records import EventRow, Record, TrackPoint, TrackRow
from footfall_worker.tracking.events import TrackEvent, TrackEventKind
from footfall_worker.tracking.track import Track

Put = Callable[[Record], bool]


@dataclass(slots=True)
class _Ending:
    track: Track
    ended_wall: float
    offset_s: float  # wall - tracker clock when it ended
    deadline_mono: float


class TrackRecorder:
    """Turns one channel's tracker events into storage records.

    Args:
        run_id: the worker run the rows belong to.
        put: hands a record to the writer (`PostgresWriter.put`); never blocks.
        gender: the tracks' gender votes, or None when gender is off.
        settle_s: how long an ended track's final row waits for its outstanding gender results.
    """

    def __init__(self, run_id: str, put: Put, gender: TrackGender | None, settle_s: float = 3.0) -> None:
        self.run_id = run_id
        self._put = put
        self._gender = gender
        self._settle_s = settle_s
        self._links: dict[int, Link] = {}
        self._ending: dict[int, _Ending] = {}
        self.tracks_started = 0
        self.tracks_finished = 0
        self.genders: Counter[str] = Counter()  # final labels of the finished tracks

    def link(self, link: Link) -> None:
        """Remember a ReID link; it goes out with the track's next row."""
        self._links[link.track_id] = link

    def record(self, events: list[TrackEvent], offset_s: float) -> list[ChannelEvent]:
        """Write the rows `events` imply; returns the tracks started, as channel events on the wall clock.
        `offset_s` converts the tracker's clock to wall time."""
        started: list[ChannelEvent] = []
        for event in events:
            track, wall = event.track, event.t + offset_s
            if event.kind is TrackEventKind.UPDATED:
                x1, y1, x2, y2 = (float(v) for v in event.xyxy)
                self._put(TrackPoint(self.run_id, event.track_id, wall, x1, y1, x2, y2))
                self._put(self._row(track, offset_s))
            elif event.kind is TrackEventKind.STARTED:
                self.tracks_started += 1
                self._put(self._row(track, offset_s))
                box = [round(float(v), 1) for v in event.xyxy]
                started.append(ChannelEvent(EventKind.TRACK_STARTED, event.track_id, wall, {"box": box}))
                self._put(EventRow.of(self.run_id, started[-1]))
            elif event.kind is TrackEventKind.ENDED:
                self._put(self._row(track, offset_s))
                if self._gender is not None:
                    self._gender.track_ended(event.track_id, event.t)
                self._ending[event.track_id] = _Ending(track, wall, offset_s, time.monotonic() + self._settle_s)
        return started

    def settle(self, force: bool = False) -> list[ChannelEvent]:
        """Write the final rows of ended tracks whose gender results are in (or overdue; all when `force`);
        returns their `track_ended` events (wall clock; the payload has the gender)."""
        if not self._ending:
            return []
        now = time.monotonic()
        finished = []
        for track_id, ending in list(self._ending.items()):
            if not (force or now >= ending.deadline_mono or self._answered(track_id)):
                continue
            del self._ending[track_id]
            track = ending.track
            label = self._gender.label(track_id) if self._gender is not None else "unknown"
            self._put(self._row(track, ending.offset_s))
            payload: dict[str, object] = {
                "gender": label,
                "duration_s": round(track.duration_s, 2),
                "frames": track.frames_seen,
            }
            link = self._links.pop(track_id, None)
            if link is not None:
                payload["linked"] = {"run_id": link.earlier_run_id, "track_id": link.earlier_track_id}
            ended = ChannelEvent(EventKind.TRACK_ENDED, track_id, ending.ended_wall, payload)
            self._put(EventRow.of(self.run_id, ended))
            if self._gender is not None:
                self._gender.forget(track_id)
            self.tracks_finished += 1
            self.genders[label] += 1
            finished.append(ended)
        return finished

    @property
    def pending(self) -> int:
        """Ended tracks waiting for their gender results."""
        return len(self._ending)

    def _answered(self, track_id: int) -> bool:
        return self._gender is None or self._gender.asked(track_id) <= self._gender.vote(track_id).crops

    def _row(self, track: Track, offset_s: float) -> TrackRow:
        vote = self._gender.vote(track.track_id) if self._gender is not None else GenderVote()
        label = self._gender.label(track.track_id) if self._gender is not None else "unknown"
        link = self._links.get(track.track_id)
        return TrackRow(
            run_id=self.run_id,
            track_id=track.track_id,
            first_seen=track.first_seen_s + offset_s,
            last_seen=track.last_seen_s + offset_s,
            frames=track.frames_seen,
            gender=label,
            gender_confidence=round(vote.confidence, 4) if vote.weight else None,
            face_votes=vote.faces,
            vote_weight=round(vote.weight, 4),
            score_mean=round(track.score_mean, 4),
            score_max=round(track.score_max, 4),
            linked_run_id=link.earlier_run_id if link else None,
            linked_track_id=link.earlier_track_id if link else None,
        )
