"""Synthetic crowds with exact truth: the stress test for "count every crossing once" (issue 19).

Real people cut from a committed fixed-camera clip walk over its empty scene along seeded paths (crossing
either way, passing each other at the line, behind a pillar, pausing on the line then going on or back,
appearing inside the line's band, loitering). Writes `crowd.mp4` and `truth.json` (scenario, MOT-style boxes
with visibility, true crossings). Same seed, same files.

    python -m tests.support.synthetic_crowd --seed 7 --people 10 --seconds 20 --out DIR
"""

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from footfall_contract.config.geometry import AnalyticsConfig, CountingLine
from tests.support.crowd import render
from tests.support.crowd.scenario import Scenario, crossings, make_scenario
from tests.support.crowd.sources import DEFAULT_CACHE, load_source
from tests.support.footage import ONE_BY_ONE
from tests.support.paths import footage_path

TRUTH_FORMAT = "footfall-synthetic-crowd/1"


@dataclass(frozen=True)
class CrowdClip:
    video: Path
    truth: Path
    codec: str
    scenario: Scenario
    crossings: tuple[dict[str, object], ...]


def analytics_config(scenario: Scenario) -> AnalyticsConfig:
    """The product's configuration for the scenario's line (validated by the product's own model)."""
    line = CountingLine(
        id=scenario.line.id, points=[list(p) for p in scenario.line.points], in_side=scenario.line.in_side
    )  # type: ignore[arg-type]
    return AnalyticsConfig(lines=[line], line_band=scenario.band)


def generate(
    seed: int,
    people: int,
    seconds: float,
    out_dir: Path,
    *,
    size: tuple[int, int] = (640, 360),
    fps: int = 15,
    source: Path | None = None,
    cache_dir: Path = DEFAULT_CACHE,
) -> CrowdClip:
    clip = source or footage_path(ONE_BY_ONE)
    scene = load_source(clip, cache_dir)
    scenario = make_scenario(seed, people, seconds, size, fps, sprite_groups=len(scene.groups))
    analytics_config(scenario)  # fails loudly if the line is not one the product accepts
    out_dir.mkdir(parents=True, exist_ok=True)
    video, truth = out_dir / "crowd.mp4", out_dir / "truth.json"
    codec, boxes = render.write(scenario, scene, video)
    true_crossings = crossings(scenario)
    document = {
        "format": TRUTH_FORMAT,
        "source": clip.name,
        "scenario": dataclasses.asdict(scenario),
        # MOT-style rows: frame (0-based), id, x, y, w, h (full box in px, may reach outside the frame), visible
        # fraction of the person's pixels after the occluder, nearer people and the frame's edge
        "boxes": boxes,
        "crossings": true_crossings,
    }
    truth.write_text(json.dumps(document, indent=1) + "\n")
    return CrowdClip(video=video, truth=truth, codec=codec, scenario=scenario, crossings=tuple(true_crossings))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, nargs=2, default=(640, 360), metavar=("W", "H"))
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--source", type=Path, default=None, help="a fixed-camera clip (default: one-by-one)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = generate(
        args.seed, args.people, args.seconds, args.out, size=tuple(args.size), fps=args.fps, source=args.source
    )
    print(
        f"{result.video} ({result.codec}), {result.truth}: {len(result.scenario.people)} people, "
        f"{len(result.crossings)} crossings"
    )


if __name__ == "__main__":
    main()
