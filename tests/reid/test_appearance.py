"""ColorHistogramEncoder on real footage: shape, normalisation, degenerate boxes, same vs different people.

Who is who (checked by eye, see bench/reid_eval.py): the six one-by-one visits are six different people, seen
from behind while standing at a table; visits 2 and 4 are two men dressed all in black, the closest pair.
"""

import sys
from functools import cache

import numpy as np
import pytest

from footfall_worker.reid.appearance import AppearanceEncoder, ColorHistogramEncoder, mean_embedding, valid_rows
from footfall_worker.reid.cache import DEFAULT_MIN_SIMILARITY
from tests.support.footage import HEAD_POSE, ONE_BY_ONE, frames_at
from tests.support.paths import REPO_ROOT

DETECTOR_DIR = REPO_ROOT / "models" / "person_detector" / "1"
# per visit: three frames early and three late in the part where the person stands in full view
VISIT_FRAMES = {
    1: (100, 110, 120, 170, 175, 180),
    2: (280, 290, 300, 390, 400, 410),
    3: (560, 570, 580, 640, 650, 660),
    4: (780, 790, 800, 820, 830, 840),
    5: (1000, 1010, 1020, 1130, 1140, 1150),
    6: (1270, 1280, 1290, 1310, 1320, 1330),
}
HEAD_POSE_FRAMES = (0, 10, 20, 35, 45, 55)
ENCODER = ColorHistogramEncoder()


@cache
def detector():  # noqa: ANN201 - the type lives beside the Triton model
    if str(DETECTOR_DIR) not in sys.path:
        sys.path.insert(0, str(DETECTOR_DIR))
    from yolox import PersonDetector

    return PersonDetector(str(DETECTOR_DIR / "model.onnx"))


def people_boxes(frame: np.ndarray) -> np.ndarray:
    boxes, scores = detector().detect([frame])[0]
    return boxes[scores >= 0.5]


@cache
def visit_embeddings() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per one-by-one visit: (early, late) mean embeddings of three frames each."""
    frames = frames_at(ONE_BY_ONE, [i for indices in VISIT_FRAMES.values() for i in indices])
    out = {}
    for visit, indices in VISIT_FRAMES.items():
        rows = []
        for index in indices:
            boxes = people_boxes(frames[index])
            assert len(boxes) == 1, f"one-by-one frame {index}: expected one person, got {len(boxes)}"
            rows.append(ENCODER.encode(frames[index], boxes)[0])
        early, late = mean_embedding(np.stack(rows[:3])), mean_embedding(np.stack(rows[3:]))
        assert early is not None and late is not None
        out[visit] = (early, late)
    return out


@cache
def head_pose_embeddings() -> dict[str, np.ndarray]:
    """Per person of the head-pose clip (woman left, man right): one embedding per frame, (6, d)."""
    frames = frames_at(HEAD_POSE, HEAD_POSE_FRAMES)
    rows: dict[str, list[np.ndarray]] = {"woman": [], "man": []}
    for index in HEAD_POSE_FRAMES:
        boxes = people_boxes(frames[index])
        assert len(boxes) == 2, f"head-pose frame {index}: expected two people, got {len(boxes)}"
        left, right = np.argsort((boxes[:, 0] + boxes[:, 2]) / 2)
        embeddings = ENCODER.encode(frames[index], boxes[[left, right]])
        rows["woman"].append(embeddings[0])
        rows["man"].append(embeddings[1])
    return {person: np.stack(r) for person, r in rows.items()}


@pytest.fixture(scope="module")
def frame_and_boxes() -> tuple[np.ndarray, np.ndarray]:
    frame = frames_at(ONE_BY_ONE, [120])[120]
    return frame, people_boxes(frame)


def test_is_an_appearance_encoder() -> None:
    assert isinstance(ENCODER, AppearanceEncoder)
    assert ENCODER.dim == 2 * (8 * 3 + 4)
    assert ENCODER.name.startswith("hsv-hist-v1")


def test_shape_normalisation_and_determinism(frame_and_boxes: tuple[np.ndarray, np.ndarray]) -> None:
    frame, boxes = frame_and_boxes
    assert len(boxes) == 1
    boxes = np.concatenate([boxes, boxes + np.float32([-5, 3, 4, -2])])
    first = ENCODER.encode(frame, boxes)
    again = ColorHistogramEncoder().encode(frame.copy(), boxes.copy())
    assert first.shape == (2, ENCODER.dim) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert (first >= 0).all()
    np.testing.assert_array_equal(first, again)
    # a box jittered by a few pixels describes the same person
    assert float(first[0] @ first[1]) > 0.99
    assert ENCODER.encode(frame, np.zeros((0, 4), np.float32)).shape == (0, ENCODER.dim)


def test_tiny_or_outside_boxes_give_zero_rows_that_never_match(frame_and_boxes: tuple[np.ndarray, np.ndarray]) -> None:
    frame, boxes = frame_and_boxes
    h, w = frame.shape[:2]
    odd = np.float32(
        [
            [100, 100, 105, 200],  # 5 px wide
            [100, 100, 160, 110],  # 10 px tall
            [w + 10, 0, w + 100, 200],  # entirely outside
            [np.nan, 0, 50, 100],
            [-60, -40, 80, h + 100],  # partly outside: clipped, still described
        ]
    )
    out = ENCODER.encode(frame, np.concatenate([boxes, odd]))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(valid_rows(out), [True, False, False, False, False, True])
    assert not out[1:5].any()
    assert float(out[1] @ out[0]) == 0.0
    assert mean_embedding(out[1:5]) is None
    # the zero rows are left out of a mean, not averaged in
    np.testing.assert_allclose(mean_embedding(out), mean_embedding(out[[0, 5]]))


def test_same_person_later_in_the_visit_is_above_the_threshold() -> None:
    for visit, (early, late) in visit_embeddings().items():
        assert float(early @ late) >= DEFAULT_MIN_SIMILARITY, f"visit {visit}: {float(early @ late):.4f}"


def test_different_visitors_are_below_the_threshold() -> None:
    embeddings = visit_embeddings()
    worst = 0.0
    for a in embeddings:
        for b in embeddings:
            if a != b:
                similarity = float(embeddings[a][0] @ embeddings[b][1])
                assert similarity < DEFAULT_MIN_SIMILARITY, f"visit {a} vs {b}: {similarity:.4f}"
                worst = max(worst, similarity)
    # the two men in black (visits 2 and 4) are the closest pair; colour alone barely tells them apart
    assert worst > 0.95


def test_head_pose_woman_and_man_are_told_apart() -> None:
    people = head_pose_embeddings()
    woman_early, woman_late = mean_embedding(people["woman"][:3]), mean_embedding(people["woman"][3:])
    man_early, man_late = mean_embedding(people["man"][:3]), mean_embedding(people["man"][3:])
    assert woman_early is not None and woman_late is not None and man_early is not None and man_late is not None
    assert float(woman_early @ woman_late) >= DEFAULT_MIN_SIMILARITY
    assert float(man_early @ man_late) >= DEFAULT_MIN_SIMILARITY
    assert float(woman_early @ man_late) < 0.8
    assert float(man_early @ woman_late) < 0.8
    # also frame by frame
    assert float((people["woman"] @ people["man"].T).max()) < 0.8
