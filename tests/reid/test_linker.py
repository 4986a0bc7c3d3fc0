"""TrackLinker on real footage through the real detector: returns are linked, strangers are not."""

import uuid
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import redis

from footfall_contract.redis_client import connect
from footfall_worker.detections import Detections
from footfall_worker.inference import PersonDetector, TritonConnection
from footfall_worker.reid.appearance import ColorHistogramEncoder
from footfall_worker.reid.cache import ReidCache
from footfall_worker.reid.linker import TrackLinker
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEventKind
from tests.conftest import triton_settings
from tests.support.footage import HEAD_POSE, ONE_BY_ONE
from tests.support.paths import footage_path
from tests.support.triton import TritonInstance


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    conn = connect()
    conn.ping()  # fail loudly: the real Redis must be up (make test starts it)
    yield conn
    conn.close()


@pytest.fixture
def cache(client: redis.Redis) -> Iterator[ReidCache]:
    channel = f"test-{uuid.uuid4().hex[:8]}"
    yield ReidCache(client, channel, encoder_name=ColorHistogramEncoder().name, run_id="run-1")
    for key in client.scan_iter(f"footfall:{channel}:*"):
        client.delete(key)


def frames_and_detections(triton: TritonInstance, name: str, every: int = 1) -> tuple[float, list, list]:
    connection = TritonConnection(triton_settings(triton.url))
    detector = PersonDetector(connection)
    capture = cv2.VideoCapture(str(footage_path(name)))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames, detections = [], []
    index = 0
    while (frame := capture.read()[1]) is not None:
        if index % every == 0:
            frames.append(frame)
            detections.append(detector.detect_one(frame))
        index += 1
    capture.release()
    detector.close()
    connection.close()
    return fps / every, frames, detections


def test_people_who_step_out_and_come_back_are_linked(triton: TritonInstance, cache: ReidCache) -> None:
    # head-pose: a woman (left) and a man (right). Frames 0-27 play, then nobody is seen for 3 s (they
    # "left"; the tracker ends both tracks), then frames 28-55 play: both come back.
    fps, frames, detections = frames_and_detections(triton, HEAD_POSE)
    tracker, linker = ByteTracker(), TrackLinker(ColorHistogramEncoder(), cache)
    gap = [(None, Detections.empty())] * int(3 * fps)
    timeline = (
        list(zip(frames[:28], detections[:28], strict=True))
        + gap
        + list(zip(frames[28:], detections[28:], strict=True))
    )
    first_x: dict[int, float] = {}
    for index, (frame, dets) in enumerate(timeline):
        at_s = index / fps
        result = tracker.update(dets, at_s)
        for track_id, box in zip(result.tracks.track_id.tolist(), result.tracks.xyxy, strict=True):
            first_x.setdefault(track_id, float(box[0]))
        image = frame if frame is not None else np.zeros_like(frames[0])
        linker.observe(image, result.tracks, result.events, 1_000_000.0 + at_s)
    assert sorted(first_x) == [1, 2, 3, 4]  # two people, twice
    side = {track_id: ("left" if x < 240 else "right") for track_id, x in first_x.items()}
    assert set(linker.links) == {3, 4}
    for link in linker.links.values():
        assert link.earlier_track_id in (1, 2) and link.earlier_run_id == "run-1"
        assert side[link.track_id] == side[link.earlier_track_id]  # each to themselves, never swapped
    assert cache.stats.links == 2 and cache.stats.stored == 2


def test_six_different_visitors_are_never_linked(triton: TritonInstance, cache: ReidCache) -> None:
    # one-by-one: six different people, one after the other (checked by eye): a link would merge two.
    fps, frames, detections = frames_and_detections(triton, ONE_BY_ONE, every=2)
    tracker, linker = ByteTracker(), TrackLinker(ColorHistogramEncoder(), cache)
    started = 0
    for index, (frame, dets) in enumerate(zip(frames, detections, strict=True)):
        result = tracker.update(dets, index / fps)
        started += sum(e.kind is TrackEventKind.STARTED for e in result.events)
        linker.observe(frame, result.tracks, result.events, 2_000_000.0 + index / fps)
    assert started == 6
    assert linker.links == {}
    assert cache.stats.stored == 6  # all six have left (and ended) before the clip does
