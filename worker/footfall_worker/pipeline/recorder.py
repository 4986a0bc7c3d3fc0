"""Tracker events -> the record's rows: a track's row as it grows, its sampled boxes, started/ended events.

A pure mapping: it returns rows and events, writes nothing and decides nothing about gender (`TrackGender`
says when an ended track's label is final). A track's row is re-sent whenever it changes (the writer upserts,
the newest wins), so a crash loses at most the last history interval.
"""

from collections import Counter
from dataclasses import dataclass

from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.pipeline.frame_result import FrameResult
from footfall_worker.reid.linker import Link
from footfall_worker.storage.records import EventRow, TrackPoint, TrackRow
from footfall_worker.tracking.events import TrackEvent, TrackEventKind
from footfall_worker.tracking.track import Track


@dataclass(frozen=True, slots=True)
class _Ended:
    track: Track
    ended_wall: float
    offset_s: float  # wall - tracker clock when it ended


class TrackRecorder:
    """Turns one channel's tracker events into storage records.

    Args:
        run_id: the worker run the rows belong to.
        gender: the tracks' labels and votes, read for each row.
    """

    def __init__(self, run_id: str, gender: TrackGender) -> None:
        self.run_id = run_id
        self._gender = gender
        self._links: dict[int, Link] = {}
        self._staff: set[int] = set()  # tracks tagged staff (analytics), until their final row
        self._ended: dict[int, _Ended] = {}
        self.tracks_started = 0
        self.tracks_finished = 0
        self.genders: Counter[str] = Counter()  # final labels of the finished tracks

    def mark_staff(self, track_id: int) -> None:
        """The track is staff (a `staff_tagged` event): its rows say so from now on."""
        self._staff.add(track_id)

    def link(self, link: Link) -> None:
        """Remember a ReID link; it goes out with the track's next row."""
        self._links[link.track_id] = link

    def record(self, events: list[TrackEvent], offset_s: float, out: FrameResult) -> None:
        """Add the rows `events` imply to `out`, and the tracks started as channel events on the wall clock.
        `offset_s` converts the tracker's clock to wall time. An ended track's final row waits for `finish`."""
        for event in events:
            track, wall = event.track, event.t + offset_s
            if event.kind is TrackEventKind.UPDATED:
                x1, y1, x2, y2 = (float(v) for v in event.xyxy)
                out.records.append(TrackPoint(self.run_id, event.track_id, wall, x1, y1, x2, y2))
                out.records.append(self._row(track, offset_s))
            elif event.kind is TrackEventKind.STARTED:
                self.tracks_started += 1
                out.records.append(self._row(track, offset_s))
                box = [round(float(v), 1) for v in event.xyxy]
                started = ChannelEvent(EventKind.TRACK_STARTED, event.track_id, wall, {"box": box})
                out.records.append(EventRow.of(self.run_id, started))
                out.events.append(started)
            elif event.kind is TrackEventKind.ENDED:
                out.records.append(self._row(track, offset_s))
                self._ended[event.track_id] = _Ended(track, wall, offset_s)

    def finish(self, track_ids: list[int], out: FrameResult) -> None:
        """Add the final rows of ended tracks whose labels are final, and their `track_ended` events (wall
        clock; the payload has the gender). Ids the recorder never saw end are ignored."""
        for track_id in track_ids:
            ended = self._ended.pop(track_id, None)
            if ended is None:
                continue
            track = ended.track
            label = self._gender.label(track_id)
            out.records.append(self._row(track, ended.offset_s))
            payload: dict[str, object] = {
                "gender": label,
                "duration_s": round(track.duration_s, 2),
                "frames": track.frames_seen,
            }
            link = self._links.pop(track_id, None)
            if link is not None:
                payload["linked"] = {"run_id": link.earlier_run_id, "track_id": link.earlier_track_id}
            if track_id in self._staff:
                payload["staff"] = True
            self._staff.discard(track_id)
            event = ChannelEvent(EventKind.TRACK_ENDED, track_id, ended.ended_wall, payload)
            out.records.append(EventRow.of(self.run_id, event))
            out.events.append(event)
            self.tracks_finished += 1
            self.genders[label] += 1

    def _row(self, track: Track, offset_s: float) -> TrackRow:
        vote = self._gender.vote(track.track_id)
        link = self._links.get(track.track_id)
        return TrackRow(
            run_id=self.run_id,
            track_id=track.track_id,
            first_seen=track.first_seen_s + offset_s,
            last_seen=track.last_seen_s + offset_s,
            frames=track.frames_seen,
            gender=self._gender.label(track.track_id),
            gender_confidence=round(vote.confidence, 4) if vote.weight else None,
            face_votes=vote.faces,
            vote_weight=round(vote.weight, 4),
            score_mean=round(track.score_mean, 4),
            score_max=round(track.score_max, 4),
            linked_run_id=link.earlier_run_id if link else None,
            linked_track_id=link.earlier_track_id if link else None,
            staff=track.track_id in self._staff,
        )
