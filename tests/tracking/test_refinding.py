"""Re-finding lost people by appearance (`tracking/refinding.py` inside `ByteTracker`).

The encoder is a stand-in here: each box's embedding is the identity of the person the test drew there (the
real encoders have their own tests against real pixels and the real Triton); what is pinned is the tracker's
rule: who may take a lost track's id back, when, and that appearance off is plain ByteTrack.
"""

import numpy as np

from footfall_worker.detections import Detections
from footfall_worker.settings import TrackerSettings
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEventKind

FPS = 10.0
LOOKS = {"red": np.array([1.0, 0.0, 0.0], np.float32), "blue": np.array([0.0, 1.0, 0.0], np.float32)}


def settings(appearance: str) -> TrackerSettings:
    return TrackerSettings(_env_file=None, appearance=appearance, reid_window_s=4.0)  # type: ignore[call-arg]


def box(x: float, y: float = 400.0, height: float = 160.0) -> list[float]:
    return [x - 30, y - height, x + 30, y]


class Scene:
    """People as (x, look) per frame; the probe answers each box with the look of the person drawn nearest."""

    def __init__(self, tracker: ByteTracker) -> None:
        self.tracker = tracker
        self.people: list[tuple[float, str]] = []
        self.t = 0.0
        self.ended: list[int] = []

    def probe(self, boxes: np.ndarray) -> np.ndarray:
        rows = []
        for b in boxes:
            centre = (b[0] + b[2]) / 2
            _, look = min(self.people, key=lambda p: abs(p[0] - centre))
            rows.append(LOOKS[look])
        return np.array(rows, np.float32).reshape(-1, 3)

    def step(self, people: list[tuple[float, str]]) -> list[int]:
        self.people = people
        detections = Detections(
            np.array([box(x) for x, _ in people], np.float32).reshape(-1, 4), np.full(len(people), 0.9, np.float32)
        )
        result = self.tracker.update(detections, self.t, self.probe)
        self.ended += [e.track_id for e in result.events if e.kind is TrackEventKind.ENDED]
        self.t += 1 / FPS
        return result.tracks.track_id.tolist()


def walk_behind_a_pillar(scene: Scene, look: str, gone_s: float, reappear_dx: float) -> tuple[list[int], list[int]]:
    """Walks right 4 px a frame for 2 s, vanishes for `gone_s`, reappears `reappear_dx` further on."""
    before = [scene.step([(100 + 4 * i, look)]) for i in range(20)]
    for _ in range(int(gone_s * FPS)):
        scene.step([])
    x = 100 + 4 * 19 + reappear_dx
    after = [scene.step([(x + 4 * i, look)]) for i in range(10)]
    return [i for ids in before for i in ids], [i for ids in after for i in ids]


def test_a_person_gone_longer_than_the_buffer_keeps_their_id_when_re_found_by_appearance():
    scene = Scene(ByteTracker(settings("histogram"), min_similarity=0.98))
    before, after = walk_behind_a_pillar(scene, "red", gone_s=2.0, reappear_dx=120)
    assert set(before) == set(after) == {1}
    assert scene.tracker.refound == 1 and scene.ended == []


def test_plain_bytetrack_gives_the_returning_person_a_new_id():
    scene = Scene(ByteTracker(settings("off")))
    before, after = walk_behind_a_pillar(scene, "red", gone_s=2.0, reappear_dx=120)
    assert set(before) == {1} and set(after) == {2} and scene.ended == [1]


def test_someone_who_looks_different_is_not_given_the_lost_id():
    scene = Scene(ByteTracker(settings("histogram"), min_similarity=0.98))
    for i in range(20):
        scene.step([(100 + 4 * i, "red")])
    for _ in range(20):
        scene.step([])
    after = {i for _ in range(10) for i in scene.step([(300, "blue")])}
    assert after == {2} and scene.tracker.refound == 0


def test_a_look_alike_too_far_to_have_walked_there_is_not_given_the_lost_id():
    scene = Scene(ByteTracker(settings("histogram"), min_similarity=0.98))
    # gone 1.5 s; reach is (0.75 + 1.0 * 1.5) heights = 360 px; reappearing 900 px on is someone else
    before, after = walk_behind_a_pillar(scene, "red", gone_s=1.5, reappear_dx=900)
    assert set(before) == {1} and set(after) == {2} and scene.tracker.refound == 0


def test_a_lost_track_waits_only_the_reid_window():
    scene = Scene(ByteTracker(settings("histogram"), min_similarity=0.98))
    before, after = walk_behind_a_pillar(scene, "red", gone_s=5.0, reappear_dx=100)
    assert set(after) == {2} and scene.ended == [1]


def test_a_failed_embedding_leaves_tracking_by_overlap_intact():
    tracker = ByteTracker(settings("histogram"), min_similarity=0.9)
    ids = []
    for i in range(20):
        detections = Detections(np.array([box(100 + 4 * i)], np.float32), np.array([0.9], np.float32))
        # the zero rows an encoder returns when it cannot describe a box (or Triton failed)
        result = tracker.update(detections, i / FPS, lambda boxes: np.zeros((len(boxes), 3), np.float32))
        ids += result.tracks.track_id.tolist()
    assert set(ids) == {1}
