"""ByteTrack and per-track gender on real footage through the real detector and classifier (Triton)."""

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from footfall_worker.classify.gender_worker import GenderWorker
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.inference import GenderClassifier, PersonDetector, TritonConnection
from footfall_worker.settings import GenderSettings, TrackerSettings
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEventKind
from tests.conftest import triton_settings
from tests.support.footage import FACE_WALKING, HEAD_POSE, ONE_BY_ONE, STORE_AISLE
from tests.support.paths import footage_path
from tests.support.triton import TritonInstance

# one-by-one: six visitors, one at a time (checked by eye: each walks in, stands with their back to the
# camera, walks out; nobody else is in view meanwhile). Frame ranges where someone is visible.
VISITS = [(63, 190), (229, 443), (506, 694), (745, 864), (932, 1194), (1237, 1357)]


@dataclass
class Clip:
    fps: float
    frames: list[np.ndarray]
    detections: list[Detections]


@pytest.fixture(scope="module")
def clips(triton: TritonInstance) -> Iterator[dict[str, Clip]]:
    """Each clip decoded and detected once through Triton; the tests then track it in several ways."""
    connection = TritonConnection(triton_settings(triton.url))
    detector = PersonDetector(connection)
    loaded = {}
    for name in (ONE_BY_ONE, STORE_AISLE, FACE_WALKING, HEAD_POSE):
        capture = cv2.VideoCapture(str(footage_path(name)))
        fps = capture.get(cv2.CAP_PROP_FPS)
        frames = []
        while (frame := capture.read()[1]) is not None:
            frames.append(frame)
        capture.release()
        detections = []
        for start in range(0, len(frames), 8):
            detections += detector.detect(frames[start : start + 8])
        # Keep frames only for the short clips (gender needs pixels); one-by-one is 1394 frames.
        loaded[name] = Clip(fps, frames if name != ONE_BY_ONE else [], detections)
    yield loaded
    detector.close()
    connection.close()


def run(clip: Clip, every: int = 1) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Track every N-th frame with real timestamps; returns each id's (frame, box) sightings."""
    tracker = ByteTracker(TrackerSettings(_env_file=None))  # type: ignore[call-arg]
    sightings: dict[int, list[tuple[int, np.ndarray]]] = {}
    for index in range(0, len(clip.detections), every):
        result = tracker.update(clip.detections[index], index / clip.fps)
        for track_id, box in zip(result.tracks.track_id.tolist(), result.tracks.xyxy, strict=True):
            sightings.setdefault(track_id, []).append((index, box))
    return sightings


def assert_continuous(sightings: dict[int, list[tuple[int, np.ndarray]]], every: int) -> None:
    """An identity that jumps to another person shows as a head that teleports.

    The top-centre of the box (the head) is compared, not the whole box: occlusion from below shrinks a box
    to the head and back, which is the same person, while two people here stand a body width apart.
    """
    for track_id, seen in sightings.items():
        for (_, before), (frame, after) in zip(seen, seen[1:], strict=False):
            head_before = np.array([(before[0] + before[2]) / 2, before[1]])
            head_after = np.array([(after[0] + after[2]) / 2, after[1]])
            width = before[2] - before[0]
            assert np.linalg.norm(head_after - head_before) < 0.5 * width * every, f"track {track_id} jumped at {frame}"


@pytest.mark.parametrize("every", [1, 2, 3])
def test_one_visit_is_one_track(clips: dict[str, Clip], every: int) -> None:
    sightings = run(clips[ONE_BY_ONE], every)
    spans = sorted((seen[0][0], seen[-1][0]) for seen in sightings.values())
    assert len(spans) == len(VISITS), spans
    for (first, last), (start, end) in zip(spans, VISITS, strict=True):
        # Each track covers its visit, give or take the frames where the person is half in view (the visit
        # ranges count boxes scoring >= 0.5; the tracker also follows the weaker ones at the edges).
        assert start - 8 <= first <= start + 6 * every and end - 6 * every <= last <= end + 8, (spans, VISITS)
    for (_, last), (next_first, _) in zip(spans, spans[1:], strict=False):
        assert last < next_first  # never two identities while one person is in view


@pytest.mark.parametrize(("clip", "people"), [(STORE_AISLE, 3), (FACE_WALKING, 2), (HEAD_POSE, 2)])
@pytest.mark.parametrize("every", [1, 2, 3])
def test_identities_stay_stable_while_people_are_visible(
    clips: dict[str, Clip], clip: str, people: int, every: int
) -> None:
    # store-aisle: a man and a woman at the shelves from the start, a second woman walks in at about
    # frame 25 and occludes the first woman up to her head; the walking and head-pose clips: two people.
    sightings = run(clips[clip], every)
    assert len(sightings) == people, {k: (v[0][0], v[-1][0]) for k, v in sightings.items()}
    last_frame = len(clips[clip].detections) - 1
    for seen in sightings.values():
        assert seen[-1][0] >= last_frame - every  # everybody stays in view to the end: nobody lost
    assert_continuous(sightings, every)


@pytest.mark.parametrize(("clip", "expected"), [(HEAD_POSE, ["female", "male"]), (FACE_WALKING, ["female", "male"])])
def test_each_track_gets_the_right_gender(
    clips: dict[str, Clip], triton: TritonInstance, clip: str, expected: list[str]
) -> None:
    # Both clips: the woman on the left, the man on the right, faces visible.
    connection = TritonConnection(triton_settings(triton.url))
    worker = GenderWorker(GenderClassifier(connection).classify, "channel_test").start()
    gender = TrackGender(GenderSettings(_env_file=None), worker.submit)  # type: ignore[call-arg]
    tracker = ByteTracker()
    data = clips[clip]
    left_x: dict[int, float] = {}
    try:
        for index, (frame, detections) in enumerate(zip(data.frames, data.detections, strict=True)):
            at_s = index / data.fps
            result = tracker.update(detections, at_s)
            gender.observe(frame, result.tracks, at_s)
            gender.apply(worker.drain())
            for track_id, box in zip(result.tracks.track_id.tolist(), result.tracks.xyxy, strict=True):
                left_x.setdefault(track_id, float(box[0]))
        for event in tracker.finish(len(data.frames) / data.fps):
            gender.track_ended(event.track_id, event.t)
        assert worker.wait_idle(30)
        gender.apply(worker.drain())
    finally:
        worker.stop()
        connection.close()
    by_position = sorted(left_x, key=left_x.__getitem__)
    assert [gender.label(track_id) for track_id in by_position] == expected
    assert all(1 <= gender.asked(t) <= GenderSettings().max_crops_per_track for t in by_position)
    assert worker.dropped == worker.failed == 0


def test_people_seen_only_from_behind_stay_unknown(clips: dict[str, Clip], triton: TritonInstance) -> None:
    # one-by-one: every visitor stands with their back to the camera. Re-decode only the visits' frames.
    connection = TritonConnection(triton_settings(triton.url))
    worker = GenderWorker(GenderClassifier(connection).classify, "channel_test").start()
    gender = TrackGender(GenderSettings(_env_file=None), worker.submit)  # type: ignore[call-arg]
    tracker = ByteTracker()
    data = clips[ONE_BY_ONE]
    capture = cv2.VideoCapture(str(footage_path(ONE_BY_ONE)))
    started: list[int] = []
    try:
        for index, detections in enumerate(data.detections):
            frame = capture.read()[1]
            result = tracker.update(detections, index / data.fps)
            started += [e.track_id for e in result.events if e.kind is TrackEventKind.STARTED]
            gender.observe(frame, result.tracks, index / data.fps)
            gender.apply(worker.drain())
        assert worker.wait_idle(60)
        gender.apply(worker.drain())
    finally:
        capture.release()
        worker.stop()
        connection.close()
    assert len(started) == len(VISITS)
    assert [gender.label(t) for t in started] == ["unknown"] * len(VISITS)
    assert all(gender.asked(t) == GenderSettings().max_crops_per_track for t in started)  # it did look
