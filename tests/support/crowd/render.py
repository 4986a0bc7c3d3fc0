"""Render a scenario: sprites pasted by their mask, farther (smaller y) first, the occluder on top; MOT boxes."""

import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from tests.support.crowd.scenario import Scenario, positions
from tests.support.crowd.sources import SceneSource, Sprite

SPRITE_FRAMES = 3  # video frames per sprite of a walk cycle


@functools.cache
def codec() -> str:
    """'avc1' (H.264) when this OpenCV build can write it, else 'mp4v' (MPEG-4 Part 2). Probed once: a failing
    probe logs ffmpeg errors, which we do not want per clip."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = cv2.VideoWriter(str(Path(tmp) / "probe.mp4"), cv2.VideoWriter_fourcc(*"avc1"), 15, (64, 64))
        ok = writer.isOpened()
        writer.release()
    return "avc1" if ok else "mp4v"


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
    """Render to `path` (MP4); returns the codec used and all boxes."""
    fourcc = codec()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), scenario.fps, scenario.size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} with {fourcc}")
    boxes: list[list[float]] = []
    try:
        for frame, frame_boxes in frames(scenario, source):
            writer.write(frame)
            boxes += frame_boxes
    finally:
        writer.release()
    return fourcc, boxes
