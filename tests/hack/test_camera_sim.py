"""Real RTSP tests of hack/camera_sim.py, read with OpenCV's FFmpeg backend over 127.0.0.1.

Needs /usr/bin/python3 with GStreamer (hack/install-gstreamer.sh) and opencv + numpy in the running Python.
A simulator that does not start fails the test with its log tail; nothing here is skipped.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Literal

import cv2
import pytest

from tests.support.camera_sim import (
    DAHUA_QUERY,
    CameraSimulator,
    CameraSimulatorError,
    footage_path,
    open_capture,
    open_ok,
)

pytestmark = pytest.mark.camera

# name -> (width, height, fps, frames); what hack/prepare-footage.sh produced.
CLIPS = {
    "one-by-one-person-detection.mp4": (768, 432, 10.0, 1394),
    "store-aisle-detection.mp4": (480, 270, 15.0, 67),
    "face-demographics-walking.mp4": (480, 270, 12.0, 35),
    "head-pose-face-detection-female-and-male.mp4": (480, 270, 12.0, 56),
}


def catch_up(capture: Any, fps: float, limit: int = 300) -> int:
    """Drain the frames FFmpeg buffered while probing the stream at open (they come back at once); returns
    how many were read. After this, read() paces with the camera, so rates can be measured. Three waits in a
    row, so one slow read on a busy machine is not taken for the live edge."""
    waits = 0
    for count in range(1, limit + 1):
        began = time.monotonic()
        ok, _ = capture.read()
        assert ok, f"stream ended after {count} frames"
        waits = waits + 1 if time.monotonic() - began > 0.5 / fps else 0
        if waits == 3:
            return count
    raise AssertionError(f"read() never waited for a frame in {limit} frames: not real time")


def test_footage_is_h264_mp4_readable_by_opencv() -> None:
    for name, (width, height, fps, frames) in CLIPS.items():
        capture = cv2.VideoCapture(str(footage_path(name)), cv2.CAP_FFMPEG)
        try:
            assert capture.isOpened(), name
            fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
            assert fourcc in {"avc1", "h264"}, (name, fourcc)
            assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(fps), name
            count = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                assert frame.shape == (height, width, 3), name
                count += 1
            assert count == frames, name
        finally:
            capture.release()


def test_streams_clip_size_at_clip_rate(capture_closer: list[Any]) -> None:
    width, height, fps, _ = CLIPS["store-aisle-detection.mp4"]
    with CameraSimulator(footage_path("store-aisle-detection.mp4")) as cam:
        assert cam.startup_s is not None and cam.startup_s < 5, cam.startup_s
        capture = open_ok(cam.url, capture_closer)
        catch_up(capture, fps)
        measured = 30
        began = time.monotonic()
        for _ in range(measured):
            ok, frame = capture.read()
            assert ok
            assert frame.shape == (height, width, 3)
        rate = measured / (time.monotonic() - began)
        assert rate == pytest.approx(fps, rel=0.2), f"{rate:.1f} fps, clip has {fps}"


def test_dahua_url_loops_past_end_of_clip(capture_closer: list[Any]) -> None:
    width, height, fps, frames = CLIPS["face-demographics-walking.mp4"]
    with CameraSimulator(footage_path("face-demographics-walking.mp4")) as cam:
        capture = open_ok(cam.url + DAHUA_QUERY, capture_closer)
        read = catch_up(capture, fps)
        # Well past one loop (35 frames, ~2.9 s) with no gap: a stall at the seam would hit the read timeout.
        longest_wait = 0.0
        while read < frames + 25:
            began = time.monotonic()
            ok, frame = capture.read()
            longest_wait = max(longest_wait, time.monotonic() - began)
            assert ok, f"stream stopped after {read} frames (clip has {frames})"
            assert frame.shape == (height, width, 3)
            read += 1
        assert longest_wait < 4 / fps, f"gap of {longest_wait:.2f} s in the loop"


# digest: what Dahua cameras ask for (MD5, realm + nonce, no qop); the simulator then offers Digest only.
@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_auth(auth: Literal["basic", "digest"], capture_closer: list[Any]) -> None:
    clip = footage_path("face-demographics-walking.mp4")
    with CameraSimulator(clip, user="admin", password="s3cret:/@", auth=auth) as cam:
        assert "s3cret" not in " ".join(cam_args(cam)), "password must not be on the command line"
        assert f'"auth": "{auth}"' in cam.log_path.read_text(), "the simulator says which scheme it offers"
        capture = open_ok(cam.url + DAHUA_QUERY, capture_closer)
        assert capture.read()[0]

        wrong = cam.url.replace("s3cret", "wrong")
        for url in (cam.url_without_credentials, wrong):
            began = time.monotonic()
            capture = open_capture(url)
            capture_closer.append(capture)
            assert not capture.isOpened(), f"{url} opened"
            assert time.monotonic() - began < 2.5, "a 401 should fail at once, not time out"


def cam_args(cam: CameraSimulator) -> list[str]:
    with open(f"/proc/{cam.pid}/cmdline", "rb") as cmdline:
        return cmdline.read().decode().split("\0")


def test_freeze_times_out_reads_and_resume_streams_again(capture_closer: list[Any]) -> None:
    _, _, fps, _ = CLIPS["store-aisle-detection.mp4"]
    with CameraSimulator(footage_path("store-aisle-detection.mp4")) as cam:
        capture = open_ok(cam.url, capture_closer)
        catch_up(capture, fps)
        cam.freeze()
        began = time.monotonic()
        for _ in range(200):  # frames already in flight still arrive; then read() must give up
            if not capture.read()[0]:
                break
        else:
            raise AssertionError("frozen camera kept delivering frames")
        # OpenCV gives up after a few read timeouts (3 s each): measured ~9 s. A hang would be 30 s or more.
        assert time.monotonic() - began < 15
        cam.resume()
        capture = open_ok(cam.url, capture_closer)
        assert capture.read()[0]


def test_stop_fails_fast_then_start_and_restart_stream_again(capture_closer: list[Any]) -> None:
    with CameraSimulator(footage_path("face-demographics-walking.mp4")) as cam:
        port = cam.port
        capture = open_ok(cam.url, capture_closer)
        assert capture.read()[0]
        cam.stop()
        began = time.monotonic()
        while capture.read()[0]:  # frames already buffered may still come; then the closed socket shows
            assert time.monotonic() - began < 2, "reads go on after the camera stopped"

        began = time.monotonic()
        refused = open_capture(cam.url)
        capture_closer.append(refused)
        assert not refused.isOpened()
        assert time.monotonic() - began < 1.0, "connection refused should fail at once"

        cam.start()
        assert cam.port == port
        assert open_ok(cam.url, capture_closer).read()[0]

        cam.restart()
        assert cam.port == port
        assert open_ok(cam.url, capture_closer).read()[0]


def test_a_simulator_that_dies_on_its_own_fails_its_test_with_its_log() -> None:
    # A test that met "connection refused" mid-way must say the camera died, and why, not only time out.
    cam = CameraSimulator(footage_path("face-demographics-walking.mp4")).start()
    assert cam.pid is not None
    os.kill(cam.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while cam.running:  # the kernel delivers the kill a moment later
        assert time.monotonic() < deadline, "SIGKILL did not end the simulator"
        time.sleep(0.01)
    with pytest.raises(CameraSimulatorError, match=r"exited on its own with status -9[\s\S]*\"event\": \"ready\""):
        cam.close()
    assert not cam.running
    assert cam.log_path.exists(), "the log of a camera that died is kept"
    cam.log_path.unlink()
