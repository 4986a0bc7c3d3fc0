"""MOT file I/O and tracking scores, on the MOT15 TUD ground truth shipped inside the motmetrics package.

The TUD annotations are CC BY-NC-SA: they are read from the installed package, never copied into this repository.
"""

import importlib.resources
import math
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from footfall_worker.evaluation.metrics import HOTA_ALPHAS, box_iou, evaluate, hota
from footfall_worker.evaluation.mot import (
    MotRow,
    read_mot,
    read_mot_gt,
    write_mot,
    xywh_to_xyxy,
    xyxy_to_xywh,
)

SEQUENCES = ["TUD-Campus", "TUD-Stadtmitte"]


@pytest.fixture(params=SEQUENCES)
def gt_path(request: pytest.FixtureRequest) -> Iterator[Path]:
    resource = importlib.resources.files("motmetrics") / "data" / request.param / "gt.txt"
    with importlib.resources.as_file(resource) as path:
        yield path


@pytest.fixture
def gt_rows(gt_path: Path) -> list[MotRow]:
    return list(read_mot_gt(gt_path).rows)


def _frames_of(rows: list[MotRow]) -> dict[int, dict[int, MotRow]]:
    frames: dict[int, dict[int, MotRow]] = {}
    for r in rows:
        frames.setdefault(r.frame, {})[r.track_id] = r
    return frames


def _swappable_pair(rows: list[MotRow]) -> tuple[int, int, int]:
    """A frame k and two ids seen in frames k-1 and k whose boxes at k do not overlap.

    Disjoint boxes matter: where the swapped boxes overlapped by IoU >= 0.5, CLEAR MOT would keep the old pairing and
    count no switch.
    """
    frames = _frames_of(rows)
    numbers = sorted(frames)
    for k in numbers[len(numbers) // 3 :]:
        if k - 1 not in frames:
            continue
        both = sorted(set(frames[k - 1]) & set(frames[k]))
        for i, a in enumerate(both):
            for b in both[i + 1 :]:
                if box_iou(np.array([frames[k][a].xywh]), np.array([frames[k][b].xywh]))[0, 0] == 0:
                    return k, a, b
    raise AssertionError("no swappable pair")


def test_ground_truth_against_itself_is_perfect(gt_rows: list[MotRow]) -> None:
    s = evaluate(gt_rows, gt_rows)
    assert s.mota == 1.0
    assert s.idf1 == 1.0
    assert s.motp == pytest.approx(1.0)
    assert (s.id_switches, s.fragmentations, s.false_positives, s.misses) == (0, 0, 0, 0)
    assert s.num_gt == s.num_predictions == len(gt_rows)
    assert s.mostly_lost == 0
    assert s.hota == pytest.approx(1.0) and s.deta == pytest.approx(1.0) and s.assa == pytest.approx(1.0)


def test_swapping_two_ids_adds_exactly_two_switches(gt_rows: list[MotRow]) -> None:
    k, a, b = _swappable_pair(gt_rows)
    swap = {a: b, b: a}
    hyp = [replace(r, track_id=swap.get(r.track_id, r.track_id)) if r.frame >= k else r for r in gt_rows]

    s = evaluate(gt_rows, hyp)

    assert s.id_switches == 2
    assert s.idf1 < 1.0
    assert s.mota == 1.0 - 2 / len(gt_rows)
    assert (s.false_positives, s.misses) == (0, 0)
    # Detection is untouched; only association suffers.
    assert s.deta == pytest.approx(1.0)
    assert s.assa < 1.0 and s.hota < 1.0


@pytest.mark.parametrize("fraction", [0.05, 0.3])
def test_dropped_boxes_are_misses(gt_rows: list[MotRow], fraction: float) -> None:
    rng = random.Random(1234)
    hyp = [r for r in gt_rows if rng.random() >= fraction]
    dropped = len(gt_rows) - len(hyp)
    assert dropped > 0

    s = evaluate(gt_rows, hyp)

    assert s.misses == dropped
    assert s.mota == 1.0 - dropped / len(gt_rows)
    assert (s.false_positives, s.id_switches) == (0, 0)
    assert s.deta == pytest.approx((len(gt_rows) - dropped) / len(gt_rows))


def test_small_shift_keeps_mota_and_lowers_motp(gt_rows: list[MotRow]) -> None:
    # Shifting by 5% of the width gives IoU (w - 0.05w) / (w + 0.05w) = 0.95 / 1.05 for every box.
    hyp = [replace(r, x=r.x + 0.05 * r.w) for r in gt_rows]
    iou = 0.95 / 1.05

    s = evaluate(gt_rows, hyp)

    assert s.mota == 1.0 and s.idf1 == 1.0 and s.id_switches == 0
    assert s.motp == pytest.approx(iou)
    # HOTA: perfect at the 18 thresholds up to 0.90, nothing at 0.95.
    assert s.hota == pytest.approx(18 / 19)
    assert s.deta == pytest.approx(18 / 19) and s.assa == pytest.approx(18 / 19)


def test_false_positives_are_counted_exactly(gt_rows: list[MotRow]) -> None:
    rng = random.Random(7)
    # Far right of any 640-pixel-wide TUD frame, so no added box can overlap a person.
    extra = [replace(r, track_id=10_000 + i, x=r.x + 5_000) for i, r in enumerate(gt_rows) if rng.random() < 0.1]
    assert extra

    s = evaluate(gt_rows, gt_rows + extra)

    assert s.false_positives == len(extra)
    assert s.misses == 0 and s.id_switches == 0
    assert s.num_predictions == len(gt_rows) + len(extra)
    assert s.mota == 1.0 - len(extra) / len(gt_rows)


def test_iou_threshold_decides_matches(gt_rows: list[MotRow]) -> None:
    # IoU 0.95 / 1.05 ~ 0.905 passes at 0.9 and fails at 0.95, where every box is both a miss and a false positive.
    hyp = [replace(r, x=r.x + 0.05 * r.w) for r in gt_rows]
    assert evaluate(gt_rows, hyp, iou_threshold=0.9).mota == 1.0
    strict = evaluate(gt_rows, hyp, iou_threshold=0.95)
    assert strict.misses == strict.false_positives == len(gt_rows)


def _frame(gt_ids: list[int], hyp_ids: list[int], sim: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.array(gt_ids), np.array(hyp_ids), np.array(sim, dtype=float).reshape(len(gt_ids), len(hyp_ids))


def test_hota_hand_computed_swap() -> None:
    # Two people, two frames; the tracker swaps ids in frame 2. Every (person, track) pair matches once, so each
    # pair's association IoU is 1 / (2 + 2 - 1) and AssA = 1/3; detection is perfect, HOTA = sqrt(1/3).
    frames = [_frame([1, 2], [1, 2], [[1, 0], [0, 1]]), _frame([1, 2], [2, 1], [[1, 0], [0, 1]])]
    h = hota(frames)
    assert h.deta == pytest.approx(1.0)
    assert h.assa == pytest.approx(1 / 3)
    assert h.hota == pytest.approx(math.sqrt(1 / 3))


def test_hota_hand_computed_split_track_and_false_positive() -> None:
    # One person over 4 frames tracked as id 7 then id 8 (2 frames each) plus one false positive id 9 in frame 1.
    # DetA = TP / (TP + FN + FP) = 4 / 5. AssA: each of the 4 matches belongs to a pair with 2 matches,
    # 4 person frames and 2 track frames: 2 / (4 + 2 - 2) = 1/2. HOTA = sqrt(0.8 * 0.5).
    frames = [
        _frame([1], [7, 9], [[1, 0]]),
        _frame([1], [7], [[1]]),
        _frame([1], [8], [[1]]),
        _frame([1], [8], [[1]]),
    ]
    h = hota(frames)
    assert h.deta == pytest.approx(0.8)
    assert h.assa == pytest.approx(0.5)
    assert h.hota == pytest.approx(math.sqrt(0.4))


def test_hota_localisation_thresholds() -> None:
    # A single match of IoU 0.62 counts at the 12 thresholds 0.05..0.60 and at none above: HOTA = 12/19.
    h = hota([_frame([1], [1], [[0.62]])])
    assert h.hota_per_alpha.tolist() == [1.0] * 12 + [0.0] * 7
    assert h.hota == pytest.approx(12 / len(HOTA_ALPHAS))


def test_hota_without_boxes_is_zero() -> None:
    assert hota([_frame([1], [], [])]).hota == 0.0
    assert hota([]).hota == 0.0


def test_duplicate_ids_in_a_frame_are_rejected() -> None:
    rows = [MotRow(1, 1, 0, 0, 10, 10), MotRow(1, 1, 50, 0, 10, 10)]
    with pytest.raises(ValueError, match="duplicate"):
        evaluate(rows[:1], rows)


def test_frames_restricts_scoring_and_counts_empty_frames() -> None:
    gt = [MotRow(f, 1, 10 * f, 0, 10, 20) for f in range(1, 6)]
    hyp = [r for r in gt if r.frame in (1, 3)]
    s = evaluate(gt, hyp, frames=[1, 3, 5])
    assert (s.num_frames, s.num_gt, s.misses) == (3, 3, 1)


def test_mot15_ground_truth_counts_every_row(gt_path: Path) -> None:
    lines = gt_path.read_text().splitlines()
    gt = read_mot_gt(gt_path)
    assert len(gt.rows) == len(lines) and gt.ignore == ()
    assert all(r.confidence == 1.0 for r in gt.rows)
    assert read_mot_gt(gt_path, "mot15") == gt


def test_mot16_ground_truth_honours_flag_and_class(tmp_path: Path) -> None:
    path = tmp_path / "gt.txt"
    path.write_text(
        "1,1,10,10,20,40,1,1,0.9\n"  # pedestrian: scored
        "1,2,100,10,20,40,0,1,0.9\n"  # pedestrian flagged 0: dropped
        "1,3,200,10,20,40,0,7,1.0\n"  # static person: ignore region
        "1,4,300,10,20,40,0,3,1.0\n"  # car: dropped
    )
    gt = read_mot_gt(path)
    assert [r.track_id for r in gt.rows] == [1]
    assert [r.track_id for r in gt.ignore] == [3]

    hyp = [MotRow(1, 11, 10, 10, 20, 40), MotRow(1, 13, 201, 10, 20, 40), MotRow(1, 14, 300, 10, 20, 40)]
    s = evaluate(gt.rows, hyp, ignore_rows=gt.ignore)
    # The hypothesis on the static person vanishes; the one on the car is a plain false positive.
    assert (s.num_predictions, s.false_positives, s.misses) == (2, 1, 0)


def test_write_then_read_round_trips(tmp_path: Path, gt_rows: list[MotRow]) -> None:
    rows = [replace(r, confidence=0.5) for r in gt_rows[:50]]
    path = tmp_path / "out" / "results.txt"
    write_mot(path, reversed(rows))
    back = read_mot(path)
    assert back == sorted(rows, key=lambda r: (r.frame, r.track_id))
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 10 and first[7:] == ["-1", "-1", "-1"]


def test_read_accepts_space_separated_rows(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("1 3 1.5 2 10 20 0.8 -1 -1 -1\n\n2, 3, 2.5, 2, 10, 20, 0.7, -1, -1, -1\n")
    assert read_mot(path) == [MotRow(1, 3, 1.5, 2, 10, 20, 0.8), MotRow(2, 3, 2.5, 2, 10, 20, 0.7)]


def test_xyxy_conversions() -> None:
    xyxy = np.array([[10, 20, 40, 80], [0, 0, 1, 1]], dtype=np.float32)
    xywh = xyxy_to_xywh(xyxy)
    np.testing.assert_array_equal(xywh, [[10, 20, 30, 60], [0, 0, 1, 1]])
    np.testing.assert_array_equal(xywh_to_xyxy(xywh), xyxy)
    row = MotRow.from_xyxy(3, 9, xyxy[0], 0.25)
    assert row == MotRow(3, 9, 10, 20, 30, 60, 0.25)
    assert row.xyxy == (10, 20, 40, 80)
