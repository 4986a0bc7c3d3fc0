"""What one frame costs the person detector through Triton: the full frame vs the worker's letterbox.

Runnable from the worker image: it imports only numpy, OpenCV, tritonclient and footfall_worker, and needs no
footage (frames are synthetic, or a .npy made elsewhere), so the same measurement runs against `make triton`
on this host and inside a pod against the cluster's Triton:

    python -m footfall_worker.inference.transport_bench --url triton:8001 --frames 20 --rounds 3 [--npy F] [--json]

Modes (`MODES`): `full_grpc`, the whole frame over gRPC and letterboxed inside Triton (the worker's path before
it letterboxed); `letterbox_grpc`, letterboxed in the worker and only the model-sized canvas over gRPC (the pod
shape); `letterbox_shm`, the same canvas through system shared memory (Triton on the same host only). The
modes alternate frame by frame, so load from elsewhere falls on all of them alike. `bench/pod_inference_bench.py`
adds onnxruntime in-process on the same model file and real footage, through `time_modes`.
"""

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter

import cv2
import numpy as np
import tritonclient.grpc as grpcclient

from footfall_worker.detections import Detections
from footfall_worker.inference.letterbox import canvas_shape
from footfall_worker.inference.person_detector import (
    DETECTOR_INPUT,
    DETECTOR_OUTPUTS,
    DETECTOR_SIZE_PARAMETER,
    PersonDetector,
    detections_from_result,
)
from footfall_worker.inference.triton_client import TritonConnection
from footfall_worker.settings import TritonSettings

MODES = ("full_grpc", "letterbox_grpc", "letterbox_shm")
POD_MODES = ("full_grpc", "letterbox_grpc")  # what works across pods (no shared memory)
PERSON = 0.5  # score of a counted person, for the `people` sanity total


@dataclass
class Mode:
    """One way of getting a frame's people: `detect(frame)` -> people found (score >= 0.5)."""

    name: str
    detect: Callable[[np.ndarray], int]
    tensor_bytes: Callable[[np.ndarray], int]  # bytes of the image tensor one request carries, for a frame
    transport: str  # "grpc", "shm" or "in-process"


@dataclass
class ModeStats:
    """Per-frame cost of one mode over `frames` frames (warm-up excluded)."""

    mode: str
    transport: str
    frames: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    tensor_bytes: int  # of one request's image tensor (the first frame's shape)
    people: int  # boxes with score >= 0.5 over all timed frames: equal across modes when they agree

    def line(self, baseline: "ModeStats | None" = None) -> str:
        ratio = f"  {self.p50_ms / baseline.p50_ms:5.2f}x {baseline.mode}" if baseline is not None else ""
        return (
            f"  {self.mode:18s} mean {self.mean_ms:6.1f} ms  p50 {self.p50_ms:6.1f} ms  p95 {self.p95_ms:6.1f} ms"
            f"  {self.tensor_bytes / 1e6:5.2f} MB/request ({self.transport:10s}) {self.people:4d} people{ratio}"
        )


def synthetic_frames(count: int, height: int = 1080, width: int = 1920, seed: int = 0) -> np.ndarray:
    """`count` distinct frame-like BGR images (gradient, blocks, noise): a stand-in where no footage is at hand.

    They cost the transport exactly what real frames of that size do; the detector finds few people in them.
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        phase = rng.uniform(0, 2 * np.pi, 3)
        for c in range(3):
            frames[i, :, :, c] = (127 + 100 * np.sin(xs / width * 6 + ys / height * 3 + phase[c])).astype(np.uint8)
        for _ in range(12):
            x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 80))
            w, h = int(rng.integers(20, width // 6)), int(rng.integers(40, height // 3))
            frames[i, y : y + h, x : x + w] = rng.integers(0, 256, 3, dtype=np.uint8)
        frames[i] = cv2.add(frames[i], rng.integers(0, 12, (height, width, 3), dtype=np.uint8))
    return frames


def load_frames(path: str | Path) -> np.ndarray:
    """Frames from a .npy file: uint8 `[N, H, W, 3]` BGR (or one `[H, W, 3]` frame)."""
    frames = np.load(path, allow_pickle=False)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise ValueError(f"{path}: expected uint8 frames [N, H, W, 3] (BGR), got {frames.dtype} {list(frames.shape)}")
    return frames


def detect_full_frame(connection: TritonConnection, frame: np.ndarray, input_size: int | None = None) -> Detections:
    """The whole frame over gRPC, letterboxed inside Triton (boxes come back in frame pixels)."""
    tensor = grpcclient.InferInput(DETECTOR_INPUT, [1, *frame.shape], "UINT8")
    tensor.set_data_from_numpy(np.ascontiguousarray(frame[None]))
    parameters = {DETECTOR_SIZE_PARAMETER: input_size} if input_size is not None else None
    model = connection.settings.detector_model
    result = connection.infer(model, [tensor], DETECTOR_OUTPUTS, parameters)  # type: ignore[arg-type]
    return detections_from_result(result, 1, model)[0]


@contextmanager
def grpc_modes(url: str, names: Sequence[str] = POD_MODES, input_size: int | None = None) -> Iterator[list[Mode]]:
    """The Triton modes `names` (of `MODES`) against `url`, each on its own connection; closed on exit."""
    unknown = [name for name in names if name not in MODES]
    if unknown:
        raise ValueError(f"unknown mode(s) {unknown}; choose from {list(MODES)}")
    closers: list[Callable[[], None]] = []
    modes: list[Mode] = []
    try:
        for name in names:
            settings = TritonSettings(
                url=url, shared_memory="on" if name == "letterbox_shm" else "off", detector_input_size=input_size
            )
            connection = TritonConnection(settings)
            closers.append(connection.close)
            connection.wait_until_ready([settings.detector_model], timeout_s=60)
            if name == "full_grpc":
                modes.append(
                    Mode(
                        name,
                        lambda frame, c=connection: len(detect_full_frame(c, frame, input_size).above(PERSON)),
                        lambda frame: frame.nbytes,
                        "grpc",
                    )
                )
                continue
            detector = PersonDetector(connection)
            closers.insert(0, detector.close)
            side = detector.input_size
            modes.append(
                Mode(
                    name,
                    lambda frame, d=detector: len(d.detect_one(frame).above(PERSON)),
                    lambda frame, s=side: 3 * math.prod(canvas_shape(frame.shape[0], frame.shape[1], s)),
                    "shm" if name == "letterbox_shm" else "grpc",
                )
            )
        yield modes
    finally:
        for close in closers:
            close()


def time_modes(
    modes: Sequence[Mode], frames: Sequence[np.ndarray], rounds: int = 1, warmup: int = 3
) -> list[ModeStats]:
    """Time each mode on every frame, `rounds` times over, the modes alternating (order rotated per frame).

    The first `warmup` frames of every mode are not counted (connections, shared-memory registration, first
    allocations).
    """
    if not frames:
        raise ValueError("no frames to time")
    latencies: dict[str, list[float]] = {mode.name: [] for mode in modes}
    people = dict.fromkeys(latencies, 0)
    for mode in modes:
        for frame in list(frames)[:warmup]:
            mode.detect(frame)
    step = 0
    for _ in range(rounds):
        for frame in frames:
            order = list(modes[step % len(modes) :]) + list(modes[: step % len(modes)])
            step += 1
            for mode in order:
                started = perf_counter()
                found = mode.detect(frame)
                latencies[mode.name].append((perf_counter() - started) * 1000)
                people[mode.name] += found
    stats = []
    for mode in modes:
        values = np.asarray(latencies[mode.name])
        stats.append(
            ModeStats(
                mode=mode.name,
                transport=mode.transport,
                frames=len(values),
                mean_ms=float(values.mean()),
                p50_ms=float(np.percentile(values, 50)),
                p95_ms=float(np.percentile(values, 95)),
                tensor_bytes=mode.tensor_bytes(frames[0]),
                people=people[mode.name],
            )
        )
    return stats


def measure(
    url: str,
    frames: Sequence[np.ndarray] | np.ndarray,
    modes: Sequence[str] = POD_MODES,
    rounds: int = 1,
    warmup: int = 3,
    input_size: int | None = None,
) -> list[ModeStats]:
    """Per-frame cost of the Triton `modes` on `frames` (BGR uint8 [H, W, 3], e.g. 1080p) against `url`."""
    with grpc_modes(url, modes, input_size) as built:
        return time_modes(built, list(frames), rounds, warmup)


def report(stats: Sequence[ModeStats], baseline: str | None, header: str, as_json: bool) -> str:
    """One line per mode with its ratio to `baseline` (a mode name), or the same as JSON."""
    base = next((s for s in stats if s.mode == baseline), None)
    if as_json:
        ratios = {s.mode: s.p50_ms / base.p50_ms for s in stats} if base is not None else {}
        return json.dumps(
            {"header": header, "baseline": baseline, "modes": [asdict(s) for s in stats], "ratios_p50": ratios}
        )
    return "\n".join([header, *(s.line(base if s is not base else None) for s in stats)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=TritonSettings().url, help="Triton gRPC host:port")
    parser.add_argument("--frames", type=int, default=20, help="synthetic 1920x1080 frames (without --npy)")
    parser.add_argument("--npy", help="frames from this .npy (uint8 [N, H, W, 3] BGR) instead")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the frames")
    parser.add_argument("--modes", default=",".join(POD_MODES), help=f"comma list of {', '.join(MODES)}")
    parser.add_argument("--input-size", type=int, default=None, help="detector input side (default: the model's)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args(argv)
    frames = load_frames(args.npy) if args.npy else synthetic_frames(args.frames)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    stats = measure(args.url, frames, modes, args.rounds, input_size=args.input_size)
    height, width = frames.shape[1:3]
    header = f"person_detector via Triton {args.url}: {len(frames)} frames {width}x{height} x {args.rounds} rounds"
    print(report(stats, "full_grpc" if "full_grpc" in modes else None, header, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
