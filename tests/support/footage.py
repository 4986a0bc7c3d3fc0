"""The committed CC-BY clips (input/footage/intel) and frames read from them."""

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from tests.support.paths import footage_path

ONE_BY_ONE = "one-by-one-person-detection.mp4"
HEAD_POSE = "head-pose-face-detection-female-and-male.mp4"
STORE_AISLE = "store-aisle-detection.mp4"
FACE_WALKING = "face-demographics-walking.mp4"

# one-by-one (768x432, 10 fps), checked by eye and by detections: one person standing (score ~0.87-0.91,
# seen from behind), and nobody at all (no detection even at the 0.1 score floor).
ONE_PERSON_FRAMES = (120, 350, 800, 1100, 1300)
EMPTY_FRAMES = (30, 210, 470, 720, 900, 1215)


def frames_at(name: str, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode the clip once, keeping the frames at `indices` (0-based)."""
    wanted = set(indices)
    capture = cv2.VideoCapture(str(footage_path(name)))
    frames: dict[int, np.ndarray] = {}
    index = 0
    try:
        while len(frames) < len(wanted):
            ok, frame = capture.read()
            if not ok:
                raise IndexError(f"{name} ended at frame {index}; missing {sorted(wanted - set(frames))}")
            if index in wanted:
                frames[index] = frame
            index += 1
    finally:
        capture.release()
    return frames


def decoded_frames(path: Path) -> Iterator[tuple[int, np.ndarray]]:
    """Every frame of a video file with its 0-based index, streamed (a long clip does not fit in memory)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open {path}")
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield index, frame
            index += 1
    finally:
        capture.release()
