"""The hand-labelled line crossings (input/labels/crossings/*.json): well formed and true to their clips.

Each file labels one clip: its counting lines (an AnalyticsConfig), the frames labelled, and every crossing in
them (frame, line, direction). Clips in the repository are opened to check that the file describes the clip
as OpenCV decodes it; a clip outside it (../shared, not redistributable) is only referred to, never needed.
"""

import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from footfall_contract.config.geometry import AnalyticsConfig

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "input" / "labels" / "crossings"
LABEL_FILES = sorted(LABELS.glob("*.json"))
KEYS = {
    "clip",
    "licence",
    "fps",
    "frame_count",
    "width",
    "height",
    "frames_labelled",
    "analytics",
    "crossings",
    "ambiguous",
    "labeller_notes",
}
# Clips that may not be redistributed: the label file names them under ../shared, the repo never holds them.
EXTERNAL = {"dense-street-1080p": "../shared/footage/street/dense-street-1080p.mp4"}
# The clips the labels were made for; a missing file here is a lost label set.
EXPECTED = {
    "one-by-one-person-detection",
    "worker-zone-detection",
    "store-aisle-detection",
    "people-detection",
    "dense-street-1080p",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_every_clip_has_its_label_file() -> None:
    assert EXPECTED <= set(ids(LABEL_FILES))


@pytest.mark.parametrize("path", LABEL_FILES, ids=ids(LABEL_FILES))
def test_a_label_file_is_well_formed(path: Path) -> None:
    doc = load(path)
    assert set(doc) == KEYS
    assert Path(doc["clip"]).stem == path.stem
    assert doc["licence"].strip() and doc["labeller_notes"].strip()
    assert doc["fps"] > 0 and doc["frame_count"] > 0 and doc["width"] > 0 and doc["height"] > 0
    first, last = doc["frames_labelled"]
    assert isinstance(first, int) and isinstance(last, int)
    assert 0 <= first <= last < doc["frame_count"]

    analytics = AnalyticsConfig.model_validate(doc["analytics"])
    assert analytics.lines, "a label file needs a counting line"
    line_ids = {line.id for line in analytics.lines}
    for crossing in doc["crossings"]:
        assert set(crossing) == {"frame", "line", "direction", "note"}, crossing
        assert isinstance(crossing["frame"], int) and first <= crossing["frame"] <= last, crossing
        assert crossing["line"] in line_ids, crossing
        assert crossing["direction"] in ("in", "out"), crossing
        assert crossing["note"].strip(), crossing
    frames = [c["frame"] for c in doc["crossings"]]
    assert frames == sorted(frames), "crossings in frame order"
    for case in doc["ambiguous"]:
        assert set(case) == {"frame", "note"}, case
        assert isinstance(case["frame"], int) and 0 <= case["frame"] < doc["frame_count"], case
        assert case["note"].strip(), case


@pytest.mark.parametrize("path", LABEL_FILES, ids=ids(LABEL_FILES))
def test_a_label_file_matches_its_clip(path: Path) -> None:
    doc = load(path)
    if path.stem in EXTERNAL:
        # Not redistributable: referred to outside the repository, and not needed for the tests to pass.
        assert doc["clip"] == EXTERNAL[path.stem]
        assert not (ROOT / "input" / "footage" / Path(doc["clip"]).name).exists()
        return
    assert not doc["clip"].startswith(("/", "..")), "a repository clip is named relative to the repo root"
    clip = ROOT / doc["clip"]
    assert clip.is_file(), f"{doc['clip']} is missing"
    capture = cv2.VideoCapture(str(clip))
    try:
        assert capture.isOpened()
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(doc["fps"])
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == doc["frame_count"]
        assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == doc["width"]
        assert int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == doc["height"]
        # The frame numbers are decode-order indices: the container's count must be what decoding yields.
        decoded = 0
        while capture.grab():
            decoded += 1
        assert decoded == doc["frame_count"]
    finally:
        capture.release()
