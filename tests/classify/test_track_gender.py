"""Gender per track: the vote, the crop schedule, and the background worker when Triton is down."""

import time

import cv2
import numpy as np
import pytest

from footfall_worker.classify.crop_selection import crop_quality
from footfall_worker.classify.gender_votes import GenderVote
from footfall_worker.classify.gender_worker import GenderRequest, GenderResult, GenderWorker
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.inference import GenderClassifier, GenderEstimate, TritonConnection
from footfall_worker.settings import GenderSettings
from footfall_worker.tracking.events import TrackedBoxes
from tests.conftest import triton_settings
from tests.support.footage import HEAD_POSE, frames_at
from tests.support.paths import free_port

NO_FACE = GenderEstimate(0.0, 0.0, 0.0, (0.0, 0.0, 0.0, 0.0))


def face(p_female: float, quality: float) -> GenderEstimate:
    return GenderEstimate(p_female, 1 - p_female, quality, (1.0, 1.0, 20.0, 20.0))


def settings(**overrides: object) -> GenderSettings:
    return GenderSettings(_env_file=None, **overrides)  # type: ignore[arg-type]


def test_vote_weighs_by_face_quality_and_stays_unknown_without_faces() -> None:
    vote = GenderVote()
    for _ in range(5):
        vote.add(NO_FACE)  # seen from behind
    assert vote.label(0.75, 0.6) == "unknown" and vote.crops == 5 and vote.faces == 0
    vote.add(face(0.9, quality=0.9))  # one sharp frontal face: female
    vote.add(face(0.2, quality=0.1))  # a blurry profile that says male
    assert vote.p_female == pytest.approx((0.9 * 0.9 + 0.1 * 0.2) / 1.0)
    assert vote.label(0.75, 0.6) == "female"
    assert vote.label(0.75, 1.5) == "unknown"  # not enough evidence yet for a stricter setting


def test_an_undecided_vote_is_unknown() -> None:
    vote = GenderVote()
    vote.add(face(0.6, 0.9))
    vote.add(face(0.4, 0.9))
    assert vote.confidence == pytest.approx(0.5) and vote.label(0.75, 0.6) == "unknown"


def test_crop_quality_prefers_large_sharp_confident_people() -> None:
    frame = frames_at(HEAD_POSE, [20])[20]
    box = np.array([250.0, 51.0, 445.0, 268.0])
    sharp = crop_quality(frame, box, 0.9)
    blurred = frame.copy()
    blurred[51:268, 250:445] = cv2.GaussianBlur(frame[51:268, 250:445], (15, 15), 6)  # motion blur, defocus
    assert crop_quality(blurred, box, 0.9) < 0.5 * sharp
    assert crop_quality(frame, box, 0.45) == pytest.approx(sharp / 2)
    small = np.array([250.0, 51.0, 300.0, 110.0])
    assert crop_quality(frame, small, 0.9) < sharp
    assert crop_quality(frame, np.array([10.0, 10.0, 12.0, 12.0]), 0.9) == 0.0


def test_schedule_sends_the_best_crop_per_interval_at_most_k_times() -> None:
    sent: list[GenderRequest] = []
    gender = TrackGender(settings(max_crops_per_track=3, crop_interval_s=1.0), lambda r: sent.append(r) or True)
    frame = frames_at(HEAD_POSE, [20])[20]
    tracks = TrackedBoxes(np.array([[250, 51, 445, 268]], np.float32), np.array([0.9], np.float32), np.array([7]))
    for step in range(60):  # 6 s at 10 fps
        gender.observe(frame, tracks, step * 0.1)
    assert len(sent) == 3 and gender.asked(7) == 3
    assert sent[0].at_s == pytest.approx(1.0)
    assert all(b.at_s - a.at_s >= 1.0 - 1e-9 for a, b in zip(sent, sent[1:], strict=False))
    assert sent[0].crop.shape == (217, 195, 3) and sent[0].crop.base is None  # a private copy
    gender.forget(7)
    assert gender.asked(7) == 0


def test_a_decided_vote_stops_asking_and_an_ending_track_flushes_its_candidate() -> None:
    sent: list[GenderRequest] = []
    gender = TrackGender(settings(crop_interval_s=10.0), lambda r: sent.append(r) or True)
    frame = frames_at(HEAD_POSE, [20])[20]
    tracks = TrackedBoxes(np.array([[250, 51, 445, 268]], np.float32), np.array([0.9], np.float32), np.array([3]))
    gender.observe(frame, tracks, 0.0)
    gender.track_ended(3, 0.5)  # left before the interval was over: its best crop still goes
    assert len(sent) == 1
    gender.apply([GenderResult(3, face(0.05, 0.9), 0.5), GenderResult(3, face(0.05, 0.9), 0.6)])
    assert gender.label(3) == "male"
    gender.observe(frame, tracks, 20.0)
    gender.observe(frame, tracks, 40.0)
    assert len(sent) == 1  # decided: no more classifier calls for this track


def test_worker_counts_failures_when_triton_is_down_and_drops_when_full() -> None:
    connection = TritonConnection(triton_settings(f"127.0.0.1:{free_port()}", retries=0))
    worker = GenderWorker(GenderClassifier(connection).classify, "channel_x", queue_size=4, retry_delay_s=0.2)
    crop = np.zeros((200, 80, 3), np.uint8)
    accepted = [worker.submit(GenderRequest(i, crop, 0.0)) for i in range(6)]  # not started: the queue fills
    assert accepted == [True] * 4 + [False] * 2 and worker.dropped == 2
    worker.start()
    try:
        assert worker.wait_idle(10)
        assert worker.failed == 4 and worker.classified == 0 and worker.drain() == []
        assert worker.alive  # an outage costs crops, never the thread
        started = time.monotonic()
        assert worker.submit(GenderRequest(9, crop, 1.0))
        assert worker.wait_idle(10) and worker.failed == 5
        assert time.monotonic() - started < 5
    finally:
        assert worker.stop()
        connection.close()
