"""Inference numbers: Triton vs onnxruntime in-process on the same frames, 1 and 4 clients, gRPC vs
shared memory, and the gender classifier's cost per crop. Printed, never asserted.

    make bench            (starts Triton on 127.0.0.1:8001 first)
    .venv/bin/python bench/inference_bench.py --seconds 5

The in-process baseline imports the very modules Triton's python backend runs (models/*/1/*.py), with
the same thread count as the Triton instance, so the ratio is Triton's own overhead (serialisation,
gRPC or shared memory, scheduling).
"""

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from footfall_worker.inference import GenderClassifier, PersonDetector, TritonConnection
from footfall_worker.inference.gender_classifier import fit_into_canvas, person_crops
from footfall_worker.settings import TritonSettings

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "input/footage/intel/one-by-one-person-detection.mp4"
GENDER_CLIP = ROOT / "input/footage/intel/head-pose-face-detection-female-and-male.mp4"
# Not redistributable: read from ../shared only when it is there, never committed.
DENSE_CLIP = ROOT.parent / "shared/footage/street/dense-street-1080p.mp4"
# Detectors own shared-memory regions; free them when the bench ends.
_open_detectors: list[PersonDetector] = []


@dataclass
class Result:
    name: str
    latencies_ms: list[float]
    items: int
    wall_s: float

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat)
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        return f"  {self.name:46s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {self.items / self.wall_s:7.1f} /s"


def read_frames(path: Path, count: int, every: int = 1) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(frame)
        index += 1
    capture.release()
    return frames


def run_clients(name: str, clients: int, seconds: float, make_call: Callable[[], Callable[[int], int]]) -> Result:
    """`clients` threads, each calling its own `call(i) -> items` in a loop for `seconds`."""
    calls = [make_call() for _ in range(clients)]
    for call in calls:
        call(0)  # warm-up: connections, shared-memory registration, first-run allocations
    latencies: list[float] = []
    items = [0] * clients
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def loop(slot: int) -> None:
        barrier.wait()
        i = 0
        mine: list[float] = []
        while time.perf_counter() < stop_at[0]:
            started = time.perf_counter()
            items[slot] += calls[slot](i)
            mine.append((time.perf_counter() - started) * 1000)
            i += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=loop, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.perf_counter() + seconds)
    began = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return Result(name, latencies, sum(items), time.perf_counter() - began)


def load_local_model(model: str, module: str):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "models" / model / "1"))
    return __import__(module)


def detector_benches(frames: list[np.ndarray], label: str, url: str, seconds: float) -> list[Result]:
    yolox = load_local_model("person_detector", "yolox")
    local = yolox.PersonDetector(str(ROOT / "models/person_detector/1/model.onnx"))
    results = [
        run_clients(
            f"{label} onnxruntime in-process, 1 client",
            1,
            seconds,
            lambda: lambda i: len(local.detect([frames[i % len(frames)]])) or 1,
        )
    ]
    for mode in ("off", "on"):
        transport = "gRPC" if mode == "off" else "shared memory"
        for clients in (1, 4):

            def make(mode: str = mode) -> Callable[[int], int]:
                detector = PersonDetector(TritonConnection(TritonSettings(url=url, shared_memory=mode)))
                _open_detectors.append(detector)
                return lambda i: len(detector.detect([frames[i % len(frames)]])) or 1

            results.append(run_clients(f"{label} Triton {transport}, {clients} client(s)", clients, seconds, make))
    return results


def gender_benches(url: str, seconds: float, batch: int = 8) -> tuple[list[Result], int]:
    frames = read_frames(GENDER_CLIP, 56)
    connection = TritonConnection(TritonSettings(url=url))
    detector = PersonDetector(connection)
    _open_detectors.append(detector)
    crops = []
    for frame in frames:
        crops.extend(c for c in person_crops(frame, detector.detect_one(frame).above(0.5).xyxy) if c is not None)
    batches = [crops[i : i + batch] for i in range(0, len(crops) - batch + 1, batch)]
    face_gender = load_local_model("gender_classifier", "face_gender")
    local = face_gender.GenderClassifier(
        str(ROOT / "models/gender_classifier/1/face_detector.onnx"), str(ROOT / "models/gender_classifier/1/model.onnx")
    )
    canvases = [np.stack([fit_into_canvas(c, 256, 128)[0] for c in b]) for b in batches]
    classifier = GenderClassifier(connection)
    return [
        run_clients(
            f"gender onnxruntime in-process, batch {batch}",
            1,
            seconds,
            lambda: lambda i: len(local.predict(canvases[i % len(canvases)]).quality),
        ),
        run_clients(
            f"gender Triton gRPC, batch {batch}",
            1,
            seconds,
            lambda: lambda i: len(classifier.classify(batches[i % len(batches)])),
        ),
    ], batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=TritonSettings().url)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    args = parser.parse_args()
    connection = TritonConnection(TritonSettings(url=args.url))
    connection.wait_until_ready(["person_detector", "gender_classifier"], timeout_s=120)

    print(f"Footfall inference bench — Triton {args.url}, CPU, {args.seconds:.0f} s per line")
    print("person_detector (YOLOX-nano 416, 1 onnxruntime thread in Triton and in-process):")
    clip = read_frames(CLIP, 40, every=25)
    results = detector_benches(clip, "768x432", args.url, args.seconds)
    if DENSE_CLIP.exists():
        results += detector_benches(read_frames(DENSE_CLIP, 8), "1920x1080", args.url, args.seconds)
    for result in results:
        print(result.row())
    for size in ("768x432", "1920x1080"):
        by_name = {r.name: r for r in results if r.name.startswith(size)}
        if not by_name:
            continue
        local = statistics.median(by_name[f"{size} onnxruntime in-process, 1 client"].latencies_ms)
        for transport in ("gRPC", "shared memory"):
            triton = statistics.median(by_name[f"{size} Triton {transport}, 1 client(s)"].latencies_ms)
            print(
                f"  {size} Triton/in-process latency ratio ({transport}): {triton / local:.2f}"
                f" (+{triton - local:.1f} ms per frame)"
            )

    gender_results, batch = gender_benches(args.url, args.seconds)
    print("gender_classifier (YuNet + alignment + gender-v1, person crops fitted into 256x128):")
    for result in gender_results:
        per_crop = statistics.median(result.latencies_ms) / batch
        print(f"{result.row()}  = {per_crop:.2f} ms per crop")
    for detector in _open_detectors:
        detector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
