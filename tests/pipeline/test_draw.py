"""`footfall draw` on the committed footage with the real detector: the geometry lands where the config says, the
person in the frame is pixelated and nothing else of the picture changes, without Triton the whole frame is
blurred, and bad input exits 2 naming what was wrong."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_worker.geometry.command import run
from footfall_worker.geometry.overlay import LINE
from footfall_worker.inference import PersonDetector, TritonConnection
from tests.conftest import triton_settings
from tests.support.footage import ONE_BY_ONE, ONE_PERSON_FRAMES, frames_at
from tests.support.paths import REPO_ROOT, footage_path, free_port
from tests.support.triton import TritonInstance

DEMO = REPO_ROOT / "config" / "demo_store.json"
FRAME = ONE_PERSON_FRAMES[1]  # one person standing, seen from behind


def draw(out: Path, triton_url: str, *extra: str) -> int:
    clip = str(footage_path(ONE_BY_ONE))
    return run(["--cameras", str(DEMO), "--channel", "channel_1", "--source", clip, "--skip", str(FRAME)]
               + ["--out", str(out), "--triton", triton_url, *extra])  # fmt: skip


def test_the_person_is_pixelated_and_the_geometry_drawn_where_configured(
    triton: TritonInstance, tmp_path: Path
) -> None:
    assert draw(tmp_path / "hidden", triton.url) == 0
    assert draw(tmp_path / "raw", triton.url, "--keep-people") == 0
    hidden = cv2.imread(str(tmp_path / "hidden" / "geometry.png"))
    raw = cv2.imread(str(tmp_path / "raw" / "geometry.png"))
    assert hidden.shape == raw.shape == (432, 768, 3)
    page = (tmp_path / "hidden" / "geometry.html").read_text()
    assert "1 people found by the detector are pixelated" in page and "data:image/png;base64," in page
    assert "table_side" in page and "[[0.5, 0.82], [0.66, 0.82], [0.66, 0.965], [0.5, 0.965]]" in page
    # the pictures differ only inside the person's box
    connection = TritonConnection(triton_settings(triton.url))
    (box,) = PersonDetector(connection).detect_one(frames_at(ONE_BY_ONE, [FRAME])[FRAME]).xyxy.astype(int).tolist()
    connection.close()
    changed = np.argwhere(np.abs(hidden.astype(int) - raw.astype(int)).max(axis=2) > 0)
    assert len(changed) > 1000
    (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0)
    assert box[0] <= x0 and x1 < box[2] and box[1] <= y0 and y1 < box[3], (box, (x0, y0, x1, y1))
    # the line's first leg runs along y = 0.95 from x = 0: its colour is there
    x, y = round(0.3 * 767), round(0.95 * 431)
    assert np.abs(raw[y, x].astype(int) - np.array(LINE)).max() < 40, raw[y, x]


def test_without_a_detector_the_whole_frame_is_blurred(tmp_path: Path) -> None:
    assert draw(tmp_path, f"127.0.0.1:{free_port()}") == 0
    page = (tmp_path / "geometry.html").read_text()
    assert "the whole frame is blurred" in page
    picture = cv2.imread(str(tmp_path / "geometry.png"))
    original = frames_at(ONE_BY_ONE, [FRAME])[FRAME]
    # far from every drawn shape (the top-left corner) the picture is smoother than the frame was
    corner, before = picture[:150, :250], original[:150, :250]
    assert cv2.Laplacian(corner, cv2.CV_64F).var() < 0.5 * cv2.Laplacian(before, cv2.CV_64F).var()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--channel", "channel_9"], 2, "no channel 'channel_9'"),
        (["--image", str(REPO_ROOT / "README.md")], 2, "not a picture"),
        (["--skip", "-1"], 2, "--skip -1"),
        (["--source", "rtsp://127.0.0.1:{port}/cam/realmonitor?channel=1"], 1, "refused"),
    ],
)
def test_bad_input_exits_with_a_clear_error(
    args: list[str], code: int, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("{port}", str(free_port())) for a in args]
    base = ["--cameras", str(DEMO), "--channel", "channel_1", "--out", str(tmp_path / "out")]
    merged = base + args if args[0] != "--channel" else base[:2] + args + base[4:]
    assert run(merged) == code
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
