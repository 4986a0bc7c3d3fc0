"""The person detector in the pod shape: what a 1080p frame costs in-process, as a full frame over gRPC (the
old path), letterboxed in the worker over gRPC (a worker pod talking to a Triton pod) and letterboxed through
system shared memory (Triton on the same host). Printed, never asserted.

    make triton && .venv/bin/python bench/pod_inference_bench.py --url 127.0.0.1:8001 [--json]

Frames: store-aisle-detection.mp4 upscaled to 1920x1080 (or --dir with images, or --npy). The Triton part is
`footfall_worker.inference.transport_bench` (numpy, OpenCV, tritonclient only), which runs inside a pod from the
worker image too; this script adds onnxruntime in-process on the same model file (models/person_detector/1 via
yolox.py, as bench/inference_bench.py does) and real footage. `--save-npy F` writes the frames for such a pod.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from inference_bench import ROOT, load_local_model, read_frames

from footfall_worker.inference.transport_bench import MODES, PERSON, Mode, grpc_modes, load_frames, report, time_modes
from footfall_worker.settings import TritonSettings

CLIP = ROOT / "input/footage/intel/store-aisle-detection.mp4"
SIZE = (1920, 1080)


def footage_frames(count: int) -> np.ndarray:
    """`count` frames spread over the store-aisle clip (67 frames of 480x270), upscaled to 1920x1080."""
    frames = read_frames(CLIP, count, every=max(1, 67 // count))
    return np.stack([cv2.resize(frame, SIZE, interpolation=cv2.INTER_LINEAR) for frame in frames])


def directory_frames(directory: Path) -> np.ndarray:
    """Every image in `directory` (sorted by name), as decoded; they must share one size."""
    paths = sorted(p for p in directory.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})
    frames = [cv2.imread(str(path)) for path in paths]
    if not frames or any(frame is None for frame in frames):
        raise SystemExit(f"{directory}: no readable images (.jpg, .png, .bmp)")
    return np.stack(frames)


def in_process_mode() -> Mode:
    """onnxruntime on models/person_detector/1/model.onnx, one thread, letterbox + network + decode + NMS."""
    yolox = load_local_model("person_detector", "yolox")
    local = yolox.PersonDetector(str(ROOT / "models/person_detector/1/model.onnx"))
    return Mode(
        "in_process", lambda frame: int((local.detect([frame])[0][1] >= PERSON).sum()), lambda frame: 0, "in-process"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=TritonSettings().url)
    parser.add_argument("--frames", type=int, default=20, help="footage frames (1920x1080)")
    parser.add_argument("--dir", type=Path, help="frames from the images in this directory instead")
    parser.add_argument("--npy", type=Path, help="frames from this .npy (uint8 [N, H, W, 3]) instead")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the frames")
    parser.add_argument("--save-npy", type=Path, help="write the frames here (for the in-pod measurement) and exit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.npy:
        frames = load_frames(args.npy)
    elif args.dir:
        frames = directory_frames(args.dir)
    else:
        frames = footage_frames(args.frames)
    if args.save_npy:
        np.save(args.save_npy, frames)
        print(f"wrote {len(frames)} frames {list(frames.shape[1:])} to {args.save_npy}")
        return 0

    with grpc_modes(args.url, MODES) as triton_modes:
        stats = time_modes([in_process_mode(), *triton_modes], list(frames), args.rounds)
    height, width = frames.shape[1:3]
    header = (
        f"person_detector, pod shape: {len(frames)} frames {width}x{height} x {args.rounds} rounds, Triton {args.url},"
        " 1 onnxruntime thread in-process and per Triton instance; ratio of p50 to in-process"
    )
    print(report(stats, "in_process", header, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
