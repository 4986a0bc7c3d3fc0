"""A counting line in pixels: which side of it each anchor is on, clearly or not, and its per-track state.

A bent line (a polyline) judges each anchor by its nearest segment. The band is the distance to the whole
line: inside it nobody has a clear side (see `analytics/counting.py` for how sides become crossings).
"""

import numpy as np

from footfall_contract.config.geometry import CountingLine

IN, OUT = "in", "out"
# Share of the band an anchor born inside it must stand off the line for its side there to count as evidence.
BIRTH_OFFSET = 0.15


def anchors(boxes: np.ndarray) -> np.ndarray:
    """Bottom centres (x, y) of xyxy boxes, shape (n, 2)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]))


class LineState:
    """One counting line in pixels, straight or bent: each anchor's side and whether it is beside the line.

    A bent line is judged by its segment nearest to the anchor, so a point near a bend is on the side that the
    line's shape puts it; the band is the distance to the whole line.
    """

    def __init__(self, line: CountingLine, width: int, height: int, band: float) -> None:
        self.id = line.id
        self.in_sign = 1 if line.in_side == "left" else -1
        corners = np.asarray(line.points, dtype=np.float64) * np.array([width, height], dtype=np.float64)
        self.starts = corners[:-1]  # (k, 2) segment starts
        directions = corners[1:] - corners[:-1]
        self.lengths = np.hypot(directions[:, 0], directions[:, 1])  # (k,)
        self.units = directions / self.lengths[:, None]
        self.band_px = band * float(np.hypot(width, height))
        self.sides: dict[int, int] = {}  # track -> -1 / +1, once it was clearly on one side
        self.born_sides: dict[int, int] = {}  # track born in the band -> the side it first stood off the line
        self.counted: dict[int, set[str]] = {}
        self.totals = {IN: 0, OUT: 0}

    def committed_sides(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per anchor: +1 / -1 when clearly on one side (0 inside the band), whether it is beside the line
        (a side change beyond its ends is walking around the line, not across it), and +1 / -1 when it stands
        off the line itself (0 on it), for a track born inside the band."""
        offset = points[:, None, :] - self.starts[None, :, :]  # (n, k, 2)
        along = np.einsum("nkd,kd->nk", offset, self.units)
        # y grows downwards in images: left of the walking direction is a negative cross product
        signed = -(self.units[None, :, 0] * offset[:, :, 1] - self.units[None, :, 1] * offset[:, :, 0])
        beyond = along - np.clip(along, 0.0, self.lengths[None, :])  # < 0 before a segment's start, > 0 after its end
        distance = np.hypot(signed, beyond)
        nearest = np.argmin(distance, axis=1)
        rows = np.arange(len(points))
        side = np.sign(signed[rows, nearest])
        clear = distance[rows, nearest] > self.band_px
        last = len(self.lengths) - 1
        within = ~(
            ((nearest == 0) & (beyond[rows, 0] < -self.band_px))
            | ((nearest == last) & (beyond[rows, last] > self.band_px))
        )
        off_line = distance[rows, nearest] > BIRTH_OFFSET * self.band_px
        return np.where(clear, side, 0).astype(np.int8), within, np.where(off_line, side, 0).astype(np.int8)

    def inherit(self, heir: int, lost: int) -> None:
        """`heir` continues `lost` (see `analytics/track_origins.py`): it starts on the lost track's side. Not
        with what the lost track counted: a wrong heir (someone else standing where a person was lost) would
        carry that on and block a crossing of its own (seen on the synthetic crowds: a chain of three heirs
        had counted both directions before its last link truly crossed); starting on the side already
        crossed to, a right heir cannot count that crossing again anyway."""
        if lost in self.sides:
            self.sides[heir] = self.sides[lost]
        elif lost in self.born_sides:
            self.born_sides[heir] = self.born_sides[lost]

    def forget(self, track_id: int) -> None:
        self.sides.pop(track_id, None)
        self.born_sides.pop(track_id, None)
        self.counted.pop(track_id, None)
