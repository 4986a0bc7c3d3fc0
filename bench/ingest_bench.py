"""Ingest numbers: decode cost per frame at native size, 720p and 1080p, and on a real camera's streams
(hack/camera-streams.sh: 1080p25 H.264, 4 MP H.265, D1 sub-stream); what decoding only the processed frames
saves (the reader converts only the frames it hands on: `grab()` for the rest); the CameraReader's overhead
against a bare `VideoCapture.read()` loop on the same stream. Printed, never asserted.

    make bench      (runs this after the inference bench)
    .venv/bin/python bench/ingest_bench.py --seconds 6

"% of a core" is CPU time per frame times the frame rate: what one channel's decoding costs at that rate.
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2

from footfall_contract.config import RtspUrl
from footfall_worker.ingest.capture import open_capture
from footfall_worker.ingest.rtsp_reader import CameraReader
from footfall_worker.settings import ReaderSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.camera_sim import camera_streams  # noqa: E402 - the repository root is on the path now

FOOTAGE = ROOT / "input/footage/intel"
CACHE = Path(os.environ.get("FOOTFALL_CACHE", Path.home() / ".cache/footfall")) / "bench"
CLIPS = ["one-by-one-person-detection.mp4", "store-aisle-detection.mp4"]
SCALED = {"720p": (1280, 720), "1080p": (1920, 1080)}
BENCH_PORT = int(os.environ.get("FOOTFALL_BENCH_CAMERA_PORT", "18554"))


def scaled_clip(name: str, label: str) -> Path:
    """The clip re-encoded at a camera resolution (H.264, 1 s GOP, no B-frames), cached."""
    width, height = SCALED[label]
    target = CACHE / f"{Path(name).stem}-{label}.mp4"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(FOOTAGE / name), "-vf", f"scale={width}:{height}",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p",
             str(target)],
            check=True,
        )  # fmt: skip
    return target


def decode_cost(path: Path) -> tuple[int, float, float, float]:
    """Decode the whole file as fast as possible: (frames, wall ms/frame, cpu ms/frame, file fps)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    frames = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while capture.read()[0]:
        frames += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    capture.release()
    return frames, 1000 * wall / frames, 1000 * cpu / frames, fps


def skipping_cost(path: Path, every: int, convert_skipped: bool) -> float:
    """CPU ms per processed frame when every `every`-th frame is processed, the others decoded and either
    converted to BGR and thrown away (`read()`, before) or not converted (`grab()`, the reader's way)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    processed = index = 0
    cpu = time.process_time()
    while True:
        take = index % every == 0
        ok = capture.read()[0] if take or convert_skipped else capture.grab()
        if not ok:
            break
        processed += take
        index += 1
    cpu = time.process_time() - cpu
    capture.release()
    return 1000 * cpu / max(processed, 1)


def bare_loop(url: RtspUrl, seconds: float) -> tuple[int, float]:
    """A plain read loop on the stream: (frames, cpu seconds)."""
    capture = open_capture(url, 5, 5)
    for _ in range(20):  # past FFmpeg's probe burst
        capture.read()
    frames, cpu, deadline = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < deadline and capture.read()[0]:
        frames += 1
    cpu = time.process_time() - cpu
    capture.release()
    return frames, cpu


def reader_loop(url: RtspUrl, seconds: float) -> tuple[int, float]:
    """The CameraReader with a consumer taking every frame: (frames, cpu seconds)."""
    reader = CameraReader("bench", url, ReaderSettings(_env_file=None)).start()  # type: ignore[call-arg]
    for _ in range(20):
        reader.get(timeout=10)
    frames, cpu, deadline = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reader.get(timeout=0.5) is not None:
            frames += 1
    cpu = time.process_time() - cpu
    reader.stop()
    return frames, cpu


def reader_file_throughput(path: Path) -> float:
    """Frames per second the reader delivers from a file replayed as fast as possible."""
    settings = ReaderSettings(_env_file=None, replay_realtime=False, replay_exhaustive=True)  # type: ignore[call-arg]
    reader = CameraReader("bench", path, settings).start()
    frames, started = 0, time.perf_counter()
    while reader.get(timeout=10) is not None:
        frames += 1
    elapsed = time.perf_counter() - started
    reader.stop()
    return frames / elapsed


def camera(command: str, *args: str) -> None:
    subprocess.run([str(ROOT / "hack/cameras.sh"), command, *args], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="per live measurement")
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        print("ingest bench: ffmpeg is missing (hack/install-gstreamer.sh installs it)", file=sys.stderr)
        return 2

    print("Decode cost per frame (OpenCV FFMPEG backend, file read as fast as possible, 1 process):")
    files = [(f"{name} native", FOOTAGE / name) for name in CLIPS]
    files += [(f"{CLIPS[0]} {label}", scaled_clip(CLIPS[0], label)) for label in SCALED]
    streams = camera_streams()
    real = sorted(streams.glob("*.mp4"))
    files += [(f"camera stream {path.name}", path) for path in real]
    for label, path in files:
        frames, wall_ms, cpu_ms, fps = decode_cost(path)
        width = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_WIDTH))
        print(
            f"  {label:48s} {width:5d} px wide  {wall_ms:6.2f} ms wall  {cpu_ms:6.2f} ms cpu/frame  "
            f"= {cpu_ms * fps / 10:5.1f} % of a core at its {fps:.0f} fps, {cpu_ms * 25 / 10:5.1f} % at 25 fps"
        )

    print(
        "Decode only what is processed: cpu ms per processed frame when every N-th frame of a 25 fps stream is "
        "processed; before = the skipped frames converted to BGR too (read), after = only decoded (grab):"
    )
    for path in real:
        cells = []
        for every in (1, 2, 5):
            before, after = skipping_cost(path, every, True), skipping_cost(path, every, False)
            cells.append(f"every {every} ({25 / every:4.1f} fps): {before:6.2f} -> {after:6.2f}")
        print(f"  {path.name:28s} " + "   ".join(cells))

    clip = scaled_clip(CLIPS[0], "720p")
    print(f"Reader overhead on a live 720p RTSP stream (simulator on 127.0.0.1:{BENCH_PORT}, {args.seconds:.0f} s):")
    camera("start", "bench-720p", str(BENCH_PORT), str(clip))
    try:
        url = RtspUrl(f"rtsp://127.0.0.1:{BENCH_PORT}/cam/realmonitor?channel=1&subtype=0")
        bare_frames, bare_cpu = bare_loop(url, args.seconds)
        reader_frames, reader_cpu = reader_loop(url, args.seconds)
    finally:
        camera("stop", "bench-720p")
    bare_per_frame = 1000 * bare_cpu / max(bare_frames, 1)
    reader_per_frame = 1000 * reader_cpu / max(reader_frames, 1)
    print(
        f"  bare VideoCapture.read() loop   {bare_frames / args.seconds:5.1f} fps  {bare_per_frame:6.2f} ms cpu/frame"
    )
    reader_fps_live = reader_frames / args.seconds
    print(f"  CameraReader + consumer         {reader_fps_live:5.1f} fps  {reader_per_frame:6.2f} ms cpu/frame")
    print(f"  reader/bare cpu per frame: {reader_per_frame / bare_per_frame:.2f}")

    bare_fps = 1000 / decode_cost(clip)[1]
    reader_fps = reader_file_throughput(clip)
    print(
        f"Reader throughput on the 720p file, as fast as possible: {reader_fps:.0f} fps vs bare loop "
        f"{bare_fps:.0f} fps (ratio {reader_fps / bare_fps:.2f})"
    )
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
