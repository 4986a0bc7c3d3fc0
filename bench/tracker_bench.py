"""Tracker numbers: our ByteTrack against Roboflow's (`trackers.ByteTrackTracker`), speed per frame on synthetic
crowds of 10, 50 and 200 people, and how far the two agree on identities on the shared clips. Printed, never
asserted.

    make bench
    hack/bench-venv.sh && ~/.cache/footfall/bench-venv/bin/python bench/tracker_bench.py [--frames 400]

It runs in the bench venv (hack/bench-venv.sh), not .venv: `trackers` declares the GUI `opencv-python`, which
would replace our headless `cv2`.

Both trackers get the paper's parameters. The peer has a single IoU floor for both stages where the paper (and we)
use a cost ceiling per stage; its floor is set to the paper's first stage, 1 - match_thresh.

The clips' detections come from the in-process YOLOX detector (the code Triton runs) and are cached under
$FOOTFALL_CACHE/bench, so a rerun only tracks.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from footfall_worker.detections import Detections
from footfall_worker.evaluation.metrics import evaluate
from footfall_worker.evaluation.mot import MotRow
from footfall_worker.evaluation.runner import read_clip
from footfall_worker.settings import TrackerSettings
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.matching import iou_matrix

try:
    import supervision as sv
    from trackers import ByteTrackTracker
except ImportError as error:
    sys.exit(f"{error}: run this with the bench venv: hack/bench-venv.sh prints its python")

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [
    ROOT / "input/footage/intel" / name
    for name in (
        "one-by-one-person-detection.mp4",
        "store-aisle-detection.mp4",
        "face-demographics-walking.mp4",
        "head-pose-face-detection-female-and-male.mp4",
    )
]
MODEL = ROOT / "models/person_detector/1/model.onnx"
CACHE = Path(os.environ.get("FOOTFALL_CACHE", Path.home() / ".cache/footfall")) / "bench"
CACHE_FORMAT = 2  # bump when the npz layout changes
SIZES = (10, 50, 200)
FPS = 30.0
WIDTH, HEIGHT = 1920, 1080
# The measurement of the peer on this machine, ms per frame at 10 / 50 / 200 detections.
PEER_REFERENCE_MS = {10: 0.70, 50: 2.56, 200: 10.6}


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame's detections in both trackers' containers, built before any clock runs."""

    ours: Detections
    peer: sv.Detections
    timestamp_s: float


def our_tracker() -> ByteTracker:
    # Explicit paper values, and no .env or FOOTFALL_TRACKER_* environment leaking in.
    paper = {"track_thresh": 0.5, "match_thresh": 0.8, "track_buffer": 30, "reference_fps": 30.0}
    return ByteTracker(TrackerSettings(_env_file=None, **paper))  # type: ignore[call-arg]


def peer_tracker(fps: float) -> ByteTrackTracker:
    s = our_tracker().settings
    return ByteTrackTracker(
        lost_track_buffer=s.track_buffer,
        frame_rate=fps,
        track_activation_threshold=s.new_track_thresh,  # the paper's det_thresh = track_thresh + 0.1
        minimum_consecutive_frames=2,  # the paper confirms a track on its second match, as we do
        minimum_iou_threshold=1.0 - s.match_thresh,
        high_conf_det_threshold=s.track_thresh,
    )


def frame(boxes: np.ndarray, scores: np.ndarray, timestamp_s: float) -> Frame:
    boxes = np.ascontiguousarray(boxes, np.float32).reshape(-1, 4)
    scores = np.ascontiguousarray(scores, np.float32).reshape(-1)
    return Frame(Detections(boxes, scores), sv.Detections(xyxy=boxes, confidence=scores), timestamp_s)


# -- synthetic crowds ---------------------------------------------------------------------------------------------
def synthetic_scene(people: int, frames: int, seed: int) -> list[Frame]:
    """`people` walkers in a 1920x1080 frame, about `people` detections per frame.

    Velocities drift smoothly (a damped random walk, up to ~8 px/frame); walkers that leave are replaced by new
    ones entering from a side edge. Scores sit at 0.5-0.95 per person with jitter; occlusion episodes of 5-25
    frames drop a person to 0.1-0.45 (ByteTrack's second stage), and 2% of detections are simply missed.
    """
    rng = np.random.default_rng(seed)

    def spawn(n: int, at_edge: bool) -> tuple[np.ndarray, ...]:
        size = rng.uniform(0.7, 1.3, n)
        w, h = 50 * size, 150 * size
        if at_edge:
            left = rng.random(n) < 0.5
            cx = np.where(left, -w / 2 + 2, WIDTH + w / 2 - 2)
            vx = np.where(left, 1, -1) * rng.uniform(1, 5, n)
        else:
            cx = rng.uniform(0, WIDTH, n)
            vx = rng.normal(0, 2.5, n)
        cy = rng.uniform(h / 2, HEIGHT - h / 2)
        return cx, cy, w, h, vx, rng.normal(0, 1.5, n), rng.uniform(0.5, 0.95, n)

    cx, cy, w, h, vx, vy, base = spawn(people, at_edge=False)
    occluded = np.zeros(people, int)  # frames of occlusion left
    out: list[Frame] = []
    for index in range(frames):
        vx = np.clip(0.97 * vx + rng.normal(0, 0.4, people), -8, 8)
        vy = np.clip(0.97 * vy + rng.normal(0, 0.3, people), -4, 4)
        cx, cy = cx + vx, cy + vy
        vy = np.where((cy < h / 2) | (cy > HEIGHT - h / 2), -vy, vy)  # the floor ends; turn around
        gone = (cx < -w / 2) | (cx > WIDTH + w / 2)
        if gone.any():
            fresh = spawn(int(gone.sum()), at_edge=True)
            for array, new in zip((cx, cy, w, h, vx, vy, base), fresh, strict=True):
                array[gone] = new
            occluded[gone] = 0
        starting = (occluded == 0) & (rng.random(people) < 0.01)
        occluded[starting] = rng.integers(5, 26, int(starting.sum()))
        scores = np.clip(base + rng.normal(0, 0.04, people), 0.5, 0.95)
        scores = np.where(occluded > 0, rng.uniform(0.1, 0.45, people), scores)
        occluded = np.maximum(occluded - 1, 0)
        jitter = rng.normal(0, 2.0, (people, 4))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) + jitter
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, WIDTH)
        seen = (rng.random(people) >= 0.02) & (boxes[:, 2] - boxes[:, 0] > 4)
        order = np.argsort(-scores[seen], kind="stable")  # the detector's order: score-descending
        out.append(frame(boxes[seen][order], scores[seen][order], index / FPS))
    return out


def time_trackers(frames: list[Frame], warmup: int) -> tuple[list[float], list[float], float]:
    """ms per `update` for ours and the peer on the same frames, after `warmup` untimed frames, and how many
    tracks ours reported per timed frame on average.

    The two run interleaved frame by frame, alternating which goes first, so a busy moment on the machine lands
    on both rather than on one.
    """
    ours, peer = our_tracker(), peer_tracker(FPS)
    ours_ms: list[float] = []
    peer_ms: list[float] = []
    tracks = 0
    gc.collect()
    for index, f in enumerate(frames):
        order = ((ours_ms, ours), (peer_ms, peer)) if index % 2 == 0 else ((peer_ms, peer), (ours_ms, ours))
        for times, tracker in order:
            if tracker is ours:
                start = time.perf_counter_ns()
                tracked = len(ours.update(f.ours, f.timestamp_s).tracks)
            else:
                start = time.perf_counter_ns()
                peer.update(f.peer, timestamp=f.timestamp_s)
            elapsed_ms = (time.perf_counter_ns() - start) / 1e6
            if index >= warmup:
                times.append(elapsed_ms)
        if index >= warmup:
            tracks += tracked
    return ours_ms, peer_ms, tracks / max(len(ours_ms), 1)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def speed(frames: int, warmup: int, rounds: int) -> None:
    print(
        f"update time per frame, ms ({rounds} x {frames} timed frames after {warmup} warm-up each, 1920x1080,"
        f" {FPS:.0f} fps)"
    )
    print(
        f"  {'people':>6} {'dets/frame':>10} {'tracks':>6} | {'ours p50':>8} {'p95':>6} | {'peer p50':>8} {'p95':>6}"
        f" | {'peer/ours':>9} | {'issue peer':>10}"
    )
    for people in SIZES:
        scene = synthetic_scene(people, frames + warmup, seed=people)
        # Fresh trackers each round: on a shared 2-core machine one unlucky stretch should not decide the row.
        ours_ms, peer_ms, tracks = [], [], 0.0
        for _ in range(rounds):
            o, p, tracks = time_trackers(scene, warmup)
            ours_ms += o
            peer_ms += p
        dets = statistics.mean(len(f.ours) for f in scene)
        ours_p50, peer_p50 = statistics.median(ours_ms), statistics.median(peer_ms)
        print(
            f"  {people:>6} {dets:>10.1f} {tracks:>6.1f} | {ours_p50:>8.3f} {p95(ours_ms):>6.3f} | {peer_p50:>8.3f}"
            f" {p95(peer_ms):>6.3f} | {peer_p50 / ours_p50:>8.2f}x | {PEER_REFERENCE_MS[people]:>10.2f}"
        )


# -- identity agreement on the clips ------------------------------------------------------------------------------
def clip_detections(clip: Path) -> tuple[list[Frame], float]:
    """The clip's detections (and its frame rate), from the cache when the clip and model are unchanged."""
    key = ":".join(str(v) for v in (CACHE_FORMAT, *(f.stat().st_size for f in (clip, MODEL))))
    key += ":" + ":".join(str(f.stat().st_mtime_ns) for f in (clip, MODEL))
    path = CACHE / f"detections-{clip.stem}.npz"
    if path.exists():
        cached = np.load(path)
        if str(cached["key"]) == key:
            counts = np.cumsum(cached["counts"])[:-1]
            boxes, scores = np.split(cached["boxes"], counts), np.split(cached["scores"], counts)
            times = cached["times"]
            return [frame(b, s, float(t)) for b, s, t in zip(boxes, scores, times, strict=True)], float(cached["fps"])

    sys.path.insert(0, str(ROOT / "models/person_detector/1"))
    from yolox import PersonDetector  # the very module Triton's python backend runs

    detector = PersonDetector(str(MODEL), intra_op_threads=os.cpu_count() or 1)
    boxes, scores, times = [], [], []
    started = time.perf_counter()
    for image, timestamp_s in read_clip(clip):
        b, s = detector.detect([image])[0]
        boxes.append(np.asarray(b, np.float32).reshape(-1, 4))
        scores.append(np.asarray(s, np.float32).reshape(-1))
        times.append(timestamp_s)
    fps = (len(times) - 1) / times[-1] if len(times) > 1 and times[-1] > 0 else FPS
    print(f"  (detected {clip.name}: {len(times)} frames in {time.perf_counter() - started:.0f} s, cached)")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        key=key,
        fps=fps,
        times=np.array(times),
        counts=np.array([len(s) for s in scores], np.int64),
        boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32),
        scores=np.concatenate(scores) if scores else np.zeros((0,), np.float32),
    )
    return [frame(b, s, t) for b, s, t in zip(boxes, scores, times, strict=True)], fps


@dataclass(frozen=True, slots=True)
class Agreement:
    frames: int
    ours_ids: int
    peer_ids: int
    ours_boxes: int
    peer_boxes: int
    pairs: int
    ours_to_peer: float  # share of matched boxes whose peer id is the majority one for that our id
    peer_to_ours: float  # the same the other way round (a peer id split over several of ours)
    ours_only: float  # share of our boxes the peer did not report
    peer_only: float
    idf1: float
    id_switches: int
    ours_ms: float
    peer_ms: float


def majority_share(pairs: list[tuple[int, int]]) -> float:
    """Share of `(a, b)` pairs whose `b` is the most common partner of their `a` over the clip."""
    if not pairs:
        return float("nan")
    by_key: dict[int, Counter[int]] = {}
    for a, b in pairs:
        by_key.setdefault(a, Counter())[b] += 1
    return sum(c.most_common(1)[0][1] for c in by_key.values()) / len(pairs)


def agreement(frames: list[Frame], fps: float) -> Agreement:
    ours, peer = our_tracker(), peer_tracker(fps)
    ours_rows: list[MotRow] = []
    peer_rows: list[MotRow] = []
    pairs: list[tuple[int, int]] = []
    ours_ns = peer_ns = 0
    for number, f in enumerate(frames, start=1):
        start = time.perf_counter_ns()
        tracks = ours.update(f.ours, f.timestamp_s).tracks
        ours_ns += time.perf_counter_ns() - start
        start = time.perf_counter_ns()
        result = peer.update(f.peer, timestamp=f.timestamp_s)
        peer_ns += time.perf_counter_ns() - start
        # The peer returns every detection; -1 marks the ones no confirmed track took.
        confirmed = result.tracker_id >= 0
        peer_boxes, peer_ids = result.xyxy[confirmed], result.tracker_id[confirmed]
        ours_rows += [MotRow.from_xyxy(number, int(i), b) for i, b in zip(tracks.track_id, tracks.xyxy, strict=True)]
        peer_rows += [MotRow.from_xyxy(number, int(i), b) for i, b in zip(peer_ids, peer_boxes, strict=True)]
        if len(tracks) and len(peer_ids):
            iou = iou_matrix(tracks.xyxy, peer_boxes)
            rows, cols = linear_sum_assignment(-iou)
            keep = iou[rows, cols] >= 0.5
            pairs += [(int(tracks.track_id[r]), int(peer_ids[c])) for r, c in zip(rows[keep], cols[keep], strict=True)]
    # The peer's output stands in for ground truth: IDF1 and switches say how often ours disagrees with it.
    scores = evaluate(peer_rows, ours_rows, 0.5, frames=range(1, len(frames) + 1))
    return Agreement(
        frames=len(frames),
        ours_ids=len({r.track_id for r in ours_rows}),
        peer_ids=len({r.track_id for r in peer_rows}),
        ours_boxes=len(ours_rows),
        peer_boxes=len(peer_rows),
        pairs=len(pairs),
        ours_to_peer=majority_share(pairs),
        peer_to_ours=majority_share([(b, a) for a, b in pairs]),
        ours_only=1 - len(pairs) / len(ours_rows) if ours_rows else float("nan"),
        peer_only=1 - len(pairs) / len(peer_rows) if peer_rows else float("nan"),
        idf1=scores.idf1,
        id_switches=scores.id_switches,
        ours_ms=ours_ns / 1e6 / max(len(frames), 1),
        peer_ms=peer_ns / 1e6 / max(len(frames), 1),
    )


def identities() -> None:
    print("\nidentity agreement on the clips (boxes matched at IoU >= 0.5; IDF1/IDsw: the peer as ground truth)")
    print(
        f"  {'clip':<28} {'frames':>6} {'ids ours/peer':>13} {'boxes ours/peer':>15} | {'id agree o->p':>13}"
        f" {'p->o':>6} | {'only ours':>9} {'only peer':>9} | {'IDF1':>5} {'IDsw':>4} | {'ms ours/peer':>12}"
    )
    for clip in CLIPS:
        if not clip.exists():
            print(f"  {clip.stem[:28]:<28} missing: hack/prepare-footage.sh fetches it")
            continue
        frames, fps = clip_detections(clip)
        a = agreement(frames, fps)
        print(
            f"  {clip.stem[:28]:<28} {a.frames:>6} {f'{a.ours_ids}/{a.peer_ids}':>13}"
            f" {f'{a.ours_boxes}/{a.peer_boxes}':>15} | {a.ours_to_peer:>13.1%} {a.peer_to_ours:>6.1%} |"
            f" {a.ours_only:>9.1%} {a.peer_only:>9.1%} | {a.idf1:>5.3f} {a.id_switches:>4} |"
            f" {f'{a.ours_ms:.2f}/{a.peer_ms:.2f}':>12}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=400, help="timed frames per crowd size")
    parser.add_argument("--warmup", type=int, default=50, help="untimed frames first (imports, caches, tracks)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds per crowd size, pooled")
    parser.add_argument("--skip-clips", action="store_true", help="speed only")
    args = parser.parse_args()
    started = time.perf_counter()
    speed(args.frames, args.warmup, args.rounds)
    if not args.skip_clips:
        identities()
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
