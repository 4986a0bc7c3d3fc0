"""Render a scenario: sprites pasted by their mask, farther (smaller y) first, the occluder on top; MOT boxes."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from tests.support.crowd.scenario import Scenario, positions
from tests.support.crowd.sources import SceneSource, Sprite

SPRITE_FRAMES = 3  # video frames per sprite of a walk cycle


# H.264 as an IP camera sends it (hack/prepare-footage.sh makes the committed clips the same way): one keyframe a
# second, no B-frames, yuv420p; so the camera simulator can serve the clip as it is. x264 is deterministic for
# the same input and settings, so the same seed still gives the same file.
def _encoder(path: Path, size: tuple[int, int], fps: int) -> list[str]:
    width, height = size
    return [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", str(fps), "-bf", "0",
        "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path),
    ]  # fmt: skip


def person_height(y: np.ndarray | float, height: int, scale: float) -> np.ndarray | float:
    """Crude perspective: a person's height in px grows with how low the feet are in the frame."""
    return height * (0.12 + 0.5 * np.asarray(y) / height) * scale


def frames(scenario: Scenario, source: SceneSource) -> Iterator[tuple[np.ndarray, list[list[float]]]]:
    """Each frame (BGR) and its boxes [frame, id, x, y, w, h, visible] (full box, float, xywh)."""
    width, height = scenario.size
    background = cv2.resize(source.background, (width, height), interpolation=cv2.INTER_AREA)
    times = np.arange(scenario.frames) / scenario.fps
    groups = list(source.groups.values())
    tracks = [positions(person, scenario.size, times) for person in scenario.people]
    occ = scenario.occluder
    ox0, oy0 = int(round(occ.x * width)), int(round(occ.y * height))
    ox1, oy1 = int(round((occ.x + occ.w) * width)), int(round((occ.y + occ.h) * height))
    occluded = np.zeros((height, width), dtype=bool)
    occluded[max(oy0, 0) : oy1, max(ox0, 0) : ox1] = True
    for index in range(scenario.frames):
        frame = background.copy()
        owner = np.zeros((height, width), dtype=np.int16)  # who is seen at each pixel (0: nobody)
        drawn: list[tuple[int, float, float, float, float, int]] = []
        present = [(p, tracks[k][0][index]) for k, p in enumerate(scenario.people) if tracks[k][1][index]]
        for person, (ax, ay) in sorted(present, key=lambda item: (item[1][1], item[0].id)):  # far first
            cycle = groups[person.sprite_group % len(groups)]
            sprite: Sprite = cycle[(index // SPRITE_FRAMES) % len(cycle)]
            h = float(person_height(ay, height, person.scale))
            w = h * sprite.image.shape[1] / sprite.image.shape[0]
            x, y = ax - w / 2, ay - h
            pw, ph = max(1, int(round(w))), max(1, int(round(h)))
            px, py = int(round(x)), int(round(y))
            image = cv2.resize(sprite.image, (pw, ph), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(sprite.mask.astype(np.float32), (pw, ph), interpolation=cv2.INTER_LINEAR)
            # clip the sprite's box to the frame
            x0, y0, x1, y1 = max(px, 0), max(py, 0), min(px + pw, width), min(py + ph, height)
            total = int((alpha > 0.5).sum())
            if x1 > x0 and y1 > y0:
                a = alpha[y0 - py : y1 - py, x0 - px : x1 - px, None]
                region = frame[y0:y1, x0:x1]
                blend = region * (1.0 - a) + image[y0 - py : y1 - py, x0 - px : x1 - px] * a
                frame[y0:y1, x0:x1] = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
                owner[y0:y1, x0:x1][a[:, :, 0] > 0.5] = person.id
            drawn.append((person.id, x, y, w, h, total))
        frame[occluded] = occ.colour
        owner[occluded] = 0
        seen = np.bincount(owner.ravel(), minlength=max((p.id for p in scenario.people), default=0) + 1)
        boxes = [
            [index, pid, x, y, w, h, float(seen[pid]) / total if total else 0.0]
            for pid, x, y, w, h, total in sorted(drawn, key=lambda d: d[0])
        ]
        yield frame, boxes


def write(scenario: Scenario, source: SceneSource, path: Path) -> tuple[str, list[list[float]]]:
    """Render to `path` (H.264 MP4, through ffmpeg: hack/install-gstreamer.sh installs it); returns the codec
    and all boxes."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed: run hack/install-gstreamer.sh (make gstreamer)")
    boxes: list[list[float]] = []
    with subprocess.Popen(_encoder(path, scenario.size, scenario.fps), stdin=subprocess.PIPE) as encoder:
        assert encoder.stdin is not None
        try:
            for frame, frame_boxes in frames(scenario, source):
                encoder.stdin.write(np.ascontiguousarray(frame).tobytes())
                boxes += frame_boxes
        finally:
            encoder.stdin.close()
    if encoder.returncode != 0:
        raise RuntimeError(f"ffmpeg could not encode {path} (exit status {encoder.returncode})")
    return "h264", boxes
