"""Count every crossing once (issue 19): crossing recall/precision, ID switches and IDF1 of the channel's own
processing on synthetic crowds of 1-20 people (exact truth) and on the hand-labelled real clips, plain
ByteTrack beside the appearance-aware tracker, and the milliseconds per frame each costs beyond detection.

    .venv/bin/python bench/crossing_bench.py                       (Triton on FOOTFALL_TRITON_URL; ~5 min)
    .venv/bin/python bench/crossing_bench.py --people 1 5 10 --seeds 1 --trackers bytetrack

Detection runs once per frame through Triton (the product's path) and is replayed to every tracker, so the
trackers are compared on identical detections. Per synthetic clip, "det rec" is the share of truth boxes a
confident detection covers and "count" the true crossings those detections make countable at all (the person
detected on each side within a second): roughly the ceiling of any tracker's recall (a track's prediction can
carry it over a missed detection now and then). Printed, never asserted.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall_contract.config.geometry import AnalyticsConfig  # noqa: E402
from footfall_worker.analytics.line_state import LineState, anchors  # noqa: E402
from footfall_worker.detections import Detections  # noqa: E402
from footfall_worker.evaluation.crossings import Crossing, score_crossings  # noqa: E402
from footfall_worker.evaluation.labels import load_crossing_labels  # noqa: E402
from footfall_worker.evaluation.metrics import evaluate  # noqa: E402
from footfall_worker.evaluation.mot import MotRow  # noqa: E402
from footfall_worker.evaluation.runner import read_clip, track_clip  # noqa: E402
from footfall_worker.inference import PersonDetector, TritonConnection  # noqa: E402
from footfall_worker.pipeline.channel import ChannelSpec  # noqa: E402
from footfall_worker.pipeline.process_video import file_settings  # noqa: E402
from footfall_worker.pipeline.processing import make_processor  # noqa: E402
from footfall_worker.tracking.matching import iou_matrix  # noqa: E402
from tests.support.synthetic_crowd import analytics_config, generate  # noqa: E402

CACHE = Path(os.environ.get("FOOTFALL_CACHE", Path.home() / ".cache/footfall")) / "crossing-bench"
LABELS = ROOT / "input/labels/crossings"
VISIBLE = 0.3  # truth boxes less visible than this are neither required nor penalised
LOW_SCORE = 0.1  # the tracker's low_thresh: weaker detections are ignored entirely


@dataclass
class Clip:
    name: str
    video: Path
    analytics: AnalyticsConfig
    crossings: list[Crossing]
    truth_rows: list[MotRow] | None  # per-frame boxes where known (synthetic)
    ignore_rows: list[MotRow]
    in_view: float | None  # mean people visible per frame
    size: tuple[int, int] | None = None  # (width, height) and frame rate where truth boxes are known
    fps: int | None = None


@dataclass
class Outcome:
    recall: float | None
    precision: float | None
    matched: int
    truth: int
    found: int
    id_switches: int | None
    idf1: float | None
    ms_per_frame: float
    missed: list[Crossing]
    spurious: list[Crossing]


def synthetic(people: int, seed: int, seconds: float) -> Clip:
    out = CACHE / f"crowd-p{people}-s{seed}-{seconds:g}s"
    clip = generate(seed, people, seconds, out)
    truth = json.loads(clip.truth.read_text())
    rows, ignore = [], []
    for frame, person, x, y, w, h, visible in truth["boxes"]:
        row = MotRow(int(frame) + 1, int(person), x, y, w, h)
        (rows if visible >= VISIBLE else ignore).append(row)
    frames = len({row.frame for row in rows + ignore}) or 1
    crossings = [Crossing(c["time_s"], c["direction"], c["line"], c["id"], c["frame"]) for c in truth["crossings"]]
    return Clip(
        f"synthetic {people:2d} people seed {seed}",
        clip.video,
        analytics_config(clip.scenario),
        crossings,
        rows,
        ignore,
        len(rows) / frames,
        tuple(truth["scenario"]["size"]),
        truth["scenario"]["fps"],
    )


def labelled() -> Iterator[Clip]:
    for path in sorted(LABELS.glob("*.json")):
        labels = load_crossing_labels(path, ROOT)
        if not labels.video.is_file():
            print(f"  {path.name}: {labels.video} is not here, skipped", file=sys.stderr)
            continue
        yield Clip(f"labelled {path.stem}", labels.video, labels.analytics, labels.crossings, None, [], None)


def detect_all(video: Path, detector: PersonDetector) -> list[Detections]:
    return [detector.detect_one(image) for image, _ in read_clip(video)]


def detection_recall(clip: Clip, detections: list[Detections]) -> float | None:
    """Share of the scored truth boxes (at least VISIBLE of the person shows) that a confident detection (>= 0.5)
    covers at IoU >= 0.5: what the tracker and the line could at best work with."""
    if clip.truth_rows is None:
        return None
    covered = total = 0
    by_frame: dict[int, list[MotRow]] = {}
    for row in clip.truth_rows:
        by_frame.setdefault(row.frame, []).append(row)
    for frame, rows in by_frame.items():
        truth = np.array([row.xyxy for row in rows], np.float64)
        found = detections[frame - 1].above(0.5).xyxy.astype(np.float64) if frame <= len(detections) else None
        total += len(truth)
        if found is not None and len(found):
            covered += int((iou_matrix(truth, found).max(axis=1) >= 0.5).sum())
    return covered / total if total else None


def countable(clip: Clip, detections: list[Detections]) -> int | None:
    """True crossings the detector made countable: within a second before the crossing the person is detected
    standing off the line on one side (inside the band counts: a track born there takes that side), and within
    a second after, detected clearly on the other. Any detection counts (>= LOW_SCORE, IoU >= 0.5 with the truth
    box): ByteTrack's second stage keeps a track on weak ones. Roughly the ceiling of recall: only a track's
    prediction carried over missed detections can count more."""
    if clip.truth_rows is None or clip.size is None or clip.fps is None:
        return None
    line = LineState(clip.analytics.lines[0], *clip.size, clip.analytics.line_band)
    boxes: dict[int, dict[int, tuple[float, float, float, float]]] = {}
    for row in clip.truth_rows:
        boxes.setdefault(row.track_id, {})[row.frame - 1] = row.xyxy

    def sides_seen(person: int, frames: range, clearly: bool) -> set[int]:
        found = set()
        for frame in frames:
            truth = boxes.get(person, {}).get(frame)
            if truth is None or frame >= len(detections):
                continue
            seen = detections[frame].above(LOW_SCORE).xyxy.astype(np.float64)
            if len(seen) and iou_matrix(np.array([truth]), seen).max() >= 0.5:
                clear, _, off_line = line.committed_sides(anchors(np.array([truth])))
                side = int((clear if clearly else off_line)[0])
                if side:
                    found.add(side)
        return found

    total = 0
    for crossing in clip.crossings:
        person, frame = crossing.track or 0, crossing.frame or 0
        before = sides_seen(person, range(frame - clip.fps, frame), clearly=False)
        after = sides_seen(person, range(frame, frame + clip.fps), clearly=True)
        total += any(a != b for a in before for b in after)
    return total


def run(clip: Clip, detections: list[Detections], tracker: str, connection: TritonConnection) -> Outcome:
    spec = ChannelSpec.from_file(clip.video, "bench", analytics=clip.analytics)
    os.environ["FOOTFALL_TRACKER_APPEARANCE"] = tracker_appearance(tracker)
    settings = file_settings(record=False, gender=False)
    processor = make_processor(
        spec, settings, "bench", lambda frame: detections[frame.seq - 1], file_wall_start=0.0, connection=connection
    )
    frames = list(read_clip(clip.video))
    started = time.perf_counter()
    log = track_clip(frames, processor)
    ms = (time.perf_counter() - started) * 1000 / max(1, len(frames))
    found = log.crossings
    scores = score_crossings(clip.crossings, found)
    idsw = idf1 = None
    if clip.truth_rows is not None:
        mot = evaluate(clip.truth_rows, log.rows, ignore_rows=clip.ignore_rows, frames=range(1, len(frames) + 1))
        idsw, idf1 = mot.id_switches, mot.idf1
    return Outcome(
        scores.recall,
        scores.precision,
        scores.matched,
        len(clip.crossings),
        len(found),
        idsw,
        idf1,
        ms,
        list(scores.missed),
        list(scores.spurious),
    )


def tracker_appearance(tracker: str) -> str:
    return {"bytetrack": "off"}.get(tracker, tracker)


def fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[1, 2, 5, 10, 15, 20])
    parser.add_argument("--seeds", type=int, default=2, help="synthetic clips per density")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--trackers", nargs="+", default=["bytetrack", "histogram", "learned"])
    parser.add_argument("--no-labelled", action="store_true")
    parser.add_argument("--examples", type=int, default=3, help="missed/spurious crossings shown per clip")
    args = parser.parse_args()

    connection = TritonConnection(file_settings(record=False, gender=False).triton)
    connection.wait_until_ready([connection.settings.detector_model], 120)
    detector = PersonDetector(connection)
    clips = [synthetic(p, seed, args.seconds) for p in args.people for seed in range(1, args.seeds + 1)]
    if not args.no_labelled:
        clips += list(labelled())

    print(f"trackers: {', '.join(args.trackers)}; each: recall precision IDsw IDF1 ms/frame (beyond detection)")
    header = f"{'clip':38s} {'in view':>7s} {'det rec':>7s} {'true':>5s} {'count':>5s} " + " ".join(
        f"{t:>34s}" for t in args.trackers
    )
    print(header)
    totals = {t: {} for t in args.trackers}
    ceilings: dict[str, int] = {}  # per group: true crossings the detections made countable
    for clip in clips:
        detections = detect_all(clip.video, detector)
        cells = []
        for tracker in args.trackers:
            outcome = run(clip, detections, tracker, connection)
            group = "labelled" if clip.in_view is None else clip.name.split(" seed")[0]
            totals[tracker].setdefault(group, []).append(outcome)
            cells.append(
                f"{fmt(outcome.recall):>6s} {fmt(outcome.precision):>6s} {fmt(outcome.id_switches, '{}'):>4s} "
                f"{fmt(outcome.idf1):>6s} {outcome.ms_per_frame:5.1f}ms"
            )
            for miss in outcome.missed[: args.examples]:
                print(f"    {tracker}: missed {miss.direction} at frame {miss.frame} (t {miss.t:.2f} s)")
            for extra in outcome.spurious[: args.examples]:
                print(f"    {tracker}: spurious {extra.direction} at frame {extra.frame} track {extra.track}")
        in_view, found = fmt(clip.in_view, "{:.1f}"), fmt(detection_recall(clip, detections), "{:.2f}")
        ceiling = countable(clip, detections)
        if ceiling is not None:
            ceilings[group] = ceilings.get(group, 0) + ceiling
        print(
            f"{clip.name:38s} {in_view:>7s} {found:>7s} {len(clip.crossings):5d} {fmt(ceiling, '{}'):>5s} "
            + " ".join(f"{c:>34s}" for c in cells)
        )

    print(
        "\nrecall against density (all seeds pooled): people, what the detections make countable (countable / true, "
        "roughly the ceiling), "
        "then per tracker recall / precision / ID switches"
    )
    for group in totals[args.trackers[0]]:
        truth_total = sum(o.truth for o in totals[args.trackers[0]][group])
        cells = [f"countable {fmt(ceilings[group] / truth_total if truth_total and group in ceilings else None)}"]
        for tracker in args.trackers:
            outcomes = totals[tracker][group]
            matched = sum(o.matched for o in outcomes)
            truth, found = sum(o.truth for o in outcomes), sum(o.found for o in outcomes)
            switches = [o.id_switches for o in outcomes if o.id_switches is not None]
            recall = matched / truth if truth else None
            precision = matched / found if found else None
            cells.append(f"{tracker} {fmt(recall)} / {fmt(precision)} / {sum(switches) if switches else '-'}")
        print(f"  {group:30s} " + "   ".join(cells))
    detector.close()
    connection.close()


if __name__ == "__main__":
    main()
