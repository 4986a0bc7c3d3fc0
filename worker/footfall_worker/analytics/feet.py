"""Whether a box's bottom is a person's feet: the anchor of every count, and wrong whenever the feet are hidden.

Two ways the feet go out of sight while the person is still tracked, both seen on our clips:
- cut by the frame's bottom edge: someone coming into view from below; the box's bottom is the frame's edge
  and moves with them, not with their feet;
- hidden behind something nearer the camera (another shopper, a display): the detector boxes the visible upper
  body, and the anchor jumps up by half a person (store-aisle: a woman's box shrank from 147 to 47 px in 12
  frames as someone walked in front of her, its bottom crossing a line and back).

A box then says nothing about which side of a line the person is on. Perspective shrinks a box too, but
smoothly: the reference height here forgets at `_DECAY_PER_S`, faster than walking away from a store camera
shrinks anyone, while an occlusion cuts the box within a few frames. While the feet are hidden the reference
holds (for up to `MAX_HIDDEN_S`), so a long occlusion does not become the new normal.
"""

from dataclasses import dataclass

import numpy as np

# A box whose bottom is this close to the frame's bottom edge (relative to its height) has its feet cut off.
CUT_MARGIN = 0.01
# A box shorter than this share of the track's recent height has its feet hidden.
TRUNCATED_SHARE = 0.75
# How fast the recent height forgets a taller past, per second (a walk away from the camera shrinks slower).
_DECAY_PER_S = 0.7
# Feet hidden longer than this (s): the shorter box is the person now (they turned, crouched, sat down).
MAX_HIDDEN_S = 3.0


@dataclass(slots=True)
class _Recent:
    at: float
    height: float
    hidden_since: float | None = None


class FeetVisibility:
    """Per track, whether its box's bottom is its feet (one channel, not thread-safe)."""

    def __init__(self) -> None:
        self._recent: dict[int, _Recent] = {}

    def update(self, ts: float, ids: list[int], boxes: np.ndarray, frame_height: float) -> np.ndarray:
        """(n,) bool: the feet of each box (xyxy, units of `frame_height`; in the order of `ids`) are in view."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        heights = boxes[:, 3] - boxes[:, 1]
        seen = boxes[:, 3] < frame_height * (1.0 - CUT_MARGIN)
        for row, track_id in enumerate(ids):
            height = float(heights[row])
            last = self._recent.get(track_id)
            if last is None:
                self._recent[track_id] = _Recent(ts, height)
                continue
            holding = last.hidden_since is not None and ts - last.hidden_since <= MAX_HIDDEN_S
            decay = 1.0 if holding else _DECAY_PER_S ** max(0.0, ts - last.at)
            last.at, last.height = ts, max(height, last.height * decay)
            if height < TRUNCATED_SHARE * last.height:
                seen[row] = False
                last.hidden_since = ts if last.hidden_since is None else last.hidden_since
            else:
                last.hidden_since = None
        return seen

    def forget(self, track_id: int) -> None:
        self._recent.pop(track_id, None)
