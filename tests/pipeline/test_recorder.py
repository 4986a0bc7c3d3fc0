"""Tracker events become rows: a track's row as it grows, sampled boxes, started/ended events, minute stats."""

import numpy as np
import pytest

from footfall_worker.classify.gender_worker import GenderRequest, GenderResult
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.inference import GenderEstimate
from footfall_worker.pipeline.frame_result import FrameResult
from footfall_worker.pipeline.minute_stats import MinuteStats
from footfall_worker.pipeline.recorder import TrackRecorder
from footfall_worker.settings import GenderSettings, TrackerSettings
from footfall_worker.storage.records import EventRow, Record, TrackPoint, TrackRow
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEvent, TrackEventKind

OFFSET = 1_800_000_000.0  # tracker clock -> wall clock
FEMALE_FACE = GenderEstimate(0.95, 0.05, 0.9, (1.0, 1.0, 20.0, 20.0))


class Recording:
    """The recorder, its gender lifecycle and everything they produced, as `FrameProcessor` drives them."""

    def __init__(self, run_id: str, gender: TrackGender) -> None:
        self.gender = gender
        self.recorder = TrackRecorder(run_id, gender)
        self.out = FrameResult(None, None, None)

    def record(self, events: list[TrackEvent]) -> None:
        for event in events:
            if event.kind is TrackEventKind.ENDED:
                self.gender.track_ended(event.track_id, event.t)
        self.recorder.record(events, OFFSET, self.out)

    def settle(self, force: bool = False) -> list[ChannelEvent]:
        """The track_ended events of the tracks settled now."""
        before = len(self.out.events)
        settled = self.gender.settled(force)
        self.recorder.finish(settled, self.out)
        for track_id in settled:
            self.gender.forget(track_id)
        return [e for e in self.out.events[before:] if e.kind is EventKind.TRACK_ENDED]

    @property
    def rows(self) -> list[Record]:
        return self.out.records


def walk(tracker: ByteTracker, recording: Recording, frames: int, start_s: float = 0.0) -> float:
    """One person walking right at 10 fps, then nobody until the tracker ends the track."""
    t = start_s
    for i in range(frames):
        box = np.array([[100 + 8 * i, 100, 160 + 8 * i, 260]], np.float32)
        recording.record(tracker.update(Detections(box, np.array([0.9], np.float32)), t).events)
        t += 0.1
    for _ in range(40):  # 4 s empty: past the 1 s lost-track buffer
        recording.record(tracker.update(Detections.empty(), t).events)
        t += 0.1
    return t


def of_type(records: list[Record], kind: type) -> list:
    return [r for r in records if type(r) is kind]


def test_a_walk_becomes_a_track_row_its_points_and_two_events() -> None:
    tracker = ByteTracker(TrackerSettings(_env_file=None))  # type: ignore[call-arg]
    recording = Recording("run-1", TrackGender.off())
    walk(tracker, recording, frames=30)
    finished = recording.settle()  # gender off: an ended track is final at once
    assert [f.track_id for f in finished] == [1] and finished[0].payload["gender"] == "unknown"
    rows, recorder = recording.rows, recording.recorder

    tracks = of_type(rows, TrackRow)
    assert {r.track_id for r in tracks} == {1} and all(r.run_id == "run-1" for r in tracks)
    final = tracks[-1]
    assert final.first_seen == OFFSET + 0.0 and abs(final.last_seen - (OFFSET + 2.9)) < 1e-6
    assert final.frames == 30 and final.gender == "unknown" and final.score_max == 0.9
    points = of_type(rows, TrackPoint)
    # A point per 0.5 s history interval over 2.9 s of sight, in time order, moving right.
    assert 5 <= len(points) <= 7
    assert [p.t for p in points] == sorted(p.t for p in points)
    assert points[-1].x1 > points[0].x1 + 100
    events = of_type(rows, EventRow)
    assert [e.kind for e in events] == ["track_started", "track_ended"]
    assert events[1].payload == {"gender": "unknown", "duration_s": 2.9, "frames": 30}
    assert recorder.tracks_started == recorder.tracks_finished == 1 and recording.gender.pending == 0
    started, ended = recording.out.events
    assert (started.kind, ended.kind, ended.t) == (EventKind.TRACK_STARTED, EventKind.TRACK_ENDED, events[1].t)


def test_an_ended_track_waits_for_its_gender_result_then_records_the_label() -> None:
    requests: list[GenderRequest] = []
    gender = TrackGender(
        GenderSettings(_env_file=None, min_box_height=10, crop_interval_s=0.2),  # type: ignore[call-arg]
        lambda request: requests.append(request) or True,
        settle_s=60.0,
    )
    tracker = ByteTracker(TrackerSettings(_env_file=None))  # type: ignore[call-arg]
    recording = Recording("run-2", gender)
    frame = np.full((480, 640, 3), 128, np.uint8)
    t = 0.0
    for i in range(6):
        box = np.array([[100 + 8 * i, 100, 160 + 8 * i, 260]], np.float32)
        result = tracker.update(Detections(box, np.array([0.9], np.float32)), t)
        gender.observe(frame, result.tracks, t)
        recording.record(result.events)
        t += 0.1
    for _ in range(15):
        recording.record(tracker.update(Detections.empty(), t).events)
        t += 0.1
    assert requests, "the track's crops were sent to the classifier"
    assert recording.settle() == [] and gender.pending == 1  # results outstanding: the final row waits
    assert of_type(recording.rows, EventRow)[-1].kind == "track_started"

    gender.apply([GenderResult(r.track_id, FEMALE_FACE, r.at_s) for r in requests])
    finished = recording.settle()
    assert [(f.track_id, f.payload["gender"]) for f in finished] == [(1, "female")]
    assert of_type(recording.rows, TrackRow)[-1].gender == "female"
    assert of_type(recording.rows, EventRow)[-1].payload["gender"] == "female"
    assert recording.recorder.genders["female"] == 1
    assert gender.asked(1) == 0 and gender.pending == 0  # forgotten once recorded


def test_an_overdue_gender_result_does_not_hold_the_final_row_forever() -> None:
    gender = TrackGender(
        GenderSettings(_env_file=None, min_box_height=10, crop_interval_s=0.2),  # type: ignore[call-arg]
        lambda request: True,  # accepted, never answered (Triton went down)
        settle_s=0.0,
    )
    tracker = ByteTracker(TrackerSettings(_env_file=None))  # type: ignore[call-arg]
    recording = Recording("run-3", gender)
    frame = np.full((480, 640, 3), 128, np.uint8)
    for i in range(6):
        box = np.array([[100, 100, 160, 260]], np.float32)
        result = tracker.update(Detections(box, np.array([0.9], np.float32)), i * 0.1)
        gender.observe(frame, result.tracks, i * 0.1)
    recording.record(tracker.finish(1.0))
    assert gender.asked(1) >= 1
    assert [f.payload["gender"] for f in recording.settle()] == ["unknown"]


def test_minute_stats_roll_over_on_the_wall_clock_minute() -> None:
    stats = MinuteStats()
    minute = 1_800_000_000.0 - (1_800_000_000.0 % 60)
    assert stats.observe(minute + 1.0, [1], started=1) is None
    assert stats.observe(minute + 2.0, [1, 2], started=1) is None
    assert stats.observe(minute + 3.0, [2], started=0) is None
    done = stats.observe(minute + 61.0, [], started=0)
    assert done is not None and done.minute == minute
    assert (done.people_count, done.unique_tracks, done.occupancy_max) == (2, 2, 2)
    assert done.occupancy_avg == round(4 / 3, 3) and done.fps == 1.0
    partial = stats.flush()
    assert partial is not None and partial.minute == minute + 60 and partial.unique_tracks == 0
    assert stats.flush() is None


def crossing(t: float, direction: str, gender: str | None = None) -> ChannelEvent:
    return ChannelEvent(EventKind.LINE_CROSSING, 1, t, {"line": "door", "direction": direction, "gender": gender})


def test_minute_stats_count_entries_by_gender_exits_and_dwells_in_their_minute() -> None:
    stats = MinuteStats()
    minute = 1_800_000_000.0 - (1_800_000_000.0 % 60)
    stats.observe(minute + 1.0, [1], started=1)
    events = [crossing(minute + 2.0, "in", "female"), crossing(minute + 2.0, "in"), crossing(minute + 2.0, "out")]
    assert stats.count(events) == []
    stats.count([ChannelEvent(EventKind.ZONE_EXIT, 1, minute + 3.0, {"zone": "q", "dwell_s": 4.0})])
    stats.count([ChannelEvent(EventKind.ZONE_EXIT, 2, minute + 4.0, {"zone": "q", "dwell_s": 8.0})])
    done = stats.observe(minute + 61.0, [], started=0)
    assert done is not None
    assert (done.entries, done.exits, done.entries_female, done.entries_male, done.entries_unknown) == (2, 1, 1, 0, 1)
    assert (done.dwells, done.dwell_mean_s) == (2, 6.0)
    later = stats.flush()
    assert later is not None and (later.entries, later.dwells, later.dwell_mean_s) == (0, 0, None)


def test_a_zone_exit_known_after_its_minute_closed_corrects_that_minute() -> None:
    stats = MinuteStats()
    minute = 1_800_000_000.0 - (1_800_000_000.0 % 60)
    stats.observe(minute + 58.0, [1], started=1)
    first = stats.observe(minute + 61.0, [], started=0)  # the first minute is emitted without the visit
    assert first is not None and first.dwells == 0
    # the visit's last time inside was in the first minute; its grace ran out in the second
    (corrected,) = stats.count([ChannelEvent(EventKind.ZONE_EXIT, 1, minute + 59.0, {"zone": "q", "dwell_s": 3.0})])
    assert corrected.minute == minute and (corrected.dwells, corrected.dwell_mean_s) == (1, 3.0)
    assert (corrected.people_count, corrected.occupancy_max) == (first.people_count, first.occupancy_max)
    second = stats.flush()
    assert second is not None and second.dwells == 0


def test_minute_stats_cover_the_time_between_close_frames_and_split_it_at_the_minute() -> None:
    stats = MinuteStats()
    minute = 1_800_000_000.0 - (1_800_000_000.0 % 60)
    for k in range(11):  # 10 fps from :50 to :51: one second seen
        assert stats.observe(minute + 50.0 + k / 10, [], started=0) is None
    stats.observe(minute + 55.0, [], started=0)  # 4 s without a frame (camera stalled): not seen
    first = None
    for k in range(1, 60):  # 0.1 s steps from :55 to 1:00.9, across the minute's end
        done = stats.observe(minute + 55.0 + k / 10, [], started=0)
        if done is not None:
            first = done
    assert first is not None and first.minute == minute and first.covered_s == pytest.approx(1.0 + 5.0)
    assert stats.covered_total_s == pytest.approx(1.0 + 5.9)
    stats.observe(minute + 61.5, [], started=0)  # 0.6 s: seen
    stats.observe(minute + 61.4, [], started=0)  # the wall clock stepped back: nothing
    later = stats.flush()
    assert later is not None and later.covered_s == pytest.approx(0.9 + 0.6)
    assert stats.covered_total_s == pytest.approx(first.covered_s + later.covered_s)
    assert stats.flush() is None


def test_minute_stats_never_cover_more_than_the_minute_and_a_first_frame_covers_nothing() -> None:
    stats = MinuteStats()
    minute = 1_800_000_000.0 - (1_800_000_000.0 % 60)
    stats.observe(minute + 30.0, [], started=0)
    only = stats.flush()
    assert only is not None and only.covered_s == 0.0
    for k in range(1, 600):  # :00.1 to :59.9
        stats.observe(minute + 60.0 + k / 10, [], started=0)
    full = stats.observe(minute + 120.05, [], started=0)
    assert full is not None and full.covered_s == pytest.approx(60.0 - 0.1)  # :00.0 to :00.1 had no frame yet
