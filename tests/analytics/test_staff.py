"""Staff zones on synthetic paths: who appears behind the counter or stays there is staff, with every crossing
saying so; a customer passing through, or re-found there after a break, is not."""

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import StoreAnalytics
from footfall_worker.events import ChannelEvent, EventKind
from tests.analytics.test_counting import MIDDLE, H, W, box_at

# behind the counter: the top-left corner of the view, on the line's "in" side (the top half)
COUNTER = {"id": "counter", "polygon": [[0.05, 0.0], [0.3, 0.0], [0.3, 0.3], [0.05, 0.3]], "staff": True}


def staff_analytics(after_s: float = 10.0) -> StoreAnalytics:
    config = {"lines": [MIDDLE], "zones": [COUNTER], "staffAfterS": after_s}
    return StoreAnalytics(AnalyticsConfig.model_validate(config))


def step(analytics: StoreAnalytics, t: float, tracks: dict[int, tuple[float, float]]) -> list[ChannelEvent]:
    boxes = np.array([box_at(x, y, height=60.0) for x, y in tracks.values()]).reshape(-1, 4)
    return analytics.update(t, list(tracks), boxes, (W, H))


def path(start: tuple[float, float], end: tuple[float, float], steps: int) -> list[tuple[float, float]]:
    return [
        (start[0] + (end[0] - start[0]) * i / (steps - 1), start[1] + (end[1] - start[1]) * i / (steps - 1))
        for i in range(steps)
    ]


def run(
    analytics: StoreAnalytics, points: list[tuple[float, float]], track_id: int = 1, t0: float = 0.0
) -> list[ChannelEvent]:
    return [e for i, p in enumerate(points) for e in step(analytics, t0 + i * 0.1, {track_id: p})]


def kinds(events: list[ChannelEvent]) -> list[str]:
    return [str(e.kind) for e in events if e.kind in (EventKind.STAFF_TAGGED, EventKind.LINE_CROSSING)]


def test_someone_appearing_behind_the_counter_is_staff_and_their_crossing_says_so() -> None:
    analytics = staff_analytics()
    events = run(analytics, path((150, 100), (500, 450), 40))
    assert kinds(events) == ["staff_tagged", "line_crossing"]
    tagged, crossing = (e for e in events if e.kind in (EventKind.STAFF_TAGGED, EventKind.LINE_CROSSING))
    assert tagged.t == 0.0 and tagged.payload == {"reason": "appeared in a staff zone"}
    assert crossing.payload == {"line": "door", "direction": "out", "gender": None, "staff": True}


def test_a_customer_at_the_counter_for_a_purchase_stays_a_customer() -> None:
    analytics = staff_analytics(after_s=10.0)
    walk_in = path((500, 450), (150, 100), 40)  # from the bottom, across the line, to the counter
    stay = [(150, 100)] * 50  # 5 s at the counter
    events = run(analytics, walk_in + stay + path((150, 100), (500, 450), 40))
    assert kinds(events) == ["line_crossing", "line_crossing"]
    assert [e.payload["staff"] for e in events if e.kind == EventKind.LINE_CROSSING] == [False, False]
    assert not analytics.staff.is_staff(1)


def test_someone_who_stays_behind_the_counter_becomes_staff_then() -> None:
    analytics = staff_analytics(after_s=10.0)
    walk_in = path((500, 450), (150, 100), 40)
    events = run(analytics, walk_in + [(150, 100)] * 130 + path((150, 100), (500, 450), 40))
    assert kinds(events) == ["line_crossing", "staff_tagged", "line_crossing"]
    crossing_in, tagged, crossing_out = (
        e for e in events if e.kind in (EventKind.STAFF_TAGGED, EventKind.LINE_CROSSING)
    )
    assert crossing_in.payload["staff"] is False and crossing_out.payload["staff"] is True
    # inside from about 3.0 s (the walk reaches the zone's edge) to 10 s of it
    assert 12.5 <= tagged.t <= 13.5 and tagged.payload == {"reason": "stayed in a staff zone"}


def test_a_customer_refound_behind_the_counter_after_a_break_is_not_made_staff() -> None:
    analytics = staff_analytics()
    walk_in = path((500, 450), (330, 110), 30)  # towards the counter, last seen just outside it
    events = run(analytics, walk_in)
    # lost for 0.3 s; a new track appears inside the zone where the walk was heading
    events += step(analytics, 3.3, {2: (290, 95)})
    events += [e for i in range(20) for e in step(analytics, 3.4 + i * 0.1, {2: (280, 100)})]
    assert kinds(events) == ["line_crossing"] and not analytics.staff.is_staff(2)
    # the same track appearing there with nobody lost nearby is staff
    events = step(analytics, 20.0, {3: (150, 60)})
    assert kinds(events) == ["staff_tagged"]
