"""Where a track came from, through the store analytics: static objects never count, a person standing still
does, a track that continues a lost one keeps its side of the line."""

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import StoreAnalytics
from footfall_worker.analytics.track_origins import TrackOrigins, Verdict
from footfall_worker.events import EventKind

W, H = 1000, 500
TILL = {"id": "till", "polygon": [[0.4, 0.3], [0.6, 0.3], [0.6, 0.6], [0.4, 0.6]]}
DOOR = {"id": "door", "points": [[0.1, 0.5], [0.9, 0.5]], "inSide": "left"}  # in = moving up
DT = 0.2


def analytics(**config: object) -> StoreAnalytics:
    return StoreAnalytics(AnalyticsConfig.model_validate({"zones": [TILL], "lines": [DOOR], **config}))


def box(x: float, y: float, height: float = 120.0) -> list[float]:
    return [x - 25, y - height, x + 25, y]


def run(store: StoreAnalytics, frames: list[dict[int, list[float]]], t0: float = 0.0) -> list:
    """Each frame: track id -> box. Tracks missing from the next frame are ended a frame later (as the
    tracker would, after its buffer)."""
    events = []
    for step, tracks in enumerate(frames):
        ids = list(tracks)
        events += store.update(t0 + step * DT, ids, np.array([tracks[i] for i in ids]).reshape(-1, 4), (W, H))
        if step:
            for gone in set(frames[step - 1]) - set(tracks):
                events += store.end_track(gone)
    return events


def still(track: int, x: float, y: float, seconds: float, jitter: float = 2.0, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{track: box(x + rng.uniform(-jitter, jitter), y + rng.uniform(-jitter, jitter))} for _ in steps(seconds)]


def steps(seconds: float) -> range:
    return range(int(round(seconds / DT)))


def walk(track: int, start: tuple[float, float], end: tuple[float, float], seconds: float) -> list[dict]:
    n = len(steps(seconds))
    return [{track: box(*(np.array(start) + (np.array(end) - start) * k / (n - 1)))} for k in range(n)]


def kinds(events: list, kind: EventKind) -> list:
    return [e for e in events if e.kind == kind]


def test_a_mannequin_at_the_till_from_its_first_frame_is_never_a_visit() -> None:
    store = analytics()
    events = run(store, still(1, 500, 250, 60.0))
    assert kinds(events, EventKind.ZONE_ENTER) == [] and store.occupancy() == {"till": 0}
    assert store.origins.flagged == 1


def test_a_person_who_walked_in_and_stands_still_at_the_till_counts() -> None:
    store = analytics()
    # in from the right edge of the frame, then unmoved for a minute (more than staticAfterS)
    events = run(store, walk(1, (990, 250), (500, 250), 4.0) + still(1, 500, 250, 60.0))
    (enter,) = kinds(events, EventKind.ZONE_ENTER)
    assert store.occupancy() == {"till": 1} and store.origins.flagged == 0
    exit_events = store.end_track(1)
    assert exit_events[0].payload["dwell_s"] > 60.0 and enter.track_id == 1


def test_a_person_whose_track_breaks_while_standing_still_still_counts() -> None:
    store = analytics()
    frames = walk(1, (990, 250), (500, 250), 4.0) + still(1, 500, 250, 5.0)
    frames += [{}] * 3  # lost for 0.6 s (an occlusion), then a new track where they stood
    frames += still(2, 502, 251, 60.0, seed=1)
    events = run(store, frames)
    assert [e.track_id for e in kinds(events, EventKind.ZONE_ENTER)] == [1, 2]
    assert store.origins.flagged == 0


def test_someone_stepping_out_from_behind_a_shelf_counts_from_the_first_moment_inside() -> None:
    store = analytics()
    # born in the middle of the view, inside the till zone, stands 5 s, then walks off: a person after all
    frames = still(1, 500, 250, 5.0) + walk(1, (500, 250), (990, 250), 3.0)
    events = run(store, frames)
    (enter,) = kinds(events, EventKind.ZONE_ENTER)
    assert enter.t == 0.0  # withheld until judged, then dated when it first stood there
    (exit_,) = kinds(events, EventKind.ZONE_EXIT)
    assert exit_.payload["dwell_s"] >= 5.0


def test_a_flickering_poster_never_explains_itself() -> None:
    store = analytics()
    frames = []
    for track in range(1, 9):  # found for 6 s, lost for 1 s, found again as a new track, eight times
        frames += still(track, 500, 250, 6.0, seed=track) + [{}] * 5
    events = run(store, frames)
    assert kinds(events, EventKind.ZONE_ENTER) == []


def test_a_static_object_that_moves_is_a_person_from_then_on() -> None:
    store = analytics()
    frames = still(1, 500, 250, 40.0) + walk(1, (500, 250), (500, 200), 1.0)
    events = run(store, frames)
    assert store.origins.flagged == 1
    (enter,) = kinds(events, EventKind.ZONE_ENTER)
    assert enter.t >= 40.0


def test_the_static_rule_can_be_turned_off() -> None:
    store = analytics(staticAfterS=0)
    events = run(store, still(1, 500, 250, 60.0))
    assert len(kinds(events, EventKind.ZONE_ENTER)) == 1 and store.origins.flagged == 0


def test_a_walk_across_the_line_cut_in_two_by_an_occlusion_counts_once() -> None:
    store = analytics(zones=[])
    # up from the bottom half, lost just before the line for 1 s, a new track found just past it
    frames = walk(1, (300, 420), (300, 290), 1.5) + [{}] * 5 + walk(2, (310, 190), (310, 100), 1.0)
    events = run(store, frames)
    crossings = kinds(events, EventKind.LINE_CROSSING)
    assert [(e.track_id, e.payload["direction"]) for e in crossings] == [(2, "in")]
    assert store.totals() == {"door": {"in": 1, "out": 0}}


def test_a_new_track_far_from_any_lost_one_inherits_nothing() -> None:
    store = analytics(zones=[])
    # lost below the line on the left; 1 s later someone appears above it on the far right: not the same one
    frames = walk(1, (100, 420), (150, 300), 1.0) + [{}] * 5 + walk(2, (800, 190), (800, 100), 1.0)
    events = run(store, frames)
    assert kinds(events, EventKind.LINE_CROSSING) == []


def test_a_lost_track_has_one_heir_at_most() -> None:
    origins = TrackOrigins(after_s=30.0, radius=0.25)
    origins.update(-10.0, [1], np.array([box(990, 300)]), (W, H))  # walked in at the frame's edge: a person
    origins.update(0.0, [1], np.array([box(500, 300)]), (W, H))
    # track 1 is gone; two tracks born beside where it was: only the nearer continues it
    judged = origins.update(0.5, [2, 3], np.array([box(560, 300), box(510, 300)]), (W, H))
    assert judged.heirs == {3: 1}
    assert judged.verdicts == [Verdict.CANDIDATE, Verdict.PERSON]


def test_a_lost_track_older_than_the_window_explains_nothing() -> None:
    origins = TrackOrigins(after_s=30.0, radius=0.25)
    origins.update(-10.0, [1], np.array([box(990, 300)]), (W, H))  # walked in at the frame's edge: a person
    origins.update(0.0, [1], np.array([box(500, 300)]), (W, H))
    origins.update(0.1, [], np.empty((0, 4)), (W, H))
    assert origins.forget(1)  # a person's track is kept a while after it ends
    assert origins.update(10.0, [2], np.array([box(500, 300)]), (W, H)).heirs == {}
    assert origins.prune(10.0, 120.0) == [1]


def test_a_track_born_at_the_frames_edge_came_into_view_and_is_nobodys_heir() -> None:
    origins = TrackOrigins(after_s=30.0, radius=0.25)
    origins.update(-10.0, [1], np.array([box(500, 300)]), (W, H))
    origins.update(0.0, [1], np.array([box(40, 300)]), (W, H))  # walking left, lost near the left edge
    judged = origins.update(0.3, [2], np.array([box(10, 300)]), (W, H))
    assert judged.heirs == {} and judged.verdicts == [Verdict.PERSON]


def test_someone_running_across_the_line_still_counts() -> None:
    store = analytics(zones=[])
    # two box heights a second (a child running), one frame every 0.2 s
    events = run(store, walk(1, (400, 420), (400, 120), 1.25) + walk(1, (400, 120), (990, 120), 2.0))
    assert [e.payload["direction"] for e in kinds(events, EventKind.LINE_CROSSING)] == ["in"]
