"""A real camera's streams (hack/camera-streams.sh) and the simulator serving them as a Dahua camera does: the
main stream at `subtype=0`, the sub-stream at `subtype=1`, H.265 as well as H.264. Read with OpenCV's FFmpeg
backend (the worker's capture options) over 127.0.0.1; nothing here is skipped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.camera_sim import (
    DAHUA_QUERY,
    SUB_STREAM_QUERY,
    CameraSimulator,
    CameraSimulatorError,
    camera_streams,
    open_capture,
    open_ok,
)

pytestmark = pytest.mark.camera

SECONDS, FPS, GOP = 20, 25, 50
# name -> (ffprobe codec, width, height, least and most Mbit/s): hack/camera-streams.sh's promises.
STREAMS = {
    "main-1080p25-h264.mp4": ("h264", 1920, 1080, 3.0, 5.0),
    "main-4mp25-h265.mp4": ("hevc", 2560, 1440, 4.0, 8.0),
    "sub-d1-h264.mp4": ("h264", 704, 576, 0.5, 1.5),
}


@pytest.fixture(scope="module")
def streams() -> Path:
    return camera_streams()


def probe(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The video stream's fields and each packet's flags ("K_" for a keyframe), in decode order."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "json", "-show_entries",
         "stream=codec_name,width,height,r_frame_rate,pix_fmt,has_b_frames:packet=flags", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    found = json.loads(done.stdout)
    return found["streams"][0], [packet["flags"] for packet in found["packets"]]


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_each_stream_is_what_an_ip_camera_sends(streams: Path, name: str) -> None:
    codec, width, height, least_mbit, most_mbit = STREAMS[name]
    stream, flags = probe(streams / name)
    assert (stream["codec_name"], stream["width"], stream["height"]) == (codec, width, height)
    assert (stream["r_frame_rate"], stream["pix_fmt"], stream["has_b_frames"]) == (f"{FPS}/1", "yuv420p", 0)
    assert len(flags) == SECONDS * FPS
    keyframes = [index for index, flag in enumerate(flags) if flag.startswith("K")]
    assert keyframes == list(range(0, SECONDS * FPS, GOP)), "a keyframe every 2 s and no others"
    mbit_s = (streams / name).stat().st_size * 8 / SECONDS / 1e6
    assert least_mbit <= mbit_s <= most_mbit, f"{mbit_s:.1f} Mbit/s"


def read_frames(url: str, captures: list[Any], count: int = 5) -> list[tuple[int, ...]]:
    capture = open_ok(url, captures, timeout_ms=10_000)
    shapes = []
    for _ in range(count):
        ok, frame = capture.read()
        assert ok, f"read failed on {url}"
        shapes.append(frame.shape)
    return shapes


def test_main_stream_and_sub_stream_on_one_camera_by_subtype(streams: Path, capture_closer: list[Any]) -> None:
    with CameraSimulator(streams / "main-4mp25-h265.mp4", sub_file=streams / "sub-d1-h264.mp4") as cam:
        assert set(read_frames(cam.url + DAHUA_QUERY, capture_closer)) == {(1440, 2560, 3)}
        assert set(read_frames(cam.url + SUB_STREAM_QUERY, capture_closer)) == {(576, 704, 3)}
        # the query's order is free, and the captures above are still open: a second client of the same camera
        assert set(read_frames(cam.url + "?subtype=0&channel=1", capture_closer)) == {(1440, 2560, 3)}


def test_a_camera_without_sub_stream_refuses_subtype_1(streams: Path, capture_closer: list[Any]) -> None:
    with CameraSimulator(streams / "main-1080p25-h264.mp4", user="admin", password="pw", auth="digest") as cam:
        capture = open_capture(cam.url + SUB_STREAM_QUERY, timeout_ms=5000)
        capture_closer.append(capture)
        assert not capture.isOpened()
        assert set(read_frames(cam.url + DAHUA_QUERY, capture_closer)) == {(1080, 1920, 3)}


def test_a_file_it_cannot_serve_is_refused_at_start_with_what_it_is(tmp_path: Path) -> None:
    mpeg4 = tmp_path / "mpeg4-part2.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1",
         "-c:v", "mpeg4", str(mpeg4)],
        check=True, timeout=60,
    )  # fmt: skip
    simulator = CameraSimulator(mpeg4)
    with pytest.raises(CameraSimulatorError) as refused:
        simulator.start()
    simulator.close()
    assert "must be H.264 or H.265 in MP4" in str(refused.value)
    assert "video/mpeg" in str(refused.value)
