"""Line crossings and zone visits on synthetic paths (the real-footage tests run through the pipeline)."""

import numpy as np
import pytest
from pydantic import ValidationError

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import StoreAnalytics
from footfall_worker.events import EventKind

W, H = 1000, 500
# a horizontal line across the middle, drawn left to right: "left" of that walking direction is the top half
MIDDLE = {"id": "door", "points": [[0.2, 0.5], [0.8, 0.5]], "inSide": "left"}
TABLE = {
    "id": "table",
    "polygon": [[0.4, 0.2], [0.6, 0.2], [0.6, 0.4], [0.4, 0.4]],
}


def box_at(x: float, y: float, height: float = 100.0) -> list[float]:
    """A 40 px wide box whose bottom centre (the anchor) is at (x, y) pixels."""
    return [x - 20, y - height, x + 20, y]


def walk(
    analytics: StoreAnalytics,
    path: list[tuple[float, float]],
    track_id: int = 1,
    t0: float = 0.0,
    dt: float = 0.1,
    gender: str | None = None,
):
    events = []
    for step, (x, y) in enumerate(path):
        events += analytics.update(
            t0 + step * dt, [track_id], np.array([box_at(x, y)]), (W, H), gender_of=lambda _track: gender
        )
    return events  # fmt: skip


def line_analytics(**overrides: object) -> StoreAnalytics:
    return StoreAnalytics(AnalyticsConfig.model_validate({"lines": [MIDDLE], **overrides}))


def directions(events) -> list[str]:
    return [e.payload["direction"] for e in events if e.kind == EventKind.LINE_CROSSING]


def vertical(y_from: float, y_to: float, steps: int = 20, x: float = 500) -> list[tuple[float, float]]:
    return [(x, y_from + (y_to - y_from) * i / (steps - 1)) for i in range(steps)]


def test_walking_up_into_the_in_side_counts_one_in_with_the_gender_known_then():
    analytics = line_analytics()
    events = walk(analytics, vertical(450, 50), gender="female")
    assert directions(events) == ["in"]
    (crossing,) = events
    assert crossing.payload == {"line": "door", "direction": "in", "gender": "female", "staff": False}
    assert crossing.track_id == 1
    assert analytics.totals() == {"door": {"in": 1, "out": 0}}


def test_walking_down_counts_out_and_in_side_right_flips_it():
    assert directions(walk(line_analytics(), vertical(50, 450))) == ["out"]
    flipped = StoreAnalytics(AnalyticsConfig.model_validate({"lines": [{**MIDDLE, "inSide": "right"}]}))
    assert directions(walk(flipped, vertical(50, 450))) == ["in"]


def test_jitter_around_the_line_never_counts():
    rng = np.random.default_rng(7)
    band_px = 0.03 * np.hypot(W, H)  # the default band, ~33.5 px
    path = [(500 + rng.normal(0, 5), 250 + rng.uniform(-0.9, 0.9) * band_px) for _ in range(300)]
    analytics = line_analytics()
    assert directions(walk(analytics, [(500, 100)] + path)) == []  # starts inside, jitters on the line
    assert analytics.totals() == {"door": {"in": 0, "out": 0}}


def test_a_person_lingering_on_the_line_then_going_through_counts_once():
    path = vertical(450, 250, steps=10) + [
        (500 + dx, 250 + dy) for dx, dy in zip(range(-20, 20), [5, -5] * 20, strict=True)
    ]
    path += vertical(250, 50, steps=10)
    assert directions(walk(line_analytics(), path)) == ["in"]


def test_each_direction_counts_at_most_once_per_track():
    back_and_forth = vertical(450, 50) + vertical(50, 450) + vertical(450, 50) + vertical(50, 450)
    assert directions(walk(line_analytics(), back_and_forth)) == ["in", "out"]
    # a new track (another person, or the same one re-identified later) counts again
    analytics = line_analytics()
    walk(analytics, vertical(450, 50), track_id=1)
    assert directions(walk(analytics, vertical(450, 50), track_id=2)) == ["in"]


def test_walking_around_the_end_of_the_line_does_not_count():
    around = [(100, 400), (100, 250), (100, 100), (300, 100), (500, 100)]  # x=100 is left of the segment (200..800)
    assert directions(walk(line_analytics(), around)) == []


def test_a_first_sighting_beyond_the_line_is_not_a_crossing():
    assert directions(walk(line_analytics(), [(500, 100), (500, 90)])) == []


def test_geometry_is_relative_so_a_resolution_change_keeps_counting():
    analytics = line_analytics()
    events = []
    for step, y in enumerate(np.linspace(0.9, 0.1, 20)):
        size = (W, H) if step < 10 else (2 * W, 2 * H)
        x, y_px = 0.5 * size[0], y * size[1]
        events += analytics.update(step * 0.1, [5], np.array([box_at(x, y_px, height=100.0 * size[1] / H)]), size)
    # relative geometry: the side seen at 1000x500 still holds at 2000x1000, so the crossing counts once
    assert directions(events) == ["in"]
    assert analytics.totals() == {"door": {"in": 1, "out": 0}}


# An L around the top-left quarter: along y=0.5 from the left edge, then up x=0.5. Walking it, "left" is the
# quarter: people arrive there from below and leave to the right, crossing the line twice.
CORNER = {"id": "corner", "points": [[0.0, 0.5], [0.5, 0.5], [0.5, 0.0]]}


def test_a_bent_line_counts_arriving_across_one_leg_and_leaving_across_the_other():
    analytics = StoreAnalytics(AnalyticsConfig.model_validate({"lines": [CORNER]}))
    arrive = vertical(400, 150, x=250)  # up across the bottom leg
    leave = [(250 + 25 * i, 150) for i in range(1, 20)]  # right across the upright leg
    assert directions(walk(analytics, arrive + leave)) == ["in", "out"]
    assert analytics.totals() == {"corner": {"in": 1, "out": 1}}


def test_near_a_bend_the_side_is_the_one_the_shape_gives():
    analytics = StoreAnalytics(AnalyticsConfig.model_validate({"lines": [CORNER]}))
    analytics.update(0.0, [], np.empty((0, 4)), (W, H))  # lays the geometry out in pixels
    (line,) = analytics._lines
    # the corner is at (500, 250) px and the band 33.5 px: outside it diagonally, below the bottom leg, right
    # of the upright; inside it diagonally; inside the band (no side yet)
    points = np.array([[540.0, 290.0], [460.0, 300.0], [545.0, 200.0], [455.0, 205.0], [510.0, 240.0]])
    sides, within, _ = line.committed_sides(points)
    assert sides.tolist() == [-1, -1, -1, 1, 0]
    assert within.all()


def zone_analytics(grace_s: float = 1.0) -> StoreAnalytics:
    # These boxes appear mid-view and stand still: the static-object rule would withhold them (its own tests
    # are in test_static_tracks.py); here it is off, to test the visits' bookkeeping alone.
    config = {"zones": [TABLE], "zoneExitGraceS": grace_s, "staticAfterS": 0}
    return StoreAnalytics(AnalyticsConfig.model_validate(config))


def test_a_zone_visit_is_one_enter_and_one_exit_with_the_dwell_inside():
    analytics = zone_analytics()
    outside, inside = (500, 450), (500, 150)
    path = [outside] * 5 + [inside] * 30 + [outside] * 20  # 3 s inside at 10 fps
    events = walk(analytics, path)
    kinds = [e.kind for e in events]
    assert kinds == [EventKind.ZONE_ENTER, EventKind.ZONE_EXIT]
    enter, leave = events
    assert enter.t == pytest.approx(0.5) and leave.t == pytest.approx(3.4)
    assert leave.payload == {"zone": "table", "dwell_s": pytest.approx(2.9)}


def test_missed_frames_shorter_than_the_grace_are_not_exits():
    analytics = zone_analytics(grace_s=1.0)
    inside, outside = (500, 150), (500, 450)
    path = [inside] * 10 + [outside] * 5 + [inside] * 10 + [outside] * 15  # 0.5 s out: same visit
    assert [e.kind for e in walk(analytics, path)] == [EventKind.ZONE_ENTER, EventKind.ZONE_EXIT]


def test_occupancy_and_ending_a_track_closes_its_visit():
    analytics = zone_analytics()
    boxes = np.array([box_at(480, 150), box_at(520, 160), box_at(900, 450)])
    events = analytics.update(10.0, [1, 2, 3], boxes, (W, H))
    assert [e.track_id for e in events] == [1, 2] and analytics.occupancy() == {"table": 2}
    analytics.update(10.5, [1, 2, 3], boxes, (W, H))
    (leave,) = analytics.end_track(2)
    assert leave.kind == EventKind.ZONE_EXIT and leave.payload["dwell_s"] == pytest.approx(0.5)
    assert analytics.occupancy() == {"table": 1}
    assert analytics.end_track(3) == []  # never inside


def test_a_track_nobody_ended_is_forgotten_after_a_while():
    analytics = zone_analytics()
    analytics.update(0.0, [1], np.array([box_at(500, 150)]), (W, H))
    events = analytics.update(1000.0, [2], np.array([box_at(900, 450)]), (W, H))
    assert [e.kind for e in events] == [EventKind.ZONE_EXIT] and analytics.occupancy() == {"table": 0}


def test_no_geometry_costs_nothing():
    analytics = StoreAnalytics(AnalyticsConfig())
    assert analytics.update(0.0, [1], np.array([box_at(1, 1)]), (W, H)) == []


@pytest.mark.parametrize(
    ("config", "field", "expected"),
    [
        ({"lines": [{"id": "a", "points": [[0.1, 0.1]]}]}, "lines.0.points", "at least 2"),
        ({"lines": [{"id": "a", "points": [[0.1, 0.1]] * 2}]}, "lines.0", "distinct consecutive points"),
        ({"lines": [{"id": "a", "points": [[0, 0], [0.1, 0.1], [0.1, 0.1]]}]}, "lines.0", "at 1 and 2"),
        ({"lines": [{"id": "a", "points": [[1.5, 0.1], [0, 0]]}]}, "lines.0.points.0.0",
         "less than or equal to 1"),
        ({"lines": [{**MIDDLE, "inSide": "up"}]}, "lines.0.inSide", "'left' or 'right'"),
        ({"zones": [{"id": "z", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}]}, "zones.0",
         "not on one line"),
        ({"zones": [{"id": "z", "polygon": [[0, 0], [1, 1]]}]}, "zones.0.polygon", "at least 3"),
        ({"lines": [MIDDLE, MIDDLE]}, "", "repeated: door"),
        ({"lines": [{**MIDDLE, "id": "Door 1"}]}, "lines.0.id", "pattern"),
    ],
)  # fmt: skip
def test_bad_geometry_names_the_field(config: dict, field: str, expected: str):
    with pytest.raises(ValidationError) as caught:
        AnalyticsConfig.model_validate(config)
    (problem,) = caught.value.errors()
    assert ".".join(str(part) for part in problem["loc"]) == field
    assert expected in problem["msg"]


def test_a_track_born_inside_the_band_off_the_line_counts_when_it_leaves_across():
    band_px = 0.03 * np.hypot(W, H)
    # appears 0.4 band below the line (the out side), stands a moment, walks up through the in side
    born = [(500, 250 + 0.4 * band_px)] * 5
    assert directions(walk(line_analytics(), born + vertical(250 + 0.4 * band_px, 50))) == ["in"]


def test_a_track_born_inside_the_band_that_leaves_on_its_own_side_does_not_count():
    band_px = 0.03 * np.hypot(W, H)
    born = [(500, 250 + 0.4 * band_px)] * 5
    assert directions(walk(line_analytics(), born + vertical(250 + 0.4 * band_px, 450))) == []


def test_a_track_born_on_the_line_itself_only_takes_the_side_it_leaves_towards():
    analytics = line_analytics()
    born = [(500, 251.0)] * 5  # 1 px off the line: no evidence of where it came from
    assert directions(walk(analytics, born + vertical(251, 50))) == []
    assert directions(walk(analytics, vertical(50, 450), t0=10.0)) == ["out"]  # its side is known from then on


def test_a_box_oscillating_across_the_whole_band_counts_one_in_and_one_out_at_most():
    band_px = 0.03 * np.hypot(W, H)
    swing = [(500, 250 + sign * 1.5 * band_px) for _ in range(50) for sign in (1, -1)]
    counted = directions(walk(line_analytics(), [(500, 450)] + swing))
    assert counted.count("in") <= 1 and counted.count("out") <= 1
