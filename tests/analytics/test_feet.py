"""A box whose feet are out of view says nothing about a side of a line; a person walking away still counts."""

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import StoreAnalytics
from footfall_worker.analytics.feet import FeetVisibility
from footfall_worker.events import EventKind

W, H = 1000, 500
DOOR = {"id": "door", "points": [[0.1, 0.5], [0.9, 0.5]], "inSide": "left"}  # y = 250, in = moving up
FPS = 15


def crossings(boxes: list[list[float]], track: int = 1) -> list[str]:
    store = StoreAnalytics(AnalyticsConfig.model_validate({"lines": [DOOR]}))
    events = []
    for k, one in enumerate(boxes):
        events += store.update(k / FPS, [track], np.array([one]), (W, H))
    return [e.payload["direction"] for e in events if e.kind == EventKind.LINE_CROSSING]


def test_a_box_cut_by_the_bottom_edge_gives_no_side() -> None:
    # someone coming into view from below: the box's bottom is the frame's edge (below the line) while their
    # feet are out of view, then the feet appear above the line
    boxes = [[300, H - 40 * k, 360, H] for k in range(1, 8)]
    boxes += [[300, y - 200, 360, y] for y in np.linspace(200, 120, 15)]
    assert crossings(boxes) == []


def test_a_box_with_its_feet_in_view_near_the_bottom_still_counts() -> None:
    boxes = [[300, y - 150, 360, y] for y in np.linspace(480, 150, 30)]
    assert crossings(boxes) == ["in"]


def test_someone_walking_in_front_hides_the_feet_and_the_shortened_box_does_not_cross() -> None:
    # standing below the line (feet at y 300, head at 100); someone nearer covers the legs for a second: the
    # detector boxes the upper body, its bottom rising to 150 (above the line) and back
    top = 100.0
    bottoms = [300.0] * 10 + list(np.linspace(300, 150, 8)) + [150.0] * 15 + list(np.linspace(150, 300, 8))
    bottoms += [300.0] * 10
    assert crossings([[400, top, 460, bottom] for bottom in bottoms]) == []


def test_walking_away_from_the_camera_shrinks_the_box_and_still_counts() -> None:
    # feet from y 450 to 80 in 2 s while the body shrinks from 300 px to 150 px (perspective, not occlusion)
    steps = 2 * FPS
    feet = np.linspace(450, 80, steps)
    heights = np.linspace(300, 150, steps)
    assert crossings([[400, y - h, 460, y] for y, h in zip(feet, heights, strict=True)]) == ["in"]


def test_a_truncated_box_regains_its_feet_when_the_occlusion_ends() -> None:
    feet = FeetVisibility()
    seen = [
        bool(feet.update(k / FPS, [1], np.array([[0, 100, 50, bottom]]), H)[0])
        for k, bottom in enumerate([300.0] * 5 + [180.0] * 5 + [300.0] * 5)
    ]
    assert seen == [True] * 5 + [False] * 5 + [True] * 5


def test_a_box_that_stays_short_is_the_whole_person_again_after_a_while() -> None:
    # crouching at a low shelf: the box is half as tall for good; after MAX_HIDDEN_S its bottom is feet again
    feet = FeetVisibility()
    bottoms = [300.0] * 5 + [200.0] * (6 * FPS)
    seen = [bool(feet.update(k / FPS, [1], np.array([[0, 100, 50, b]]), H)[0]) for k, b in enumerate(bottoms)]
    assert not seen[6] and not seen[5 + 2 * FPS] and seen[-1]
