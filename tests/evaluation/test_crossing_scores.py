"""Crossing-level precision and recall: matching by line, direction and time, one to one."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from footfall_worker.evaluation.crossings import Crossing, score_crossings


def c(t: float, direction: str = "in", line: str = "door", track: int | None = None) -> Crossing:
    return Crossing(t, direction, line, track)


def test_a_crossing_found_within_the_tolerance_matches_whatever_its_track():
    scores = score_crossings([c(10.0, track=1)], [c(10.6, track=7)])
    assert (scores.matched, scores.missed, scores.spurious) == (1, (), ())
    assert scores.recall == scores.precision == 1.0


def test_the_wrong_direction_or_line_or_too_late_is_a_miss_and_a_false_crossing():
    for found in (c(10.0, "out"), c(10.0, line="till"), c(11.5)):
        scores = score_crossings([c(10.0)], [found], tolerance_s=1.0)
        assert scores.matched == 0 and scores.missed == (c(10.0),) and scores.spurious == (found,)
        assert scores.recall == scores.precision == 0.0


def test_a_crossing_counted_twice_matches_once_and_the_second_is_spurious():
    scores = score_crossings([c(10.0)], [c(10.1), c(10.3)])
    assert scores.matched == 1 and scores.spurious == (c(10.3),)
    assert scores.precision == 0.5 and scores.recall == 1.0


def test_the_assignment_makes_every_match_it_can_not_the_nearest_first():
    # greedy nearest-first would pair 10.4 with 10.5 and leave 9.6 and 11.3 unmatched (1.7 s apart)
    truth, found = [c(9.6), c(10.5)], [c(10.4), c(11.3)]
    scores = score_crossings(truth, found, tolerance_s=1.0)
    assert scores.matched == 2 and not scores.missed and not scores.spurious


def test_nothing_to_find_or_nothing_found_leaves_that_score_undefined():
    assert score_crossings([], [c(1.0)]).recall is None
    assert score_crossings([c(1.0)], []).precision is None
    with pytest.raises(ValueError, match="tolerance_s"):
        score_crossings([], [], tolerance_s=0)


def test_as_many_matches_as_a_maximum_matching_on_random_crossings():
    """Against scipy's assignment on the 0/1 'within the tolerance' matrix, which is a maximum matching."""
    rng = np.random.default_rng(19)
    for _ in range(200):
        truth = [c(float(t)) for t in rng.uniform(0, 20, rng.integers(0, 9))]
        found = [c(float(t)) for t in rng.uniform(0, 20, rng.integers(0, 9))]
        best = 0
        if truth and found:
            within = np.abs(np.array([x.t for x in truth])[:, None] - np.array([x.t for x in found])) <= 1.0
            rows, cols = linear_sum_assignment(within, maximize=True)
            best = int(within[rows, cols].sum())
        assert score_crossings(truth, found, tolerance_s=1.0).matched == best
