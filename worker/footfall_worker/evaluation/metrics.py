"""Tracking scores of a hypothesis against ground truth: CLEAR MOT and IDF1 via motmetrics, HOTA computed here.

HOTA follows Luiten et al., "HOTA: A Higher Order Metric for Evaluating Multi-Object Tracking" (IJCV 2020), step for
step as TrackEval's `metrics/hota.py` does it, so the numbers agree with the MOTChallenge server. TrackEval itself is
not a dependency: its PyPI wheel pulls in the GUI `opencv-python`, which would overwrite the `cv2` of
`opencv-python-headless`, plus matplotlib and pycocotools.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import motmetrics as mm
import numpy as np
from scipy.optimize import linear_sum_assignment

from footfall_worker.evaluation.mot import MotRow

# HOTA's localisation thresholds: 0.05, 0.10, ..., 0.95 (19 values), as in the paper and TrackEval.
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(float).eps

_MM_METRICS = [
    "mota",
    "motp",
    "idf1",
    "num_switches",
    "num_fragmentations",
    "num_false_positives",
    "num_misses",
    "num_objects",
    "num_predictions",
    "mostly_tracked",
    "mostly_lost",
    "num_frames",
]


@dataclass(frozen=True, slots=True)
class TrackingScores:
    """Scores of one sequence.

    Attributes:
        mota: Multiple Object Tracking Accuracy, `1 - (misses + false_positives + id_switches) / num_gt`.
        motp: Mean IoU of the matched pairs (MOTChallenge's convention, higher is better; motmetrics reports
            `1 - motp`). NaN when nothing matched.
        idf1: Identity F1, from the best one-to-one map of whole tracks to people.
        id_switches: Times a person's matched track id changed.
        fragmentations: Times a tracked person's trajectory was interrupted.
        false_positives: Hypothesis boxes matching no person.
        misses: Ground-truth boxes with no hypothesis.
        num_gt: Ground-truth boxes scored.
        num_predictions: Hypothesis boxes scored (after those matching ignore regions are dropped).
        mostly_tracked: People tracked in at least 80% of their frames.
        mostly_lost: People tracked in at most 20% of their frames.
        num_frames: Frames scored.
        hota: Higher Order Tracking Accuracy, `sqrt(deta * assa)` averaged over the 19 IoU thresholds.
        deta: Detection accuracy averaged over the thresholds.
        assa: Association accuracy averaged over the thresholds.
    """

    mota: float
    motp: float
    idf1: float
    id_switches: int
    fragmentations: int
    false_positives: int
    misses: int
    num_gt: int
    num_predictions: int
    mostly_tracked: int
    mostly_lost: int
    num_frames: int
    hota: float
    deta: float
    assa: float


@dataclass(frozen=True, slots=True)
class HotaScores:
    """HOTA and its parts, each averaged over `HOTA_ALPHAS`; per-threshold values in the `*_per_alpha` arrays."""

    hota: float
    deta: float
    assa: float
    loca: float
    hota_per_alpha: np.ndarray
    deta_per_alpha: np.ndarray
    assa_per_alpha: np.ndarray


@dataclass(frozen=True, slots=True)
class _Frame:
    number: int
    gt_ids: np.ndarray
    gt_boxes: np.ndarray  # (n, 4) xywh
    hyp_ids: np.ndarray
    hyp_boxes: np.ndarray  # (m, 4) xywh


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of `left, top, width, height` boxes.

    motmetrics' own `distances.iou_matrix` calls `np.asfarray`, gone in numpy 2, so the IoU is computed here.

    Args:
        a: (n, 4) boxes.
        b: (m, 4) boxes.

    Returns:
        (n, m) float64 IoU in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    a_min, a_max = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]
    b_min, b_max = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]
    inter = np.prod(np.clip(np.minimum(a_max, b_max) - np.maximum(a_min, b_min), 0, None), axis=2)
    union = np.prod(np.clip(a[:, None, 2:], 0, None), axis=2) + np.prod(np.clip(b[None, :, 2:], 0, None), axis=2)
    union = union - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _by_frame(rows: Iterable[MotRow], what: str) -> dict[int, list[MotRow]]:
    frames: dict[int, list[MotRow]] = {}
    for row in rows:
        frames.setdefault(row.frame, []).append(row)
    for frame, frame_rows in frames.items():
        ids = [r.track_id for r in frame_rows]
        if len(set(ids)) != len(ids):
            # Two boxes with one id in a frame make every identity metric meaningless; it is a tracker bug.
            raise ValueError(f"{what}: frame {frame} has duplicate ids")
    return frames


def _arrays(rows: Sequence[MotRow]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([r.track_id for r in rows], dtype=np.int64)
    boxes = np.array([r.xywh for r in rows], dtype=np.float64).reshape(-1, 4)
    return ids, boxes


def _drop_ignored(
    gt_boxes: np.ndarray, ignore_boxes: np.ndarray, hyp_ids: np.ndarray, hyp_boxes: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    # As TrackEval: one assignment against people and ignore boxes together, so a hypothesis on a person standing
    # next to a distractor still counts; only hypotheses assigned to an ignore box go.
    if len(ignore_boxes) == 0 or len(hyp_ids) == 0:
        return hyp_ids, hyp_boxes
    iou = box_iou(np.concatenate([gt_boxes, ignore_boxes]), hyp_boxes)
    iou[iou < iou_threshold - _EPS] = 0
    rows, cols = linear_sum_assignment(-iou)
    matched = iou[rows, cols] > 0
    drop = cols[matched & (rows >= len(gt_boxes))]
    keep = np.ones(len(hyp_ids), dtype=bool)
    keep[drop] = False
    return hyp_ids[keep], hyp_boxes[keep]


def _frames(
    gt_rows: Iterable[MotRow],
    hyp_rows: Iterable[MotRow],
    ignore_rows: Iterable[MotRow],
    frames: Collection[int] | None,
    iou_threshold: float,
) -> list[_Frame]:
    gt = _by_frame(gt_rows, "ground truth")
    hyp = _by_frame(hyp_rows, "hypotheses")
    ignore: dict[int, list[MotRow]] = {}
    for row in ignore_rows:
        ignore.setdefault(row.frame, []).append(row)
    scored = sorted(set(frames) if frames is not None else set(gt) | set(hyp))
    out = []
    for frame in scored:
        gt_ids, gt_boxes = _arrays(gt.get(frame, []))
        hyp_ids, hyp_boxes = _arrays(hyp.get(frame, []))
        _, ignore_boxes = _arrays(ignore.get(frame, []))
        hyp_ids, hyp_boxes = _drop_ignored(gt_boxes, ignore_boxes, hyp_ids, hyp_boxes, iou_threshold)
        out.append(_Frame(frame, gt_ids, gt_boxes, hyp_ids, hyp_boxes))
    return out


def _dense_ids(ids_per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    all_ids = np.unique(np.concatenate(ids_per_frame)) if ids_per_frame else np.zeros(0, np.int64)
    return [np.searchsorted(all_ids, ids) for ids in ids_per_frame], len(all_ids)


def hota(frames: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> HotaScores:
    """HOTA of a sequence from its per-frame ids and similarities.

    Args:
        frames: Per frame `(gt_ids, hyp_ids, similarity)` where `similarity` is the (n_gt, n_hyp) IoU matrix.

    Returns:
        The scores. As in TrackEval, a sequence where either side has no boxes at all scores 0 (and LocA 1), even
        when both are empty.
    """
    gt_ids, n_gt_ids = _dense_ids([f[0] for f in frames])
    hyp_ids, n_hyp_ids = _dense_ids([f[1] for f in frames])
    sims = [
        np.asarray(f[2], dtype=np.float64).reshape(len(g), len(h))
        for f, g, h in zip(frames, gt_ids, hyp_ids, strict=True)
    ]
    n_alpha = len(HOTA_ALPHAS)
    num_gt_dets = sum(len(g) for g in gt_ids)
    num_hyp_dets = sum(len(h) for h in hyp_ids)
    if num_gt_dets == 0 or num_hyp_dets == 0:
        zeros = np.zeros(n_alpha)
        return HotaScores(0.0, 0.0, 0.0, 1.0, zeros, zeros.copy(), zeros.copy())

    # Global alignment: how strongly each (person, track) pair co-occurs over the whole sequence, used to prefer
    # identity-consistent matches in each frame.
    potential = np.zeros((n_gt_ids, n_hyp_ids))
    gt_count = np.zeros((n_gt_ids, 1))
    hyp_count = np.zeros((1, n_hyp_ids))
    for g, h, sim in zip(gt_ids, hyp_ids, sims, strict=True):
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        sim_iou = np.zeros_like(sim)
        mask = denom > _EPS
        sim_iou[mask] = sim[mask] / denom[mask]
        potential[g[:, None], h[None, :]] += sim_iou
        gt_count[g] += 1
        hyp_count[0, h] += 1
    alignment = potential / (gt_count + hyp_count - potential)

    tp = np.zeros(n_alpha)
    fn = np.zeros(n_alpha)
    fp = np.zeros(n_alpha)
    loc = np.zeros(n_alpha)
    matches = np.zeros((n_alpha, n_gt_ids, n_hyp_ids))
    for g, h, sim in zip(gt_ids, hyp_ids, sims, strict=True):
        if len(g) == 0 or len(h) == 0:
            fp += len(h)
            fn += len(g)
            continue
        rows, cols = linear_sum_assignment(-(alignment[g[:, None], h[None, :]] * sim))
        matched_sim = sim[rows, cols]
        for a, alpha in enumerate(HOTA_ALPHAS):
            ok = matched_sim >= alpha - _EPS
            n = int(ok.sum())
            tp[a] += n
            fn[a] += len(g) - n
            fp[a] += len(h) - n
            loc[a] += matched_sim[ok].sum()
            np.add.at(matches[a], (g[rows[ok]], h[cols[ok]]), 1)

    union = gt_count[None] + hyp_count[None] - matches
    assa = (matches * (matches / np.maximum(1, union))).sum(axis=(1, 2)) / np.maximum(1, tp)
    deta = tp / np.maximum(1, tp + fn + fp)
    per_alpha = np.sqrt(deta * assa)
    loca = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return HotaScores(
        float(per_alpha.mean()), float(deta.mean()), float(assa.mean()), float(loca.mean()), per_alpha, deta, assa
    )


def evaluate(
    gt_rows: Iterable[MotRow],
    hyp_rows: Iterable[MotRow],
    iou_threshold: float = 0.5,
    *,
    ignore_rows: Iterable[MotRow] = (),
    frames: Collection[int] | None = None,
) -> TrackingScores:
    """Scores tracker output against ground truth.

    Args:
        gt_rows: Ground-truth boxes (`GroundTruth.rows`).
        hyp_rows: Tracker boxes.
        iou_threshold: Least IoU for a hypothesis to match a person in the CLEAR MOT and IDF1 metrics (HOTA
            integrates over thresholds and does not use it).
        ignore_rows: Boxes whose hypotheses (matched at `iou_threshold`, 0.5 in TrackEval) are dropped unscored
            (`GroundTruth.ignore`).
        frames: Frame numbers to score; rows in other frames are left out. Default: every frame in either input.
            A frame listed here with no rows still counts: its ground truth is all misses.

    Returns:
        The scores.

    Raises:
        ValueError: A frame holds one id twice on either side.
    """
    per_frame = _frames(gt_rows, hyp_rows, ignore_rows, frames, iou_threshold)
    acc = mm.MOTAccumulator(auto_id=False)
    hota_input = []
    for f in per_frame:
        iou = box_iou(f.gt_boxes, f.hyp_boxes)
        distance = 1.0 - iou
        # Same convention as `mm.distances.iou_matrix(max_iou=1 - iou_threshold)`: NaN forbids the pair.
        distance[distance > 1.0 - iou_threshold] = np.nan
        acc.update(f.gt_ids, f.hyp_ids, distance, frameid=f.number)
        hota_input.append((f.gt_ids, f.hyp_ids, iou))
    summary = mm.metrics.create().compute(acc, metrics=_MM_METRICS, return_dataframe=False)
    h = hota(hota_input)
    return TrackingScores(
        mota=float(summary["mota"]),
        motp=1.0 - float(summary["motp"]),
        idf1=float(summary["idf1"]),
        id_switches=int(summary["num_switches"]),
        fragmentations=int(summary["num_fragmentations"]),
        false_positives=int(summary["num_false_positives"]),
        misses=int(summary["num_misses"]),
        num_gt=int(summary["num_objects"]),
        num_predictions=int(summary["num_predictions"]),
        mostly_tracked=int(summary["mostly_tracked"]),
        mostly_lost=int(summary["mostly_lost"]),
        num_frames=int(summary["num_frames"]),
        hota=h.hota,
        deta=h.deta,
        assa=h.assa,
    )
