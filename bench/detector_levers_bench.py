"""Person detector levers, in-process: runtime (onnxruntime / OpenVINO), int8, input size, canvas shape. Printed,
never asserted.

    make bench                                   (runs it in the bench venv, which has openvino and onnx)
    $(hack/bench-venv.sh) bench/detector_levers_bench.py --repeats 3

Every lever runs the code Triton's python backend runs (models/person_detector/1/yolox.py: letterbox, network,
decode, NMS) on one thread, on the same 720p frames (the four clips of input/footage/intel upscaled to 1280x720,
even frame indices; plus ../shared/footage/street when present, never committed). Timing alternates the levers
frame by frame, so load from other processes falls on all of them alike; ms/frame is the median over all frames
and repeats. Agreement is against the default path (onnxruntime fp32, 416, a frame's canvas padded only to a
multiple of 32: 416x256 for these 16:9 frames; "square canvas" is YOLOX's own 416x416) on the same frames:
person boxes at score >= 0.5, matched greedily (highest reference score first) at IoU >= 0.5; recall = reference
boxes found, precision = boxes that match a reference box, |dscore| = mean score difference of matched boxes,
IoU min = worst matched box.

In-process numbers are not the served ones: OpenVINO's 1.10x here was a draw through Triton with 4 clients
(models/README.md has both).

Levers that need a package this venv lacks are printed as skipped: openvino (the Triton venv and the bench venv
have it), onnx (for the int8 copies made by hack/quantize-detector.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "person_detector" / "1"
sys.path.insert(0, str(MODEL_DIR))  # the sibling module Triton's python backend imports (as tests/models does)

from yolox import PersonDetector  # noqa: E402
from yolox_runtimes import openvino_available  # noqa: E402

MODEL = MODEL_DIR / "model.onnx"
CLIPS = sorted((ROOT / "input" / "footage" / "intel").glob("*.mp4"))
# Not redistributable: read from ../shared only when it is there, never committed.
STREET = ROOT.parent / "shared" / "footage" / "street" / "dense-street-1080p.mp4"
SCORE = 0.5
IOU = 0.5


def read_frames(path: Path, count: int, even_only: bool = True) -> list[np.ndarray]:
    """Up to ``count`` frames spread over the clip (even indices: hack/quantize-detector.py calibrates on odd
    ones), resized to 1280x720."""
    capture = cv2.VideoCapture(str(path))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if even_only:
        wanted = {2 * int(k) for k in np.linspace(0, (total - 1) // 2, count)}
    else:
        wanted = {int(k) for k in np.linspace(0, total - 1, count)}
    frames, index = [], 0
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_LINEAR))
        index += 1
    capture.release()
    return frames


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class Agreement:
    """Counts of one lever's confident boxes against the fp32 reference."""

    matched: int = 0
    missed: int = 0
    extra: int = 0
    score_diffs: list[float] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)

    def add(self, ref: tuple[np.ndarray, np.ndarray], got: tuple[np.ndarray, np.ndarray]) -> None:
        ref_boxes, ref_scores = ref[0][ref[1] >= SCORE], ref[1][ref[1] >= SCORE]
        boxes, scores = got[0][got[1] >= SCORE], got[1][got[1] >= SCORE]
        taken = np.zeros(len(boxes), bool)
        ious = iou_matrix(ref_boxes, boxes) if len(ref_boxes) and len(boxes) else np.zeros((len(ref_boxes), 0))
        for i in np.argsort(-ref_scores, kind="stable"):
            candidates = np.where(taken, -1.0, ious[i]) if ious.shape[1] else np.zeros(0)
            j = int(np.argmax(candidates)) if candidates.size else -1
            if j >= 0 and candidates[j] >= IOU:
                taken[j] = True
                self.matched += 1
                self.score_diffs.append(abs(float(ref_scores[i] - scores[j])))
                self.ious.append(float(ious[i, j]))
            else:
                self.missed += 1
        self.extra += int((~taken).sum())

    def cells(self) -> str:
        ref = self.matched + self.missed
        recall = self.matched / ref if ref else 1.0
        got = self.matched + self.extra
        precision = self.matched / got if got else 1.0
        dscore = statistics.fmean(self.score_diffs) if self.score_diffs else 0.0
        worst = min(self.ious) if self.ious else 1.0
        return f"{recall:6.3f} {precision:6.3f} {self.missed:4d} {self.extra:4d} {dscore:6.3f} {worst:5.2f}"


@dataclass
class Lever:
    name: str
    make: Callable[[], PersonDetector]
    detector: PersonDetector | None = None
    skipped: str = ""
    times_ms: list[float] = field(default_factory=list)
    agreement: dict[str, Agreement] = field(default_factory=dict)


def int8_models(out_dir: Path) -> dict[str, Path]:
    spec = importlib.util.spec_from_file_location("quantize_detector", ROOT / "hack" / "quantize-detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.quantize(out_dir)


def levers(tmp: Path, with_int8: bool) -> list[Lever]:
    have_onnx = importlib.util.find_spec("onnx") is not None
    have_ov = openvino_available()
    int8: dict[str, Path] = {}
    if have_onnx and with_int8:
        print("making the int8 copies (hack/quantize-detector.py, about a minute) ...", flush=True)
        int8 = int8_models(tmp)

    def ort(path: Callable[[], str], size: int | None = None, square: bool = False) -> Callable[[], PersonDetector]:
        return lambda: PersonDetector(path(), runtime="onnxruntime", input_size=size, square=square)

    def ov(path: Callable[[], str], size: int | None = None, precision: str = "") -> Callable[[], PersonDetector]:
        return lambda: PersonDetector(path(), runtime="openvino", input_size=size, precision=precision)

    out = [
        Lever("onnxruntime fp32 416 (default)", ort(lambda: str(MODEL))),
        Lever("onnxruntime fp32 416 square canvas", ort(lambda: str(MODEL), square=True)),
        Lever("onnxruntime int8 static QDQ 416", ort(lambda: str(int8["qdq"]))),
        Lever("onnxruntime int8 dynamic 416", ort(lambda: str(int8["dynamic"]))),
        Lever("onnxruntime fp32 384", ort(lambda: str(MODEL), size=384)),
        Lever("onnxruntime fp32 320", ort(lambda: str(MODEL), size=320)),
        Lever("onnxruntime fp32 640", ort(lambda: str(MODEL), size=640)),
        Lever("openvino f32 416", ov(lambda: str(MODEL), precision="f32")),
        Lever("openvino default 416", ov(lambda: str(MODEL))),
        Lever("openvino int8 static QDQ 416", ov(lambda: str(int8["qdq"]))),
        Lever("openvino default 384", ov(lambda: str(MODEL), size=384)),
        Lever("openvino default 320", ov(lambda: str(MODEL), size=320)),
    ]
    for lever in out:
        if "int8" in lever.name and not int8:
            lever.skipped = "needs the onnx package" if not have_onnx else "--no-int8"
        elif lever.name.startswith("openvino") and not have_ov:
            lever.skipped = "needs openvino"
        else:
            lever.detector = lever.make()
            if lever.name.startswith("openvino default"):
                lever.name += f" ({lever.detector._runner.precision})"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames-per-clip", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="timing passes over all frames (medians over all)")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 levers (quantising takes a minute)")
    args = parser.parse_args()

    sets: dict[str, list[np.ndarray]] = {"intel": [f for c in CLIPS for f in read_frames(c, args.frames_per_clip)]}
    if STREET.is_file():
        sets["street"] = read_frames(STREET, 8, even_only=False)
    print("frames (1280x720): " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        all_levers = levers(Path(tmp), with_int8=not args.no_int8)
        active = [lever for lever in all_levers if lever.detector is not None]
        reference = active[0]
        for lever in active:
            lever.agreement = {k: Agreement() for k in sets}
        for name, frames in sets.items():
            for lever in active:
                lever.detector.detect([frames[0]])  # warm-up (first-run allocations)
            for repeat in range(args.repeats):
                for frame in frames:
                    results = []
                    for lever in active:
                        start = time.perf_counter()
                        result = lever.detector.detect([frame])[0]
                        lever.times_ms.append((time.perf_counter() - start) * 1000)
                        results.append(result)
                    if repeat == 0:
                        for lever, result in zip(active, results, strict=True):
                            lever.agreement[name].add(results[0], result)

    base = statistics.median(reference.times_ms)
    print(
        f"\nperson detector levers: one thread, in-process, letterbox + network + decode + NMS per 720p frame;"
        f"\nagreement with {reference.name} at score >= {SCORE}, IoU >= {IOU} (per frame set: recall precision"
        " missed extra |dscore| IoU-min)\n"
    )
    header = f"{'lever':44s} {'p50 ms':>7s} {'FPS':>6s} {'speed':>6s}"
    for name in sets:
        header += f"  | {name + ': rec   prec  miss extra |ds|  IoUmin':43s}"
    print(header)
    for lever in all_levers:
        if lever.detector is None:
            print(f"{lever.name:44s}  skipped: {lever.skipped}")
            continue
        p50 = statistics.median(lever.times_ms)
        row = f"{lever.name:44s} {p50:7.2f} {1000 / p50:6.1f} {base / p50:5.2f}x"
        for name in sets:
            row += f"  | {lever.agreement[name].cells():43s}"
        print(row)


if __name__ == "__main__":
    main()
