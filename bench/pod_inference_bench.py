"""The person detector in the pod shape: what a 1080p frame costs in-process, as a full frame over gRPC (the
old path), letterboxed in the worker over gRPC (a worker pod talking to a Triton pod) and letterboxed through
system shared memory (Triton on the same host). Printed, never asserted.

    make triton && .venv/bin/python bench/pod_inference_bench.py --url 127.0.0.1:8001 [--json]
    .venv/bin/python bench/pod_inference_bench.py --pod     # and a worker pod -> Triton pod on the test node

With `--pod` the same frames also go, in the same run, from a pod of the worker image to a Triton pod on the
node of hack/cluster.sh (brought up and given the images when needed; the chart installed in a namespace of
its own, removed after): the cost a store's cluster pays per frame, next to the in-process baseline.

Frames: store-aisle-detection.mp4 upscaled to 1920x1080 (or --dir with images, or --npy). The Triton part is
`footfall_worker.inference.transport_bench` (numpy, OpenCV, tritonclient only), which runs inside a pod from the
worker image too; this script adds onnxruntime in-process on the same model file (models/person_detector/1 via
yolox.py, as bench/inference_bench.py does) and real footage. `--save-npy F` writes the frames for such a pod.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from inference_bench import ROOT, load_local_model, read_frames

from footfall_worker.inference import PersonDetector, TritonConnection
from footfall_worker.inference.transport_bench import (
    MODES,
    PERSON,
    POD_MODES,
    Mode,
    ModeStats,
    grpc_modes,
    load_frames,
    report,
    time_modes,
)
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


BENCH_NAMESPACE = "footfall-bench"
FRAMES_DIR = Path("/var/lib/footfall-bench")  # readable by the pod's non-root user through a hostPath volume


def _kubectl(*args: str, input_text: str | None = None, timeout_s: float = 300) -> str:
    bin_dir = subprocess.run([str(ROOT / "hack/kube.sh"), "bin"], capture_output=True, text=True, check=True).stdout
    env_text = subprocess.run([str(ROOT / "hack/cluster.sh"), "env"], capture_output=True, text=True).stdout
    kubeconfig = next(line.split("=", 1)[1] for line in env_text.splitlines() if "KUBECONFIG=" in line)
    tool = "helm" if args[0] == "helm" else "kubectl"
    rest = args[1:] if args[0] == "helm" else args
    done = subprocess.run(
        [str(Path(bin_dir.strip()) / tool), f"--kubeconfig={kubeconfig}", *rest],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tool} {' '.join(rest)}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def pod_stats(frames: np.ndarray, rounds: int) -> list[ModeStats]:
    """The gRPC modes measured from a worker-image pod against the chart's Triton pod, on the same frames."""
    for script in ("cluster.sh", "images.sh"):
        step = ["up"] if script == "cluster.sh" else ["all"]
        subprocess.run([str(ROOT / "hack" / script), *step], check=True, stdout=subprocess.DEVNULL)
    FRAMES_DIR.mkdir(parents=True, exist_ok=True)
    FRAMES_DIR.chmod(0o755)
    with tempfile.NamedTemporaryFile(dir=FRAMES_DIR, suffix=".npy", delete=False) as file:
        np.save(file, frames)
    npy = Path(file.name)
    npy.chmod(0o644)
    release, chart = "footfall-bench", str(ROOT / "charts/footfall")
    try:
        _kubectl(
            "helm", "upgrade", "--install", release, chart, "-n", BENCH_NAMESPACE, "--create-namespace", "--wait",
            "--set", "connections.create=true", "--set", "connections.databaseUrl=postgresql://bench@10.244.0.1/none",
            "--set", "connections.redisUrl=redis://10.244.0.1:6379/15",
        )  # fmt: skip
        url = f"{release}-triton.{BENCH_NAMESPACE}.svc:8001"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "transport-bench", "namespace": BENCH_NAMESPACE},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                "containers": [
                    {
                        "name": "bench",
                        "image": "footfall:0.1.0",
                        "imagePullPolicy": "Never",
                        "command": ["python", "-m", "footfall_worker.inference.transport_bench"],
                        "args": ["--url", url, "--npy", f"/frames/{npy.name}", "--rounds", str(rounds), "--json"],
                        "volumeMounts": [{"name": "frames", "mountPath": "/frames", "readOnly": True}],
                    }
                ],
                "volumes": [{"name": "frames", "hostPath": {"path": str(FRAMES_DIR), "type": "Directory"}}],
            },
        }
        _kubectl("delete", "pod", "transport-bench", "-n", BENCH_NAMESPACE, "--ignore-not-found", "--wait=true")
        _kubectl("apply", "-f", "-", input_text=json.dumps(pod))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            phase = _kubectl("get", "pod", "transport-bench", "-n", BENCH_NAMESPACE, "-o", "jsonpath={.status.phase}")
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(2)
        logs = _kubectl("logs", "transport-bench", "-n", BENCH_NAMESPACE)
        if phase != "Succeeded":
            raise SystemExit(f"the bench pod ended {phase or 'not at all'}:\n{logs[-3000:]}")
        result = json.loads(logs.strip().splitlines()[-1])
        return [ModeStats(**{**mode, "mode": f"pod_{mode['mode']}"}) for mode in result["modes"]]
    finally:
        npy.unlink(missing_ok=True)
        # the release stays only as long as the bench
        _kubectl("helm", "uninstall", release, "-n", BENCH_NAMESPACE, "--wait")
        _kubectl("delete", "namespace", BENCH_NAMESPACE, "--wait=false")


def server_breakdown(url: str, frames: np.ndarray, rounds: int) -> str:
    """Where a letterboxed request's time goes, from Triton's own statistics: requests alone (no other mode
    between them), the client's wall time next to the server's queue, input, model (the python backend: its IPC
    and yolox.py) and output times per request."""
    settings = TritonSettings(url=url, shared_memory="off")
    connection = TritonConnection(settings)
    detector = PersonDetector(connection)

    def totals() -> dict[str, tuple[int, int]]:
        stats = connection.inference_statistics(settings.detector_model)["model_stats"][0]["inference_stats"]
        return {key: (int(value.get("count", 0)), int(value.get("ns", 0))) for key, value in stats.items()}

    try:
        for frame in frames[:3]:
            detector.detect_one(frame)
        before, wall = totals(), []
        for _ in range(rounds):
            for frame in frames:
                started = time.perf_counter()
                detector.detect_one(frame)
                wall.append(time.perf_counter() - started)
        after = totals()
    finally:
        detector.close()
        connection.close()
    cells = []
    for key in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        count = after[key][0] - before[key][0]
        cells.append(f"{key} {(after[key][1] - before[key][1]) / max(count, 1) / 1e6:.2f}")
    return (
        f"letterbox_grpc alone, {len(wall)} requests: client p50 {statistics.median(wall) * 1000:.2f} ms; "
        f"Triton per request (ms): {', '.join(cells)}"
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
    parser.add_argument("--pod", action="store_true", help="also from a worker pod to a Triton pod on the test node")
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
    if args.pod:
        stats += pod_stats(frames, args.rounds)
    height, width = frames.shape[1:3]
    header = (
        f"person_detector, pod shape: {len(frames)} frames {width}x{height} x {args.rounds} rounds, Triton {args.url}"
        f"{' and a Triton pod (pod_*: from a worker pod, ' + ', '.join(POD_MODES) + ')' if args.pod else ''},"
        " 1 onnxruntime thread in-process and per Triton instance; ratio of p50 to in-process"
    )
    print(report(stats, "in_process", header, args.json))
    if not args.json:
        print(server_breakdown(args.url, frames, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
