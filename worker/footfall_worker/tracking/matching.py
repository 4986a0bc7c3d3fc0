"""Association costs and the assignment solver for ByteTrack."""

import lap
import numpy as np

_NO_MATCHES = np.zeros((0, 2), dtype=np.int64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes `a` (n, 4) and `b` (m, 4) -> (n, m)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    # In place, and np.maximum rather than np.clip(x, 0, None), which is several times slower in numpy 2:
    # this runs three times per frame on every track x detection pair.
    intersection = np.minimum(a[:, None, 2], b[None, :, 2])
    intersection -= np.maximum(a[:, None, 0], b[None, :, 0])
    np.maximum(intersection, 0.0, out=intersection)
    height = np.minimum(a[:, None, 3], b[None, :, 3])
    height -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(height, 0.0, out=height)
    intersection *= height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :]
    union -= intersection
    np.maximum(union, 1e-9, out=union)
    intersection /= union
    return intersection


def fused_cost(track_boxes: np.ndarray, det_boxes: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """1 - IoU x detection score: ByteTrack's first-stage cost, so a confident box wins a close call."""
    cost = iou_matrix(track_boxes, det_boxes)
    cost *= -det_scores[None, :]
    cost += 1.0
    return cost


def iou_cost(track_boxes: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    cost = iou_matrix(track_boxes, det_boxes)
    np.subtract(1.0, cost, out=cost)
    return cost


def linear_assignment(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching that refuses pairs costing `max_cost` or more.

    Returns:
        matches (k, 2) of (row, column), unmatched rows, unmatched columns; all sorted, so results are
        deterministic.
    """
    rows, cols = cost.shape
    candidate = cost < max_cost
    if rows == 0 or cols == 0 or not candidate.any():
        return _NO_MATCHES, np.arange(rows), np.arange(cols)
    # Most people have exactly one plausible box and vice versa. Such a pair is a component of its own: the
    # optimum always takes it, so only what remains needs the (quadratic-memory) solver.
    per_row, per_col = candidate.sum(1), candidate.sum(0)
    best_col = candidate.argmax(1)
    lone = (per_row == 1) & (per_col[best_col] == 1)
    row_to_col = np.full(rows, -1, dtype=np.int64)
    row_to_col[lone] = best_col[lone]
    rest_rows = np.flatnonzero((per_row > 0) & ~lone)
    if len(rest_rows):
        lone_col = np.zeros(cols, dtype=bool)
        lone_col[best_col[lone]] = True
        rest_cols = np.flatnonzero((per_col > 0) & ~lone_col)
        _, sub, _ = lap.lapjv(cost[np.ix_(rest_rows, rest_cols)], extend_cost=True, cost_limit=max_cost)
        hit = sub >= 0
        row_to_col[rest_rows[hit]] = rest_cols[sub[hit]]
    matched = row_to_col >= 0
    matched_rows = np.flatnonzero(matched)
    matches = np.stack([matched_rows, row_to_col[matched_rows]], axis=1)
    col_taken = np.zeros(cols, dtype=bool)
    col_taken[matches[:, 1]] = True
    return matches, np.flatnonzero(~matched), np.flatnonzero(~col_taken)
