"""The physical limit a pipeline run is held against, measured on the stream its channels process.

Each stage runs alone on frames of that stream: decoding (OpenCV/FFmpeg, as the reader does), detection (through
Triton, as the worker calls it) and tracking. Two limits come of it:

- the issue's, one frame after another: `1 / (decode + detect + track)` in wall time (`limit_fps`);
- the machine's, for N channels of a camera sending R frames a second on C cores: every frame the camera sends
  is decoded whether it is processed or not (these streams have no frame the decoder may skip), so decoding
  (`grab`, no colour conversion, as the reader does for a frame it lets go) takes `N x R x grab CPU` of the cores
  first, and what is left processes frames at `convert + detect + track` CPU a frame (convert: `read` less
  `grab`; detect: Triton's processes and the client's together); never more than the cameras send
  (`machine_fps`). What the workers spend besides (threads, hand-off, writers, metrics) is what a run's ratio
  to it shows.

CPU times are what the machine pays: FFmpeg decodes on threads of its own, so decoding's CPU is above its wall
time, and Triton's CPU includes its request handling, not only the network.
"""

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
from proc_stats import triton_cpu_seconds

from footfall_worker.inference import PersonDetector, TritonConnection
from footfall_worker.settings import TrackerSettings, TritonSettings
from footfall_worker.tracking.byte_tracker import ByteTracker


@dataclass(frozen=True)
class StageCosts:
    """ms a frame of each stage alone: wall medians, and CPU means over the whole loop."""

    stream_fps: float
    decode_ms: float
    detect_ms: float
    track_ms: float
    decode_cpu_ms: float  # read(): decode and colour conversion
    grab_cpu_ms: float  # grab(): decode only
    detect_cpu_ms: float
    track_cpu_ms: float

    @property
    def limit_fps(self) -> float:
        """One frame after another, on one core: 1 / (decode + detect + track)."""
        return 1000.0 / (self.decode_ms + self.detect_ms + self.track_ms)

    def machine_fps(self, channels: int, cores: int) -> float:
        """Frames a second `channels` cameras can have processed on `cores`, every frame decoded."""
        decoding = channels * self.stream_fps * self.grab_cpu_ms / 1000.0  # cores
        per_frame_ms = max(0.0, self.decode_cpu_ms - self.grab_cpu_ms) + self.detect_cpu_ms + self.track_cpu_ms
        return min(channels * self.stream_fps, max(0.0, cores - decoding) * 1000.0 / per_frame_ms)

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "limit_fps": self.limit_fps}


def measure(clip: Path, frames: int = 150, kept: int = 40, rounds: int = 3) -> StageCosts:
    """Decoding is timed on frames let go at once, as the worker lets each go once processed: keeping every
    decoded 4 MP frame would time fresh memory being faulted in (16 ms of the 21 a frame, measured), not the
    decoder. Detection and tracking run on the first `kept` frames, decoding is timed on the next; detection
    `rounds` times over them, so that Triton's CPU, read from /proc in 10 ms ticks, is read over seconds."""
    capture = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    stream_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    images, decode_s = [], []
    cpu_started = 0.0
    while len(decode_s) < frames:
        started = time.perf_counter()
        ok, image = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        if len(images) < kept:
            images.append(image)
            cpu_started = time.process_time()
        else:
            decode_s.append(time.perf_counter() - started)
    decode_cpu_s = (time.process_time() - cpu_started) / len(decode_s)
    grabbed, cpu_started = 0, time.process_time()
    while grabbed < frames:
        if not capture.grab():
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        grabbed += 1
    grab_cpu_s = (time.process_time() - cpu_started) / grabbed
    capture.release()

    connection = TritonConnection(TritonSettings())
    detector = PersonDetector(connection)
    detections = [detector.detect_one(image) for image in images[:5]]  # warm-up: first requests, buffers
    detect_s = []
    client_started, triton_started = time.process_time(), triton_cpu_seconds()
    for round_ in range(rounds):
        for image in images:
            started = time.perf_counter()
            found = detector.detect_one(image)
            detect_s.append(time.perf_counter() - started)
            if round_ == 0:
                detections.append(found)
    detect_cpu_s = (time.process_time() - client_started + triton_cpu_seconds() - triton_started) / len(detect_s)
    detector.close()
    connection.close()

    tracker = ByteTracker(TrackerSettings(_env_file=None))  # type: ignore[call-arg]
    track_s = []
    cpu_started = time.process_time()
    for i, found in enumerate(detections[5:]):
        started = time.perf_counter()
        tracker.update(found, i / stream_fps)
        track_s.append(time.perf_counter() - started)
    track_cpu_s = (time.process_time() - cpu_started) / len(track_s)
    return StageCosts(
        stream_fps=stream_fps,
        decode_ms=statistics.median(decode_s) * 1000,
        detect_ms=statistics.median(detect_s) * 1000,
        track_ms=statistics.median(track_s) * 1000,
        decode_cpu_ms=decode_cpu_s * 1000,
        grab_cpu_ms=grab_cpu_s * 1000,
        detect_cpu_ms=detect_cpu_s * 1000,
        track_cpu_ms=track_cpu_s * 1000,
    )
