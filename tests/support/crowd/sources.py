"""The empty scene and cut-out people of a fixed-camera clip, extracted once and cached.

Background: a per-pixel temporal median of frames sampled across the clip. In our clips people often stand at
one spot for seconds, so a plain median keeps a ghost; a second median over the frames that differ least from
the first (the emptiest ones) removes it.

Sprites: per sampled frame, |frame - background| thresholded and closed, connected components of person size
and shape (tall), cropped with their mask (holes filled: a white shirt on a white wall is still a person).
Components of consecutive samples that overlap are one group (one person's short walk cycle).
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests.support.footage import decoded_frames

# Bump when extraction changes: the cache key includes it, so stale sprites are never reused.
EXTRACTION_VERSION = 1
DEFAULT_CACHE = Path.home() / ".cache" / "footfall" / "synthetic-crowd"
SAMPLES = 96  # frames for the background median
SPRITE_STRIDE = 4  # every 4th frame is a sprite candidate
MAX_SPRITES = 48


@dataclass(frozen=True)
class Sprite:
    image: np.ndarray  # (h, w, 3) uint8 BGR, the component's bounding box
    mask: np.ndarray  # (h, w) uint8 0/1, touches all four edges of the box
    group: int  # same group = same person in consecutive sampled frames


@dataclass(frozen=True)
class SceneSource:
    clip: Path
    background: np.ndarray  # (H, W, 3) uint8 at the clip's size
    sprites: tuple[Sprite, ...]

    @property
    def groups(self) -> dict[int, tuple[Sprite, ...]]:
        out: dict[int, list[Sprite]] = {}
        for sprite in self.sprites:
            out.setdefault(sprite.group, []).append(sprite)
        return {group: tuple(items) for group, items in sorted(out.items())}


def _cache_file(clip: Path, cache_dir: Path) -> Path:
    stat = clip.stat()
    key = f"{clip.name}:{stat.st_size}:{stat.st_mtime_ns}:v{EXTRACTION_VERSION}"
    return cache_dir / f"{clip.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def _background(clip: Path) -> np.ndarray:
    probe = cv2.VideoCapture(str(clip))
    count = int(probe.get(cv2.CAP_PROP_FRAME_COUNT)) or SAMPLES
    probe.release()
    wanted = set(np.linspace(0, max(count - 1, 0), min(SAMPLES, count)).round().astype(int).tolist())
    stack = np.stack([frame for index, frame in decoded_frames(clip) if index in wanted])
    if len(stack) < 3:
        raise ValueError(f"{clip}: expected a clip of several frames, decoded {len(stack)}")
    # A plain median keeps a ghost where someone stands for most of the clip (our clips: people stop at a
    # table). The empty scene is the state that recurs between visits: score each sample by how many samples
    # far away in time look the same as it, and take the median of the best scored.
    thumbs = (
        np.stack(
            [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (64, 36), interpolation=cv2.INTER_AREA) for f in stack]
        )
        .astype(np.int16)
        .reshape(len(stack), -1)
    )
    changed = np.stack([(np.abs(thumbs - row) > 25).mean(axis=1) for row in thumbs])  # (n, n)
    order = np.arange(len(stack))
    far = np.abs(order[:, None] - order[None, :]) > max(2, len(stack) // 10)
    score = ((changed < 0.01) & far).sum(axis=1)
    if score.max() == 0:
        return np.median(stack, axis=0).astype(np.uint8)
    chosen = score >= 0.8 * score.max()
    return np.median(stack[chosen], axis=0).astype(np.uint8)


def _components(frame: np.ndarray, background: np.ndarray) -> list[tuple[int, int, int, int, np.ndarray]]:
    height, width = background.shape[:2]
    diff = np.abs(frame.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    foreground = (diff > 35).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, kernel)
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, kernel, iterations=3)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    found = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        # person-like: tall, big enough to be a person, not the whole frame (a lighting change), not cut by the
        # frame's edge (a half person would be pasted as a whole one)
        if h < 1.3 * w or area < 0.01 * width * height or h > 0.98 * height:
            continue
        if x <= 1 or y <= 1 or x + w >= width - 1 or y + h >= height - 1:
            continue
        mask = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(mask, contours, -1, 1, thickness=cv2.FILLED)  # fill holes (clothes like the wall)
        found.append((x, y, w, h, mask))
    return found


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter)


def extract(clip: Path) -> SceneSource:
    background = _background(clip)
    sprites: list[Sprite] = []
    previous: list[tuple[tuple[int, int, int, int], int]] = []
    next_group = 0
    for index, frame in decoded_frames(clip):
        if index % SPRITE_STRIDE:
            continue
        current: list[tuple[tuple[int, int, int, int], int]] = []
        for x, y, w, h, mask in _components(frame, background):
            box = (x, y, w, h)
            matches = [group for other, group in previous if _iou(box, other) > 0.5]
            group = matches[0] if matches else next_group
            next_group += 0 if matches else 1
            current.append((box, group))
            image = frame[y : y + h, x : x + w].copy()
            sprites.append(Sprite(image=image, mask=mask, group=group))
        previous = current
    if not sprites:
        raise ValueError(f"{clip}: found no person-like foreground; is it a fixed camera with people in it?")
    # Keep at most MAX_SPRITES, spread evenly over the clip: more variety than the first few seconds.
    picks = np.linspace(0, len(sprites) - 1, min(MAX_SPRITES, len(sprites))).round().astype(int)
    return SceneSource(clip=clip, background=background, sprites=tuple(sprites[i] for i in sorted(set(picks))))


def _save(source: SceneSource, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {"background": source.background}
    arrays["groups"] = np.array([s.group for s in source.sprites], dtype=np.int32)
    for index, sprite in enumerate(source.sprites):
        arrays[f"image_{index}"] = sprite.image
        arrays[f"mask_{index}"] = sprite.mask
    path.parent.mkdir(parents=True, exist_ok=True)
    # write then rename: a concurrent test run never reads a half-written cache
    partial = path.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.tmp.npz")
    np.savez_compressed(partial, **arrays)
    partial.replace(path)


def _load(clip: Path, path: Path) -> SceneSource:
    with np.load(path, allow_pickle=False) as data:
        groups = data["groups"].tolist()
        sprites = tuple(
            Sprite(image=data[f"image_{i}"], mask=data[f"mask_{i}"], group=int(g)) for i, g in enumerate(groups)
        )
        return SceneSource(clip=clip, background=data["background"], sprites=sprites)


def load_source(clip: Path, cache_dir: Path = DEFAULT_CACHE) -> SceneSource:
    """Background and sprites of `clip`, from the cache when the clip (size, mtime) is unchanged."""
    path = _cache_file(clip, cache_dir)
    if path.is_file():
        try:
            return _load(clip, path)
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache is re-extracted below
    source = extract(clip)
    _save(source, path)
    return source
