"""The synthetic crowd generator (tests/support/synthetic_crowd.py): reproducible, decodable, and its truth exact.

Small clips (320x180, a few seconds) so the whole module runs in seconds.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.crowd import render
from tests.support.crowd.scenario import EXPECTED_CROSSINGS, KINDS, Person, crossings, make_scenario
from tests.support.crowd.sources import load_source
from tests.support.footage import ONE_BY_ONE, decoded_frames
from tests.support.paths import footage_path
from tests.support.synthetic_crowd import CrowdClip, analytics_config, generate

SIZE = (320, 180)
FPS = 15
SECONDS = 8.0


def _generate(tmp: Path, seed: int) -> CrowdClip:
    return generate(seed, 8, SECONDS, tmp, size=SIZE, fps=FPS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> CrowdClip:
    return _generate(tmp_path_factory.mktemp("crowd-a"), seed=3)


@pytest.fixture(scope="module")
def truth(clip: CrowdClip) -> dict:
    return json.loads(clip.truth.read_text())


def _all_frames(path: Path) -> list[np.ndarray]:
    return [frame for _, frame in decoded_frames(path)]


def _sides(points: np.ndarray, line: tuple, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Side (+1 left of the line's direction, y down) and distance along, written out independently here."""
    (ax, ay), (bx, by) = (np.array(p) * np.array(size) for p in line)
    ux, uy = bx - ax, by - ay
    length = float(np.hypot(ux, uy))
    ox, oy = points[:, 0] - ax, points[:, 1] - ay
    return np.sign(uy * ox - ux * oy), (ox * ux + oy * uy) / length


def test_same_seed_gives_identical_truth_and_frames(clip: CrowdClip, tmp_path: Path) -> None:
    again = _generate(tmp_path, seed=3)
    assert again.truth.read_bytes() == clip.truth.read_bytes()
    hashes = [hashlib.sha256(f.tobytes()).hexdigest() for f in _all_frames(clip.video)]
    assert hashes == [hashlib.sha256(f.tobytes()).hexdigest() for f in _all_frames(again.video)]


def test_different_seed_gives_a_different_scenario() -> None:
    a = make_scenario(3, 8, SECONDS, SIZE, FPS, sprite_groups=5)
    b = make_scenario(4, 8, SECONDS, SIZE, FPS, sprite_groups=5)
    assert a.line != b.line
    assert [p.waypoints for p in a.people] != [p.waypoints for p in b.people]


def test_video_decodes_to_expected_frames_and_size(clip: CrowdClip, truth: dict) -> None:
    frames = _all_frames(clip.video)
    assert len(frames) == truth["scenario"]["frames"] == int(SECONDS * FPS)
    assert {f.shape for f in frames} == {(SIZE[1], SIZE[0], 3)}
    assert clip.codec == "h264"


def test_crossings_are_the_anchor_side_changes(truth: dict) -> None:
    line = truth["scenario"]["line"]
    in_sign = 1 if line["in_side"] == "left" else -1
    boxes = np.array(truth["boxes"], dtype=np.float64)
    expected = set()
    for pid in np.unique(boxes[:, 1]).astype(int):
        rows = boxes[boxes[:, 1] == pid]
        anchors = np.column_stack((rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5]))
        side, along = _sides(anchors, line["points"], SIZE)
        length = float(np.hypot(*((np.array(line["points"][1]) - line["points"][0]) * SIZE)))
        for k in range(1, len(rows)):
            consecutive = rows[k, 0] == rows[k - 1, 0] + 1
            if consecutive and side[k] != 0 and side[k - 1] != 0 and side[k] != side[k - 1]:
                if 0 <= along[k] <= length and 0 <= along[k - 1] <= length:
                    expected.add((int(rows[k, 0]), int(pid), "in" if side[k] == in_sign else "out"))
    actual = {(c["frame"], c["id"], c["direction"]) for c in truth["crossings"]}
    assert actual, "a seeded 8-person clip has crossings"
    assert actual == expected


def test_each_path_kind_crosses_as_designed() -> None:
    # Long enough for every path to finish; geometry only (no rendering).
    seen = set()
    for seed in range(12):
        scenario = make_scenario(seed, 12, 60.0, SIZE, FPS, sprite_groups=5)
        counts = {p.id: 0 for p in scenario.people}
        for crossing in crossings(scenario):
            counts[crossing["id"]] += 1
        for person in scenario.people:
            assert counts[person.id] == EXPECTED_CROSSINGS[person.kind], (seed, person)
            seen.add(person.kind)
    assert seen == set(KINDS)


def test_pause_and_turn_back_is_no_crossing_and_a_pass_is_one() -> None:
    base = make_scenario(1, 1, 20.0, SIZE, FPS, sprite_groups=1)
    (a, b) = (np.array(p) for p in base.line.points)
    mid, normal = (a + b) / 2, np.array([(b - a)[1] * SIZE[1] / SIZE[0], -(b - a)[0] * SIZE[0] / SIZE[1]])
    normal = normal / np.hypot(*(normal * SIZE)) * 40  # 40 px to the left, in relative units
    near = normal * 0.05  # 2 px: on the line, within the band
    left, right, on = tuple(mid + normal), tuple(mid - normal), tuple(mid + near)
    back = Person(1, "pause_turn_back", 0.5, 30.0, ((*left, 0.0), (*on, 3.0), (*left, 0.0)), 0, 1.0)
    across = Person(2, "pause_continue", 0.5, 30.0, ((*left, 0.0), (*on, 3.0), (*right, 0.0)), 0, 1.0)
    found = crossings(dataclasses.replace(base, people=(back, across)))
    assert [(c["id"], c["direction"]) for c in found] == [(2, "out" if base.line.in_side == "left" else "in")]


def test_occluder_hides_the_person(clip: CrowdClip, truth: dict) -> None:
    occluded = [p["id"] for p in truth["scenario"]["people"] if p["kind"] == "occluded"]
    assert occluded
    rows = [b for b in truth["boxes"] if b[1] == occluded[0]]
    assert rows and min(b[6] for b in rows) < 0.5
    occ = truth["scenario"]["occluder"]
    x0, x1 = round(occ["x"] * SIZE[0]), round((occ["x"] + occ["w"]) * SIZE[0])
    y0, y1 = round(occ["y"] * SIZE[1]), round((occ["y"] + occ["h"]) * SIZE[1])
    scene = load_source(footage_path(ONE_BY_ONE))
    for index, (frame, _) in enumerate(render.frames(clip.scenario, scene)):
        if index % 20 == 0:
            inside = frame[max(y0, 0) : y1, max(x0, 0) : x1].reshape(-1, 3)
            assert len(inside) > 0 and (inside == occ["colour"]).all()
    decoded = _all_frames(clip.video)
    inside = decoded[len(decoded) // 2][max(y0, 0) + 2 : y1 - 2, max(x0, 0) + 2 : x1 - 2].astype(np.int16)
    assert np.abs(inside - np.array(occ["colour"])).mean() < 8  # lossy codec: close, not equal


def test_truth_boxes_hold_the_drawn_person(clip: CrowdClip, truth: dict) -> None:
    scene = load_source(footage_path(ONE_BY_ONE))
    background = cv2.resize(scene.background, SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)
    by_frame: dict[int, list] = {}
    for row in truth["boxes"]:
        by_frame.setdefault(int(row[0]), []).append(row)
    checked = 0
    for index, (frame, _) in enumerate(render.frames(clip.scenario, scene)):
        for _, _, x, y, w, h, visible in by_frame.get(index, []):
            if visible < 0.9 or index % 5:
                continue
            x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
            x1, y1 = min(int(round(x + w)), SIZE[0]), min(int(round(y + h)), SIZE[1])
            changed = np.abs(frame[y0:y1, x0:x1].astype(np.int16) - background[y0:y1, x0:x1]).max(axis=2) > 20
            assert changed.mean() > 0.15, (index, x, y, w, h)
            checked += 1
    assert checked > 10


def test_line_is_valid_product_config(clip: CrowdClip) -> None:
    config = analytics_config(clip.scenario)
    assert config.lines[0].in_side == clip.scenario.line.in_side
    assert config.line_band == clip.scenario.band
