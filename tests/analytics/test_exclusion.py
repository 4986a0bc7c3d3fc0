"""Exclusion masks drop the detections whose feet stand in a mask, before anything tracks them."""

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.exclusion import ExclusionMasks
from footfall_worker.analytics.polygon import inside_polygon
from footfall_worker.detections import Detections

W, H = 1000, 500
# the mannequin's stand: x 100..200, y 350..450 px at 1000x500
MANNEQUIN = {"id": "mannequin", "polygon": [[0.1, 0.7], [0.2, 0.7], [0.2, 0.9], [0.1, 0.9]]}
# a poster high on the right wall, a triangle: x 800..950, y 50..200 px
POSTER = {"id": "poster", "polygon": [[0.8, 0.1], [0.95, 0.1], [0.95, 0.4]]}


def masks(*polygons: dict) -> ExclusionMasks:
    return ExclusionMasks(AnalyticsConfig.model_validate({"exclusionMasks": list(polygons)}).exclusion_masks)


def boxes(*feet: tuple[float, float], height: float = 200.0) -> Detections:
    """40 px wide boxes standing with their bottom centre (the feet) at each (x, y) pixel, scores 0.9, 0.8, ..."""
    xyxy = np.array([[x - 20, y - height, x + 20, y] for x, y in feet], dtype=np.float32).reshape(-1, 4)
    return Detections(xyxy, np.linspace(0.9, 0.5, len(feet), dtype=np.float32))


def feet(detections: Detections) -> list[tuple[float, float]]:
    return [((x1 + x2) / 2, y2) for x1, _, x2, y2 in detections.xyxy.tolist()]


def test_a_box_whose_feet_are_in_a_mask_is_dropped_and_the_others_keep_their_order():
    detections = boxes((600, 400), (150, 400), (300, 450))
    kept = masks(MANNEQUIN).keep(detections, (W, H))
    assert feet(kept) == [(600, 400), (300, 450)]
    assert kept.confidence.tolist() == detections.confidence[[0, 2]].tolist()


def test_a_person_whose_head_only_is_in_the_mask_is_kept():
    # standing just below the stand: the box reaches up through the mask, the feet are outside it
    in_front = boxes((150, 480), height=300)
    assert masks(MANNEQUIN).keep(in_front, (W, H)) is in_front


def test_any_of_several_masks_drops_a_detection():
    detections = boxes((150, 400), (900, 100), (500, 300), (820, 190))  # the last is in the poster's bbox only
    kept = masks(MANNEQUIN, POSTER).keep(detections, (W, H))
    assert feet(kept) == [(500, 300), (820, 190)]


def test_no_detections_and_no_masks_pass_through():
    empty = Detections.empty()
    assert len(masks(MANNEQUIN).keep(empty, (W, H))) == 0
    detections = boxes((150, 400))
    unmasked = ExclusionMasks([])
    assert not unmasked and len(unmasked) == 0
    assert unmasked.keep(detections, (W, H)) is detections
    assert masks(MANNEQUIN) and len(masks(MANNEQUIN, POSTER)) == 2


def test_a_frame_size_change_moves_the_masks_with_the_picture():
    # the same spot of the scene in pixels of 1000x500 and of 500x250: masks are relative to the frame
    mask = masks(MANNEQUIN)
    assert len(mask.keep(boxes((150, 400)), (W, H))) == 0
    assert len(mask.keep(boxes((150, 400)), (W // 2, H // 2))) == 1  # now below the frame's scaled mask
    assert len(mask.keep(boxes((75, 200)), (W // 2, H // 2))) == 0
    assert len(mask.keep(boxes((150, 400)), [W, H])) == 0  # back again, and any pair of ints will do


def test_many_detections_are_judged_at_once():
    rng = np.random.default_rng(7)
    xy = rng.uniform([0, 0], [W, H], size=(500, 2)).astype(np.float32).astype(np.float64)
    kept = masks(MANNEQUIN, POSTER).keep(boxes(*map(tuple, xy)), (W, H))
    x, y = xy[:, 0], xy[:, 1]
    in_stand = (x > 100) & (x < 200) & (y > 350) & (y < 450)
    in_poster = (y > 50) & (x < 950) & (y < x - 750)  # right of the hypotenuse from (800, 50) to (950, 200)
    assert in_stand.any() and in_poster.any()
    assert np.allclose(feet(kept), xy[~(in_stand | in_poster)])


def test_point_in_polygon_is_even_odd_for_concave_and_self_crossing_outlines():
    u_shape = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]], dtype=np.float64)
    points = np.array([[0.5, 2], [1.5, 2], [2.5, 2], [1.5, 0.5], [4, 1]], dtype=np.float64)
    assert inside_polygon(points, u_shape).tolist() == [True, False, True, True, False]
    bow_tie = np.array([[0, 0], [2, 2], [2, 0], [0, 2]], dtype=np.float64)
    assert inside_polygon(np.array([[0.2, 1], [1.8, 1], [1, 0.2]]), bow_tie).tolist() == [True, True, False]
    assert inside_polygon(np.empty((0, 2)), u_shape).shape == (0,)
