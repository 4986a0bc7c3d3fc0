"""A crowd scenario from a seed: a counting line, an occluder, people on piecewise-linear paths, and the truth.

Side convention = the product's (worker/footfall_worker/analytics/counting.py): y grows downwards, a point's
side is the sign of -(u x o) for the line's unit direction u and the point's offset o from the first point,
+1 = left of the walking direction from the first point; 'in' is moving to `in_side`.

Truth is geometry, not the product's band: a crossing is a strict sign change of the anchor's side along the
path, at a point within the segment's extent. So pausing on the line (on the near side) and turning back is no
crossing; pausing and continuing across is one; entering the view inside the band and walking across is one.
"""

import math
from dataclasses import dataclass

import numpy as np

KINDS = (
    "cross_in",
    "cross_out",
    "pass_pair",
    "occluded",
    "pause_continue",
    "pause_turn_back",
    "enter_in_band",
    "loiter",
)
# crossings each kind's path makes by construction (the tests hold the generator to it)
EXPECTED_CROSSINGS = {
    "cross_in": 1,
    "cross_out": 1,
    "pass_pair": 1,
    "occluded": 1,
    "pause_continue": 1,
    "pause_turn_back": 0,
    "enter_in_band": 1,
    "loiter": 0,
}
BAND = 0.03  # the product's default line_band, relative to the frame's diagonal
# Where the floor starts in the default source clip (one-by-one: the wall's skirting board at y = 205 of 360).
# Everyone walks on the floor: feet on the wall would be a scene no camera sees, and the detector rightly
# doubts it (scores 0.3-0.4 there).
FLOOR_TOP = 0.6


@dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], tuple[float, float]]  # relative, like CountingLine.points
    in_side: str  # "left" / "right"
    id: str = "line"


@dataclass(frozen=True)
class Occluder:
    x: float  # relative box
    y: float
    w: float
    h: float
    colour: tuple[int, int, int]  # BGR


@dataclass(frozen=True)
class Person:
    id: int
    kind: str
    start_s: float
    speed_px_s: float
    waypoints: tuple[tuple[float, float, float], ...]  # relative (x, y) and the pause (s) on arrival there
    sprite_group: int
    scale: float  # height factor around the perspective's height


@dataclass(frozen=True)
class Scenario:
    seed: int
    size: tuple[int, int]
    fps: int
    frames: int
    line: Line
    band: float
    occluder: Occluder
    people: tuple[Person, ...]


class Geometry:
    """The line in pixels: side (+1 left), distance along it, and how to place a point by (along, side)."""

    def __init__(self, line: Line, size: tuple[int, int]) -> None:
        scale = np.array(size, dtype=np.float64)
        self.a = np.array(line.points[0]) * scale
        b = np.array(line.points[1]) * scale
        self.length = float(np.hypot(*(b - self.a)))
        self.u = (b - self.a) / self.length
        self.left = np.array([self.u[1], -self.u[0]])  # left normal with y down: signed() of it is +1
        self.in_sign = 1 if line.in_side == "left" else -1
        self.scale = scale

    def signed(self, points: np.ndarray) -> np.ndarray:
        offset = np.asarray(points, dtype=np.float64).reshape(-1, 2) - self.a
        return -(self.u[0] * offset[:, 1] - self.u[1] * offset[:, 0])

    def along(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64).reshape(-1, 2) - self.a) @ self.u

    def at(self, along: float, side: float) -> tuple[float, float]:
        """Relative point `along` px from the first point and `side` px to the left (negative: right)."""
        point = (self.a + self.u * along + self.left * side) / self.scale
        return float(point[0]), float(point[1])


Waypoint = tuple[float, float, float]


def _edge_along(geo: Geometry, relative_x: float) -> float:
    """How far along the (nearly horizontal) line a point at `relative_x` of the frame's width is."""
    return float((relative_x * geo.scale[0] - geo.a[0]) / geo.u[0])


def _via_edges(path: tuple[Waypoint, ...], geo: Geometry, through: bool) -> tuple[Waypoint, ...]:
    """The path walked in from a side edge of the frame and out to one, parallel to the line on the side of the
    path's first and last points: people come from somewhere, so a tracker has them long before the line.

    Each end goes to its nearest edge (people come from and go back to where they are nearest to); `through`
    instead keeps the walking direction along the line (in from the edge behind, out at the edge ahead), so a
    diagonal walk behind the pillar is not followed by a walk back behind it."""
    first, last = (float(geo.along(np.array(point[:2]) * geo.scale)[0]) for point in (path[0], path[-1]))
    left_edge, right_edge = _edge_along(geo, -0.06), _edge_along(geo, 1.06)
    middle = (left_edge + right_edge) / 2

    def edge_point(point: Waypoint, along: float) -> Waypoint:
        side = float(geo.signed(np.array(point[:2]) * geo.scale)[0])
        return (*geo.at(along, side), 0.0)

    if through:
        entry, exit_ = (left_edge, right_edge) if last >= first else (right_edge, left_edge)
    else:
        entry = left_edge if first < middle else right_edge
        exit_ = left_edge if last < middle else right_edge
    return (edge_point(path[0], entry), *path, edge_point(path[-1], exit_))


def _paths(
    kind: str, rng: np.random.Generator, geo: Geometry, band_px: float, occ_along: float, depth: float
) -> list[tuple[Waypoint, ...]]:
    """Waypoints (relative x, y, pause) for one kind; pass_pair gives two people. Every kind but `enter_in_band`
    (whose point is appearing near the line) and `loiter` comes in from a side edge and leaves by one."""
    paths = _kind_paths(kind, rng, geo, band_px, occ_along, depth)
    if kind in ("enter_in_band", "loiter"):
        return paths
    return [_via_edges(path, geo, through=kind == "occluded") for path in paths]


def _kind_paths(
    kind: str, rng: np.random.Generator, geo: Geometry, band_px: float, occ_along: float, depth: float
) -> list[tuple[Waypoint, ...]]:
    """The part of each kind's path near the line; `depth` is the floor's height in px (both sides of the line
    stay on it)."""
    # start/end distance from the line: people spread over the floor, not in two lanes along the line
    far = lambda: float(rng.uniform(0.22, 0.45)) * depth  # noqa: E731
    near = lambda: float(rng.uniform(0.2, 0.45)) * band_px  # noqa: E731 - on the line, within the band
    person_height = 0.5 * float(geo.scale[1])  # near the line, in the render's perspective (~half the frame)
    u = float(rng.uniform(0.25, 0.75)) * geo.length  # crossing point, away from the line's ends
    drift = float(rng.uniform(-0.1, 0.1)) * geo.length
    s = 1.0 if rng.random() < 0.5 else -1.0  # the side the person starts on
    if kind == "cross_in" or kind == "cross_out":
        s = -geo.in_sign if kind == "cross_in" else geo.in_sign
        return [((*geo.at(u - drift, s * far()), 0.0), (*geo.at(u + drift, -s * far()), 0.0))]
    if kind == "pass_pair":
        # side by side as people pass, a shoulder's width or so between them (~0.3 of a person's height):
        # in the picture the nearer one hides most of the other for a moment
        gap = float(rng.uniform(0.15, 0.2)) * person_height
        return [
            ((*geo.at(u - gap, s * far()), 0.0), (*geo.at(u - gap, -s * far()), 0.0)),
            ((*geo.at(u + gap, -s * far()), 0.0), (*geo.at(u + gap, s * far()), 0.0)),
        ]
    if kind == "occluded":
        # diagonally behind the pillar, so it hides the middle of the walk (about a second): straight along a
        # vertical pillar would hide the whole crossing, which nobody could count
        slant = float(rng.uniform(0.12, 0.16)) * geo.length * (1 if rng.random() < 0.5 else -1)
        return [((*geo.at(occ_along - slant, s * far()), 0.0), (*geo.at(occ_along + slant, -s * far()), 0.0))]
    if kind == "pause_continue":
        pause = float(rng.uniform(2.0, 4.0))
        return [((*geo.at(u, s * far()), 0.0), (*geo.at(u, s * near()), pause), (*geo.at(u + drift, -s * far()), 0.0))]
    if kind == "pause_turn_back":
        pause = float(rng.uniform(2.0, 4.0))
        return [((*geo.at(u, s * far()), 0.0), (*geo.at(u, s * near()), pause), (*geo.at(u + drift, s * far()), 0.0))]
    if kind == "enter_in_band":
        # appears standing in the band for a moment (so frames on its first side exist), then walks across
        return [((*geo.at(u, s * near()), float(rng.uniform(0.5, 1.0))), (*geo.at(u + drift, -s * far()), 0.0))]
    # loiter: wander on one side, never nearer the line than 1.5 times the band
    points = [
        (
            *geo.at(float(rng.uniform(0.1, 0.9)) * geo.length, s * float(rng.uniform(1.5, 2.0)) * band_px),
            float(rng.uniform(0.0, 2.0)),
        )
        for _ in range(4)
    ]
    return [tuple(points)]


def make_scenario(
    seed: int,
    people: int,
    seconds: float,
    size: tuple[int, int],
    fps: int,
    sprite_groups: int,
    floor_top: float = FLOOR_TOP,
) -> Scenario:
    """A seeded crowd on the floor below `floor_top` (relative): the line across its middle, nearly level."""
    if not 1 <= people <= 20:
        raise ValueError(f"expected 1..20 people, got {people}")
    rng = np.random.default_rng(seed)
    width, height = size
    angle = math.radians(float(rng.uniform(-5, 5)))
    depth = (1.0 - floor_top) * height
    cx, cy = float(rng.uniform(0.4, 0.6)), floor_top + (1.0 - floor_top) * float(rng.uniform(0.45, 0.55))
    half = float(rng.uniform(0.3, 0.38)) * width
    dx, dy = half * math.cos(angle) / width, half * math.sin(angle) / height
    line = Line(points=((cx - dx, cy - dy), (cx + dx, cy + dy)), in_side=str(rng.choice(["left", "right"])))
    geo = Geometry(line, size)
    band_px = BAND * math.hypot(width, height)
    # a column between the camera and part of the line (the frame's full height): whoever walks behind it is
    # hidden for a moment, partly or wholly
    occ_along = float(rng.uniform(0.15, 0.3) if rng.random() < 0.5 else rng.uniform(0.7, 0.85)) * geo.length
    ox, _ = geo.at(occ_along, 0.0)
    occ_w = float(rng.uniform(0.06, 0.09))
    occluder = Occluder(x=ox - occ_w / 2, y=0.0, w=occ_w, h=1.0, colour=(90, 95, 100))
    # every kind once (seeded order) before repeats, so a 10-person clip covers all failure classes
    kinds = [str(k) for k in rng.permutation(KINDS)]
    kinds += [str(k) for k in rng.choice(KINDS, size=max(0, people - len(kinds)))]
    crowd: list[Person] = []
    for kind in kinds:
        if len(crowd) >= people:
            break
        if kind == "pass_pair" and people - len(crowd) < 2:
            kind = "cross_in"
        start = float(rng.uniform(0.0, max(0.1, seconds * 0.6)))
        # 0.7-1.1 m/s, a shop's pace: a person here is ~0.5 of the frame's height tall (1.7 m)
        speed = float(rng.uniform(0.2, 0.32)) * height
        for path in _paths(kind, rng, geo, band_px, occ_along, depth):
            crowd.append(
                Person(
                    id=len(crowd) + 1,
                    kind=kind,
                    start_s=start,
                    speed_px_s=speed,
                    waypoints=path,
                    sprite_group=int(rng.integers(sprite_groups)),
                    scale=float(rng.uniform(0.9, 1.1)),
                )
            )
    frames = max(1, int(round(seconds * fps)))
    return Scenario(
        seed=seed, size=size, fps=fps, frames=frames, line=line, band=BAND, occluder=occluder, people=tuple(crowd)
    )


def timeline(person: Person, size: tuple[int, int]) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """(t0, t1, p0, p1) in seconds and pixels: walks at the speed, pauses as zero-length segments."""
    scale = np.array(size, dtype=np.float64)
    points = [np.array(w[:2]) * scale for w in person.waypoints]
    t = person.start_s
    out = []
    for index, (p0, p1) in enumerate(zip(points, points[1:], strict=False)):
        pause = person.waypoints[index][2]
        if pause > 0:
            out.append((t, t + pause, p0, p0))
            t += pause
        duration = float(np.hypot(*(p1 - p0))) / person.speed_px_s
        out.append((t, t + duration, p0, p1))
        t += duration
    return out


def positions(person: Person, size: tuple[int, int], times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anchor (n, 2) pixels at `times`, and whether the person is in the scene then."""
    segments = timeline(person, size)
    out = np.full((len(times), 2), np.nan)
    for t0, t1, p0, p1 in segments:
        inside = (times >= t0) & (times <= t1)
        fraction = ((times[inside] - t0) / (t1 - t0))[:, None] if t1 > t0 else np.zeros((int(inside.sum()), 1))
        out[inside] = p0 + (p1 - p0) * fraction
    return out, ~np.isnan(out[:, 0])


def crossings(scenario: Scenario) -> list[dict[str, object]]:
    """Every strict side change of each path within the line's extent and the clip's duration."""
    geo = Geometry(scenario.line, scenario.size)
    end = (scenario.frames - 1) / scenario.fps
    found = []
    for person in scenario.people:
        for t0, t1, p0, p1 in timeline(person, scenario.size):
            s0, s1 = geo.signed(np.stack([p0, p1]))
            if s0 == 0 or s1 == 0 or (s0 > 0) == (s1 > 0):
                continue  # our paths never end exactly on the line (pauses are off it)
            fraction = s0 / (s0 - s1)
            point = p0 + (p1 - p0) * fraction
            if not 0.0 <= geo.along(point)[0] <= geo.length:
                continue  # walking around the line's end is not crossing it
            t = t0 + (t1 - t0) * fraction
            if not 0.0 < t <= end:
                continue
            direction = "in" if np.sign(s1) == geo.in_sign else "out"
            # the first frame on the new side
            frame = min(int(math.floor(t * scenario.fps)) + 1, scenario.frames - 1)
            found.append(
                {"frame": frame, "time_s": t, "id": person.id, "direction": direction, "line": scenario.line.id}
            )
    return sorted(found, key=lambda c: (c["frame"], c["id"]))
