"""Re-finding a lost person by appearance (the BoT-SORT / Deep OC-SORT idea, spent only where it pays).

Plain ByteTrack matches by overlap only: someone who walks behind a pillar or another shopper for longer than
its buffer, or reappears where their frozen box does not overlap, comes back as a new track, and a counting
line never sees the new track's history cross. Here, a confident detection that would start a new track is
first compared with the lost tracks by appearance: the closest one that looks alike and could have walked
there in the time it was gone takes the detection and keeps its id, its history and its side of every line.

Embeddings are computed only for those detections and for a few samples of each confirmed track (a running,
normalised mean), never for every box of every frame: the cost stays proportional to arrivals, not crowd size.
"""

from collections.abc import Callable, Sequence

import numpy as np

from footfall_worker.tracking.matching import iou_matrix, linear_assignment
from footfall_worker.tracking.track import Track

# Embeds boxes (n, 4) of the current frame: (n, d) L2-normalised rows, zero rows where nothing can be described.
AppearanceProbe = Callable[[np.ndarray], np.ndarray]

# How far a person may walk while lost, in their own heights per second (a brisk walk is ~0.8): a generous
# reach lets a look-alike across the room take the id, and a wrong re-find on the far side of a line is a
# false crossing (measured on synthetic crowds: bench/crossing_bench.py).
MAX_SPEED_HEIGHTS_PER_S = 1.0
# Slack for a detection's box jitter and a person stepping sideways out of an occlusion, in heights.
GATE_SLACK_HEIGHTS = 0.75
# Weight of the newest sample in a track's running appearance (BoT-SORT uses 0.1 on every frame; samples here
# are spaced in time, so each carries more).
SAMPLE_WEIGHT = 0.3
# Cost of a pair out of reach: above any cosine cost (at most 2) and finite, as the solver wants.
_OUT_OF_REACH = 10.0
# A box overlapping another this much describes two people: it is not sampled.
CROWDED_IOU = 0.15


def update_appearance(track: Track, embedding: np.ndarray, at_s: float) -> None:
    """Fold one sample into the track's running appearance (unit length), unless it describes nothing."""
    if not embedding.any():
        return
    current = track.appearance
    mixed = embedding if current is None else (1 - SAMPLE_WEIGHT) * current + SAMPLE_WEIGHT * embedding
    norm = float(np.linalg.norm(mixed))
    if norm > 1e-6:
        track.appearance = (mixed / norm).astype(np.float32)
        track.appearance_at_s = at_s


def uncrowded(boxes: np.ndarray) -> np.ndarray:
    """Mask of the boxes that overlap no other box in the frame (their pixels are one person's)."""
    if len(boxes) < 2:
        return np.ones(len(boxes), bool)
    overlap = iou_matrix(boxes, boxes)
    np.fill_diagonal(overlap, 0.0)
    return overlap.max(axis=1) < CROWDED_IOU


def _reachable(track: Track, boxes: np.ndarray, at_s: float) -> np.ndarray:
    """Which detections' feet the lost track's person could have walked to since last seen."""
    last = track.observed_xyxy
    height = max(1.0, float(last[3] - last[1]))
    feet = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]))
    gone_s = max(0.0, at_s - track.last_seen_s)
    reach = (GATE_SLACK_HEIGHTS + MAX_SPEED_HEIGHTS_PER_S * gone_s) * height
    distance = np.hypot(feet[:, 0] - (last[0] + last[2]) / 2, feet[:, 1] - last[3])
    return distance <= reach


def refind(
    lost: Sequence[Track], boxes: np.ndarray, embeddings: np.ndarray, at_s: float, min_similarity: float
) -> tuple[list[tuple[Track, int]], np.ndarray]:
    """Match detections to lost tracks by appearance within reach.

    Args:
        lost: lost tracks with an appearance.
        boxes: (n, 4) the detections that would start new tracks.
        embeddings: (n, d) their embeddings.
        at_s: now.
        min_similarity: least cosine similarity of a match.

    Returns:
        (track, detection row) pairs, and the rows left to start new tracks.
    """
    if not lost or not len(boxes):
        return [], np.arange(len(boxes))
    gallery = np.stack([track.appearance for track in lost])  # type: ignore[misc]
    similarity = gallery @ embeddings.T
    cost = 1.0 - similarity
    for row, track in enumerate(lost):
        cost[row, ~_reachable(track, boxes, at_s)] = _OUT_OF_REACH
    matches, _, unmatched = linear_assignment(cost, 1.0 - min_similarity)
    return [(lost[i], int(j)) for i, j in matches.tolist()], unmatched
