"""ReID numbers on the committed clips: same- vs different-person similarity of `ColorHistogramEncoder`, the
false-link and missed-link rates of the linking rule, a replay through the real Redis `ReidCache`, and the
encoder's cost. Printed, never asserted.

    .venv/bin/python bench/reid_eval.py                     (about 40 s on 2 cores, Redis on 127.0.0.1:6379)
    .venv/bin/python bench/reid_eval.py --threshold 0.95 --margin 0.03

Boxes come from the in-process YOLOX-Nano (score >= 0.5). Who is who, checked by eye on crops of every visit
and track (frames written as PNGs and looked at):

* one-by-one (10 fps): six visits, six DIFFERENT people, nobody comes back. 1 (63-190): woman, ombre blonde
  hair, long grey cardigan, dark grey leggings. 2 (229-443): man, short dark hair, black jacket, denim collar,
  dark jeans. 3 (506-694): woman, long wavy blonde hair, black top and leggings. 4 (745-864): man with
  glasses, black T-shirt, black trousers. 5 (932-1194): woman, long dark hair, short grey cardigan, black
  leggings. 6 (1237-1357): man, light grey shirt, blue jeans. Visits 2 and 4 (two men in all black) are the
  pair a colour descriptor cannot tell apart; 1 and 5 (grey cardigans) and 2/3/4 (black clothes) are close.
* store-aisle (15 fps): THREE people, not two: a man in an olive jacket and straw hat (left), a woman in a teal
  top and black leggings (right), and from frame 27 a blonde woman in a brown suede jacket entering bottom
  right, who then occludes the teal woman. Labelled by a greedy IoU tracker (verified on crops).
* head-pose (12 fps): a woman left (dark sleeveless top), a man right (navy T-shirt); upper bodies only.
* face-demographics-walking (12 fps): a woman in a white embroidered dress (left), a man in a black shirt
  with a white embroidered panel and jeans (right), walking towards the camera.

Same person: no clip has a real return, so "same person" pairs are windows of one person's frames at least one
window apart (e.g. entering vs standing vs leaving). Different person: windows of two people in the same clip
(ReID is per channel). A window's embedding is the normalised mean of `--samples` frames spread over it, as
the worker stores for a track.
"""

import argparse
import itertools
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import redis

from footfall_contract.redis_client import connect
from footfall_worker.reid.appearance import ColorHistogramEncoder, mean_embedding
from footfall_worker.reid.cache import DEFAULT_MIN_MARGIN, DEFAULT_MIN_SIMILARITY, ReidCache

ROOT = Path(__file__).resolve().parents[1]
FOOTAGE = ROOT / "input/footage/intel"
DETECTOR_DIR = ROOT / "models/person_detector/1"
MIN_SCORE = 0.5

ONE_BY_ONE = "one-by-one-person-detection.mp4"
STORE_AISLE = "store-aisle-detection.mp4"
HEAD_POSE = "head-pose-face-detection-female-and-male.mp4"
FACE_WALKING = "face-demographics-walking.mp4"
VISITS = ((63, 190), (229, 443), (506, 694), (745, 864), (932, 1194), (1237, 1357))
# frames per window: about 2 s of one-by-one, under 1 s of the short clips (they are 3-6 s long)
WINDOW = {ONE_BY_ONE: 20, STORE_AISLE: 10, HEAD_POSE: 8, FACE_WALKING: 6}
FPS = {ONE_BY_ONE: 10.0, STORE_AISLE: 15.0, HEAD_POSE: 12.0, FACE_WALKING: 12.0}


@dataclass
class Person:
    clip: str
    label: str
    frames: list[int]
    embeddings: np.ndarray  # (n, d), one per frame, in frame order


def read_frames(name: str) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(FOOTAGE / name))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def label_boxes(clip: str, boxes_per_frame: list[np.ndarray]) -> list[tuple[str, int, np.ndarray]]:
    """(person, frame, box) for every detection that can be attributed with certainty (see the docstring)."""
    out: list[tuple[str, int, np.ndarray]] = []
    if clip == ONE_BY_ONE:
        for visit, (first, last) in enumerate(VISITS, start=1):
            for index in range(first, last + 1):
                if len(boxes_per_frame[index]) == 1:
                    out.append((f"visit{visit}", index, boxes_per_frame[index][0]))
    elif clip == HEAD_POSE:
        for index, boxes in enumerate(boxes_per_frame):
            out += [("woman" if (b[0] + b[2]) / 2 < 240 else "man", index, b) for b in boxes]
    elif clip == FACE_WALKING:
        for index, boxes in enumerate(boxes_per_frame):
            if len(boxes) == 2:
                left, right = np.argsort((boxes[:, 0] + boxes[:, 2]) / 2)
                out += [("woman", index, boxes[left]), ("man", index, boxes[right])]
    elif clip == STORE_AISLE:
        # greedy IoU tracking is enough here: three people, slow motion, 15 fps; track order = order of
        # appearance, checked by eye
        names = ["woman-teal", "man-hat", "woman-brown"]
        last: dict[int, np.ndarray] = {}
        for index, boxes in enumerate(boxes_per_frame):
            used: set[int] = set()
            for box in boxes[np.argsort(-boxes[:, 0])]:
                candidates = [(iou(box, prev), t) for t, prev in last.items() if t not in used]
                overlap, track = max(candidates, default=(0.0, -1))
                if overlap < 0.3:
                    track = len(last)
                used.add(track)
                last[track] = box
                out.append((names[track], index, box))
    return out


def windows(person: Person, size: int, samples: int) -> list[np.ndarray]:
    """Gallery-style embeddings of consecutive windows of `size` frames (the trailing partial one dropped)."""
    out = []
    for start in range(0, len(person.frames) - size + 1, size):
        pick = np.linspace(start, start + size - 1, samples).round().astype(int)
        mean = mean_embedding(person.embeddings[pick])
        if mean is not None:
            out.append(mean)
    return out


def summary(values: np.ndarray) -> str:
    p = np.percentile(values, [0, 1, 5, 50, 95, 99, 100])
    return (
        f"n={len(values):6d} min {p[0]:.3f} p1 {p[1]:.3f} p5 {p[2]:.3f} p50 {p[3]:.3f} "
        f"p95 {p[4]:.3f} p99 {p[5]:.3f} max {p[6]:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=DEFAULT_MIN_SIMILARITY)
    parser.add_argument("--margin", type=float, default=DEFAULT_MIN_MARGIN)
    parser.add_argument("--samples", type=int, default=5, help="frames averaged per window/track")
    parser.add_argument("--redis-port", type=int, default=6379)
    args = parser.parse_args()

    sys.path.insert(0, str(DETECTOR_DIR))
    from yolox import PersonDetector  # noqa: PLC0415 - lives beside the Triton model, not in the package

    detector = PersonDetector(str(DETECTOR_DIR / "model.onnx"))
    encoder = ColorHistogramEncoder()
    people: list[Person] = []
    encode_s, encode_boxes, encode_calls = 0.0, 0, 0
    started = time.perf_counter()
    for clip in (ONE_BY_ONE, STORE_AISLE, HEAD_POSE, FACE_WALKING):
        frames = read_frames(clip)
        boxes_per_frame = []
        for frame in frames:
            boxes, scores = detector.detect([frame])[0]
            boxes_per_frame.append(boxes[scores >= MIN_SCORE])
        # encoder cost on whole frames' detections, as the worker would call it
        for frame, boxes in zip(frames, boxes_per_frame, strict=True):
            if len(boxes):
                t0 = time.perf_counter()
                encoder.encode(frame, boxes)
                encode_s += time.perf_counter() - t0
                encode_boxes += len(boxes)
                encode_calls += 1
        by_person: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
        for label, index, box in label_boxes(clip, boxes_per_frame):
            by_person[label].append((index, box))
        for label, items in by_person.items():
            items.sort(key=lambda item: item[0])
            embeddings = np.concatenate([encoder.encode(frames[i], box[None]) for i, box in items])
            people.append(Person(clip, label, [i for i, _ in items], embeddings))
    print(
        f"detected and encoded 4 clips in {time.perf_counter() - started:.1f} s; "
        f"encoder {encoder.name}, dim {encoder.dim}"
    )
    print(
        f"encoder cost: {encode_s / encode_boxes * 1e6:.0f} us per box "
        f"({encode_boxes} boxes in {encode_calls} frame calls, {encode_boxes / encode_calls:.2f} boxes per call)"
    )
    for person in people:
        print(
            f"  {person.clip:46s} {person.label:12s} {len(person.frames):4d} frames "
            f"{person.frames[0]}-{person.frames[-1]}"
        )

    # window level: what the cache compares (a track's mean embedding)
    same_w: list[float] = []
    diff_w: dict[tuple[str, str], list[float]] = defaultdict(list)
    per_person_windows = {(p.clip, p.label): windows(p, WINDOW[p.clip], args.samples) for p in people}
    for ws in per_person_windows.values():
        same_w += [float(ws[i] @ ws[j]) for i, j in itertools.combinations(range(len(ws)), 2) if j - i >= 2]
    for (k1, w1), (k2, w2) in itertools.combinations(per_person_windows.items(), 2):
        if k1[0] == k2[0]:
            diff_w[(k1[1], k2[1])] += (np.stack(w1) @ np.stack(w2).T).ravel().tolist()
    # frame level: single embeddings a window apart (same) / of two people in one clip (different)
    same_f: list[np.ndarray] = []
    diff_f: list[np.ndarray] = []
    for p in people:
        sim = p.embeddings @ p.embeddings.T
        frames = np.asarray(p.frames)
        same_f.append(sim[np.abs(frames[:, None] - frames[None, :]) >= WINDOW[p.clip]])
    for p, q in itertools.combinations(people, 2):
        if p.clip == q.clip:
            diff_f.append((p.embeddings @ q.embeddings.T).ravel())

    same = np.asarray(same_w)
    diff_all = np.concatenate([np.asarray(v) for v in diff_w.values()])
    print("\nsimilarity, window level (mean of", args.samples, "frames per window):")
    print("  same person     ", summary(same))
    print("  different people", summary(diff_all))
    print("  different-person pairs, highest first:")
    for pair, values in sorted(diff_w.items(), key=lambda kv: -max(kv[1]))[:8]:
        print(f"    {pair[0]:>12s} vs {pair[1]:<12s} max {max(values):.3f} p50 {np.median(values):.3f}")
    same_frames, diff_frames = np.concatenate(same_f), np.concatenate(diff_f)
    print("similarity, single frames:")
    print("  same person     ", summary(same_frames))
    print("  different people", summary(diff_frames))

    print("\nthreshold sweep (window level): false link = different pair >= t; missed = same pair < t")
    for t in (0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.985, 0.988, 0.99, 0.992, 0.995):
        print(
            f"  t={t:.3f}  false links {np.mean(diff_all >= t):7.2%} ({int(np.sum(diff_all >= t))}/{len(diff_all)})"
            f"  missed links {np.mean(same < t):7.2%} ({int(np.sum(same < t))}/{len(same)})"
            f"  | frames: false {np.mean(diff_frames >= t):7.2%} missed {np.mean(same_frames < t):7.2%}"
        )
    t = args.threshold
    print(
        f"\nCHOSEN threshold {t:.3f} margin {args.margin:.3f}: window-level false link rate "
        f"{np.mean(diff_all >= t):.2%} ({int(np.sum(diff_all >= t))}/{len(diff_all)}), missed link rate "
        f"{np.mean(same < t):.2%} ({int(np.sum(same < t))}/{len(same)}); single frames: false "
        f"{np.mean(diff_frames >= t):.3%}, missed {np.mean(same_frames < t):.2%}"
    )
    replay(people, args)


def replay(people: list[Person], args: argparse.Namespace) -> None:
    """Through the real cache: (a) one-by-one in order, every link is false; (b) 'returns': each person's
    first 40 % remembered as an ended track, their last 40 % queried, with everyone else in the gallery."""
    client = connect(port=args.redis_port, timeout_s=1.0)
    try:
        client.ping()
    except redis.RedisError as error:
        print(f"\nreplay skipped: no Redis on 127.0.0.1:{args.redis_port} ({error})")
        return
    encoder_name = ColorHistogramEncoder().name
    channel = f"bench-reid-{os.getpid()}"

    def cache() -> ReidCache:
        return ReidCache(
            client, channel, min_similarity=args.threshold, min_margin=args.margin, encoder_name=encoder_name
        )

    def sample(p: Person, lo: float, hi: float) -> np.ndarray:
        a, b = int(len(p.frames) * lo), max(int(len(p.frames) * lo) + 1, int(len(p.frames) * hi))
        return p.embeddings[np.linspace(a, b - 1, args.samples).round().astype(int)]

    try:
        print("\nreplay through ReidCache (Redis 127.0.0.1), threshold", args.threshold, "margin", args.margin)
        visits = [p for p in people if p.clip == ONE_BY_ONE]
        reid = cache()
        false_links = 0
        for number, p in enumerate(visits, start=1):
            start_s = p.frames[0] / FPS[ONE_BY_ONE]
            # the first 2-4 s of the new track, once the person is fully in view
            result = reid.match(sample(p, 0.1, 0.3), now_s=start_s)
            false_links += result is not None
            print(
                f"  one-by-one visit {number}: gallery {number - 1} earlier visits -> "
                + (f"LINKED to track {result.track_id} ({result.similarity:.3f}, runner-up {result.runner_up:.3f})"
                   if result else "no link (correct)")
            )  # fmt: skip
            reid.remember(number, sample(p, 0.0, 1.0), p.frames[-1] / FPS[ONE_BY_ONE], np.zeros(4, np.float32))
        print(f"  one-by-one: {false_links} false links in {len(visits)} visits; ambiguous {reid.stats.ambiguous}")
        drop_keys(client, channel)

        correct = wrong = missed = 0
        for clip in (ONE_BY_ONE, STORE_AISLE, HEAD_POSE, FACE_WALKING):
            group = [p for p in people if p.clip == clip]
            reid = cache()
            for track, p in enumerate(group):
                reid.remember(track, sample(p, 0.0, 0.4), 0.0, np.zeros(4, np.float32))
            for track, p in enumerate(group):
                result = reid.match(sample(p, 0.6, 1.0), now_s=1.0)
                outcome = "none" if result is None else ("correct" if result.track_id == track else "WRONG")
                correct += outcome == "correct"
                wrong += outcome == "WRONG"
                missed += outcome == "none"
                detail = f" ({result.similarity:.3f}, runner-up {result.runner_up:.3f})" if result else ""
                print(f"  return {clip[:12]:12s} {p.label:12s} gallery {len(group)} -> {outcome}{detail}")
            drop_keys(client, channel)
        total = correct + wrong + missed
        print(f"  returns: {correct}/{total} linked correctly, {wrong} wrong links, {missed} missed")
    finally:
        drop_keys(client, channel)
        client.close()


def drop_keys(client: redis.Redis, channel: str) -> None:
    keys = list(client.scan_iter(f"footfall:{channel}:*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
