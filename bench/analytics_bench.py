"""Store analytics cost: one `StoreAnalytics.update` per processed frame, with 10 and 200 tracks walking through
1 line + 1 zone and 4 lines + 4 zones, against the detector's cost per frame. Printed, never asserted.

    make bench
    .venv/bin/python bench/analytics_bench.py --frames 3000

People walk on random straight paths across a 1280x720 frame (so lines are crossed and zones visited); tracks
end and are replaced as they leave, as in a store.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import StoreAnalytics

WIDTH, HEIGHT, FPS = 1280, 720, 30.0
DETECT_MS = 18.15  # one detection through Triton on this machine (README, pipeline bench: the physical limit)


def geometry(count: int) -> AnalyticsConfig:
    lines = [
        {"id": f"line_{i}", "points": [[0.1, (i + 1) / (count + 1)], [0.9, (i + 1) / (count + 1)]]}
        for i in range(count)
    ]
    zones = [
        {
            "id": f"zone_{i}",
            "polygon": [
                [0.1 + 0.2 * i, 0.2],
                [0.25 + 0.2 * i, 0.2],
                [0.25 + 0.2 * i, 0.8],
                [0.1 + 0.2 * i, 0.8],
            ],
        }
        for i in range(count)
    ]
    return AnalyticsConfig.model_validate({"lines": lines, "zones": zones})


class Crowd:
    """`size` people on straight walks; one who leaves the frame is replaced by a new track."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.rng = rng
        self.next_id = 0
        self.ids = np.zeros(size, dtype=np.int64)
        self.position = np.zeros((size, 2))
        self.velocity = np.zeros((size, 2))
        for index in range(size):
            self._respawn(index)

    def _respawn(self, index: int) -> None:
        self.ids[index] = self.next_id
        self.next_id += 1
        self.position[index] = self.rng.uniform([0, 0], [WIDTH, HEIGHT])
        angle = self.rng.uniform(0, 2 * np.pi)
        self.velocity[index] = np.array([np.cos(angle), np.sin(angle)]) * self.rng.uniform(30, 120) / FPS

    def step(self) -> tuple[list[int], np.ndarray, list[int]]:
        self.position += self.velocity + self.rng.normal(0, 1.5, self.position.shape)  # jitter of the boxes
        gone = np.where(
            (self.position[:, 0] < 0)
            | (self.position[:, 0] > WIDTH)
            | (self.position[:, 1] < 0)
            | (self.position[:, 1] > HEIGHT)
        )[0]
        ended = [int(self.ids[index]) for index in gone]
        for index in gone:
            self._respawn(int(index))
        x, y = self.position[:, 0], self.position[:, 1]
        boxes = np.column_stack((x - 25, y - 120, x + 25, y))
        return self.ids.tolist(), boxes, ended


def run(tracks: int, shapes: int, frames: int, seed: int = 1) -> dict:
    analytics = StoreAnalytics(geometry(shapes))
    crowd = Crowd(tracks, np.random.default_rng(seed))
    timings, events = [], 0
    for frame in range(frames):
        ids, boxes, ended = crowd.step()
        started = time.perf_counter()
        for track_id in ended:
            events += len(analytics.end_track(track_id))
        events += len(analytics.update(frame / FPS, ids, boxes, (WIDTH, HEIGHT), gender_of=lambda _t: None))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    totals = analytics.totals()
    return {
        "tracks": tracks,
        "lines": shapes,
        "zones": shapes,
        "frames": frames,
        "mean_ms": statistics.fmean(timings),
        "p50_ms": timings[len(timings) // 2],
        "p99_ms": timings[int(len(timings) * 0.99)],
        "events": events,
        "crossings": sum(count for line in totals.values() for count in line.values()),
        "share_of_detection": statistics.fmean(timings) / DETECT_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path("~/.cache/footfall/bench").expanduser())
    args = parser.parse_args()
    results = [run(tracks, shapes, args.frames) for tracks in (10, 200) for shapes in (1, 4)]
    print(f"\nStore analytics per processed frame ({args.frames} frames each; detection is {DETECT_MS} ms/frame here)")
    print(
        f"{'tracks':>7} {'lines+zones':>12} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'events':>7} {'of detect':>10}"
    )
    for r in results:
        print(
            f"{r['tracks']:>7} {str(r['lines']) + '+' + str(r['zones']):>12} {r['mean_ms']:>8.3f} {r['p50_ms']:>8.3f} "
            f"{r['p99_ms']:>8.3f} {r['events']:>7} {r['share_of_detection']:>9.1%}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"analytics-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
