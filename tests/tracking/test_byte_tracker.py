"""ByteTrack's behaviour on constructed scenes: association stages, lifecycle, real time, ids."""

import numpy as np
import pytest

from footfall_worker.detections import Detections
from footfall_worker.settings import TrackerSettings
from footfall_worker.tracking import kalman
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEventKind
from footfall_worker.tracking.matching import iou_matrix, linear_assignment


def dets(*rows: tuple[float, float, float, float, float]) -> Detections:
    array = np.array(rows, np.float32).reshape(-1, 5)
    return Detections(array[:, :4], array[:, 4])


def person(x: float, y: float = 100.0, score: float = 0.9) -> tuple[float, float, float, float, float]:
    return (x, y, x + 50, y + 150, score)


def tracker(**overrides: object) -> ByteTracker:
    return ByteTracker(TrackerSettings(_env_file=None, **overrides))  # type: ignore[arg-type]


def test_iou_matrix_and_thresholded_assignment() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[0, 0, 10, 5], [100, 100, 110, 110]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[0.5, 0.0], [0.0, 0.0]])
    matches, rows, cols = linear_assignment(1 - iou_matrix(a, b), max_cost=0.6)
    assert matches.tolist() == [[0, 0]] and rows.tolist() == [1] and cols.tolist() == [1]
    matches, rows, cols = linear_assignment(1 - iou_matrix(a, b), max_cost=0.4)  # IoU 0.5 is not enough
    assert matches.shape == (0, 2) and rows.tolist() == [0, 1] and cols.tolist() == [0, 1]


def test_kalman_step_of_three_frames_equals_three_single_steps() -> None:
    means, covariances = kalman.initiate(np.array([[0, 0, 50, 150]], float))
    means[:, 4:6] = [3.0, -1.0]  # moving right and up, per reference frame
    once, cov_once = kalman.predict(means, covariances, np.array([3.0]))
    thrice, cov_thrice = means, covariances
    for _ in range(3):
        thrice, cov_thrice = kalman.predict(thrice, cov_thrice, np.array([1.0]))
    np.testing.assert_allclose(once[:, :4], thrice[:, :4])
    np.testing.assert_allclose(kalman.xyah_to_xyxy(once[:, :4]), [[9, -3, 59, 147]], atol=1e-9)
    # Uncertainty grows with elapsed time either way (not identical: noise is added per step).
    assert np.all(np.diag(cov_once[0]) > np.diag(covariances[0]))


def test_a_flicker_never_gets_an_id_and_a_person_is_confirmed_on_the_second_frame() -> None:
    t = tracker()
    t.update(dets(person(0)), 0.0)  # first frame: confirmed at once, as in ByteTrack
    first = t.update(dets(person(2), person(400)), 0.1)  # 400: seen once, tentative
    assert first.tracks.track_id.tolist() == [1]
    gone = t.update(dets(person(4)), 0.2)  # the flicker did not come back: dropped without an id
    assert gone.tracks.track_id.tolist() == [1] and not [e for e in gone.events if e.kind is not TrackEventKind.UPDATED]
    t.update(dets(person(6), person(600)), 0.3)
    confirmed = t.update(dets(person(8), person(602)), 0.4)
    assert confirmed.tracks.track_id.tolist() == [1, 2]  # ids are dense: the flicker used none
    assert [(e.kind, e.track_id) for e in confirmed.events if e.kind is TrackEventKind.STARTED] == [
        (TrackEventKind.STARTED, 2)
    ]


def test_low_score_boxes_keep_an_occluded_person_in_the_second_stage() -> None:
    t = tracker()
    for frame in range(5):
        t.update(dets(person(frame * 4)), frame * 0.1)
    weak = t.update(dets(person(20, score=0.3)), 0.5)  # partly hidden: detector is unsure
    assert weak.tracks.track_id.tolist() == [1]
    ignored = tracker(low_thresh=0.35)  # the same scene when weak boxes are thrown away, as most trackers do
    for frame in range(5):
        ignored.update(dets(person(frame * 4)), frame * 0.1)
    assert len(ignored.update(dets(person(20, score=0.3)), 0.5).tracks) == 0


def test_lost_buffer_is_real_time_then_the_track_ends() -> None:
    t = tracker(track_buffer=30)  # 30 reference frames = 1 s
    for frame in range(3):
        t.update(dets(person(0)), frame * 0.1)
    lost = t.update(dets(), 0.3)
    assert [e.kind for e in lost.events] == [TrackEventKind.LOST]
    back = t.update(dets(person(0)), 1.1)  # 0.9 s after the last sighting: the same person
    assert back.tracks.track_id.tolist() == [1]
    t.update(dets(), 1.2)
    ended = t.update(dets(), 2.3)  # 1.1 s unseen
    assert [(e.kind, e.track_id) for e in ended.events] == [(TrackEventKind.ENDED, 1)]
    assert len(t.update(dets(person(0)), 2.4).tracks) == 0  # someone new: tentative first
    assert t.update(dets(person(0)), 2.5).tracks.track_id.tolist() == [2]


def test_frame_skipping_keeps_a_fast_walker_when_time_is_real() -> None:
    # 300 px/s at 30 fps processing every 6th frame (5 fps): 60 px between processed frames, more than a
    # box width's worth of overlap is lost unless the motion model knows 0.2 s passed, not 1 frame.
    t = tracker()
    ids = set()
    for step in range(20):
        result = t.update(dets(person(step * 60)), step * 0.2)
        ids.update(result.tracks.track_id.tolist())
    assert ids == {1}


def test_crossing_people_keep_their_ids() -> None:
    t = tracker()
    for frame in range(30):
        a, b = person(100 + frame * 10, y=100), person(400 - frame * 10, y=110)
        result = t.update(dets(a, b), frame / 30)
        if frame == 0:
            first_ids = {
                int(i): float(x) for i, x in zip(result.tracks.track_id, result.tracks.xyxy[:, 0], strict=True)
            }
    final = {int(i): float(x) for i, x in zip(result.tracks.track_id, result.tracks.xyxy[:, 0], strict=True)}
    left_starter = min(first_ids, key=first_ids.__getitem__)
    assert final[left_starter] > 300  # the one who started on the left walked to the right


def test_ids_belong_to_the_tracker_instance_and_events_carry_the_record() -> None:
    one, two = tracker(), tracker()
    assert one.update(dets(person(0)), 0.0).tracks.track_id.tolist() == [1]
    assert two.update(dets(person(0)), 0.0).tracks.track_id.tolist() == [1]
    for frame in range(1, 10):
        one.update(dets(person(frame * 2, score=0.6 + frame * 0.03)), frame * 0.1)
    ended = one.finish(1.0)
    assert [(e.kind, e.track_id) for e in ended] == [(TrackEventKind.ENDED, 1)]
    record = ended[0].track
    assert record.first_seen_s == 0.0 and record.last_seen_s == pytest.approx(0.9)
    assert record.frames_seen == 10 and record.score_max == pytest.approx(0.9, abs=1e-6)
    assert record.score_mean == pytest.approx((0.9 + sum(0.6 + f * 0.03 for f in range(1, 10))) / 10, abs=1e-6)
    assert [round(h[0], 1) for h in record.history] == [0.0, 0.5]  # sampled every 0.5 s
    assert one.active_tracks == []


def test_assignment_shortcut_for_lone_pairs_finds_the_optimum() -> None:
    import lap

    rng = np.random.default_rng(3)
    for _ in range(300):
        rows, cols = rng.integers(1, 12, size=2)
        cost = np.where(rng.random((rows, cols)) < 0.25, rng.random((rows, cols)) * 0.8, 1.0)
        matches, unmatched_rows, unmatched_cols = linear_assignment(cost, max_cost=0.8)
        _, reference, _ = lap.lapjv(cost, extend_cost=True, cost_limit=0.8)
        expected = sum(cost[r, c] for r, c in enumerate(reference) if c >= 0)
        assert sum(cost[r, c] for r, c in matches) == pytest.approx(expected)
        assert len(matches) == int((reference >= 0).sum())
        assert len(matches) + len(unmatched_rows) == rows and len(matches) + len(unmatched_cols) == cols
