"""Association costs and the assignment solver for ByteTrack."""

import lap
import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes `a` (n, 4) and `b` (m, 4) -> (n, m)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    intersection = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    return intersection / np.maximum(union, 1e-9)


def fused_cost(track_boxes: np.ndarray, det_boxes: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """1 - IoU x detection score: ByteTrack's first-stage cost, so a confident box wins a close call."""
    return 1.0 - iou_matrix(track_boxes, det_boxes) * det_scores[None, :]


def iou_cost(track_boxes: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    return 1.0 - iou_matrix(track_boxes, det_boxes)


def linear_assignment(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching that refuses pairs costing more than `max_cost`.

    Returns:
        matches (k, 2) of (row, column), unmatched rows, unmatched columns; all sorted, so results are
        deterministic.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return np.zeros((0, 2), dtype=np.int64), np.arange(rows), np.arange(cols)
    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=max_cost)
    matched = row_to_col >= 0
    matched_rows = np.flatnonzero(matched)
    matches = np.stack([matched_rows, row_to_col[matched_rows]], axis=1).astype(np.int64)
    col_taken = np.zeros(cols, dtype=bool)
    col_taken[matches[:, 1]] = True
    return matches, np.flatnonzero(~matched), np.flatnonzero(~col_taken)
