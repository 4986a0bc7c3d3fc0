"""Runs a channel's processing over a clip, writes MOTChallenge results and scores them against ground truth.

The processing is the worker's own (`pipeline.processing.make_processor`): detection, tracking, ReID and
counting exactly as a camera or `process-video` runs them, so what `eval` scores is what a store gets.

Frame skipping (`every=N`) processes source frames 1, 1+N, 1+2N, ... (1-based, as in MOT files) and keeps the
source numbering in the results, so they line up with a ground truth annotated on every frame. Only the processed
frames are scored: ground truth of skipped frames is left out rather than counted as misses, so the scores measure
the tracker at that frame rate, not its (non-)interpolation between frames.
"""

import configparser
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from footfall_worker.evaluation.metrics import TrackingScores, evaluate
from footfall_worker.evaluation.mot import GtFormat, read_mot_gt, write_mot
from footfall_worker.evaluation.track_log import TrackLog
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.frame_result import FrameResult


class ClipProcessor(Protocol):
    """The channel's per-frame processing (`FrameProcessor`, made by `pipeline.processing.make_processor` with
    `file_wall_start=0`, so event times are positions in the clip)."""

    def process(self, frame: Frame) -> FrameResult: ...

    def finish(self, gender_wait_s: float) -> FrameResult: ...


def _processed(number: int, every: int) -> bool:
    return (number - 1) % every == 0


def _check_every(every: int) -> None:
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")


def track_clip(
    frames_with_times: Iterable[tuple[np.ndarray, float]],
    processor: ClipProcessor,
    *,
    every: int = 1,
    channel_id: str = "eval",
) -> TrackLog:
    """Runs the channel's processing over a clip, as the worker's reader would hand it the frames.

    Args:
        frames_with_times: Every frame of the clip in order with its position in seconds; the n-th item is
            frame n (1-based), the number a worker's reader gives it too.
        processor: A fresh processor; it sees the processed frames only, with their positions as time.
        every: Process every N-th frame (1, 1+N, ...); the others are consumed but not processed.
        channel_id: The channel id the frames carry.

    Returns:
        The tracks (as MOT rows) and crossings the processor found, its tracks ended at the clip's end.

    Raises:
        InferenceError: detection failed: a score over a clip with holes would mislead, so the eval stops.
    """
    _check_every(every)
    log = TrackLog()
    for number, (image, position_s) in enumerate(frames_with_times, start=1):
        if not _processed(number, every):
            continue
        log.take(processor.process(Frame(channel_id, number, image, time.monotonic(), time.time(), position_s)))
    log.take(processor.finish(gender_wait_s=0.0))
    return log


class _Counted:
    """Passes items through, counting them, so the caller learns the clip length after a single pass."""

    def __init__(self, items: Iterable[tuple[np.ndarray, float]]) -> None:
        self._items = items
        self.count = 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        for item in self._items:
            self.count += 1
            yield item


def evaluate_clip(
    frames_with_times: Iterable[tuple[np.ndarray, float]],
    processor: ClipProcessor,
    out: Path,
    gt: Path | None = None,
    *,
    every: int = 1,
    iou_threshold: float = 0.5,
    gt_format: GtFormat = "auto",
) -> tuple[TrackLog, TrackingScores | None]:
    """Tracks a clip, writes the results as a MOT file and scores them when ground truth is given.

    Args:
        frames_with_times: Every frame of the clip in order with its time in seconds.
        processor: A fresh processor (see `ClipProcessor`).
        out: Results file to write.
        gt: MOTChallenge ground truth of the clip, or None to only write results.
        every: Process every N-th frame; only those frames are scored (see the module doc).
        iou_threshold: Least IoU for a match in CLEAR MOT and IDF1.
        gt_format: Layout of `gt`, see `read_mot_gt`.

    Returns:
        What was found, and the scores (None without `gt`).
    """
    # Read the ground truth first: a bad path should fail before minutes of inference, not after.
    truth = read_mot_gt(gt, gt_format) if gt is not None else None
    frames = _Counted(frames_with_times)
    log = track_clip(frames, processor, every=every)
    write_mot(out, log.rows)
    if truth is None:
        return log, None
    # Ground truth past the clip's end (a truncated clip) is excluded like skipped frames.
    processed = [n for n in range(1, frames.count + 1) if _processed(n, every)]
    truth = truth.only_frames(processed)
    return log, evaluate(truth.rows, log.rows, iou_threshold, ignore_rows=truth.ignore, frames=processed)


def _clip_source(clip: Path) -> tuple[str, float | None]:
    # A MOTChallenge sequence folder: images in img1/ and the frame rate in seqinfo.ini.
    if clip.is_dir():
        info = configparser.ConfigParser()
        info.read(clip / "seqinfo.ini")
        fps = info.getfloat("Sequence", "frameRate", fallback=None)
        ext = info.get("Sequence", "imExt", fallback=".jpg")
        image_dir = info.get("Sequence", "imDir", fallback="img1")
        return str(clip / image_dir / f"%06d{ext}"), fps
    return str(clip), None


def read_clip(clip: Path, fps: float | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """Decodes a clip frame by frame.

    Args:
        clip: A video file, an image-sequence pattern such as `img1/%06d.jpg`, or a MOTChallenge sequence folder
            (`img1/` plus `seqinfo.ini`).
        fps: Frame rate to time the frames by; default: from `seqinfo.ini` or the video container.

    Yields:
        `(frame, timestamp_s)`: a video's own timestamp of the frame; `frame_index / fps` (counting from 0)
        for an image sequence or when `fps` is given.

    Raises:
        ValueError: The clip cannot be opened, or no frame rate is known.
    """
    source, seq_fps = _clip_source(clip)
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise ValueError(f"cannot open clip {clip}")
    try:
        rate = fps or seq_fps or capture.get(cv2.CAP_PROP_FPS)
        if not rate or rate <= 0:
            raise ValueError(f"no frame rate known for {clip}; pass fps")
        # A video's own timestamps, as the worker's reader takes them (CAP_PROP_POS_MSEC), so `eval` and
        # `process-video` track on the same clock; an image sequence or an explicit rate counts frames.
        own_clock = fps is None and not clip.is_dir()
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame, (capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if own_clock else index / rate)
            index += 1
    finally:
        capture.release()


def run_eval(
    clip: Path,
    gt: Path | None,
    out: Path,
    processor: ClipProcessor,
    every: int = 1,
    *,
    fps: float | None = None,
    iou_threshold: float = 0.5,
    gt_format: GtFormat = "auto",
) -> tuple[TrackLog, TrackingScores | None]:
    """The body of `footfall eval --clip X --gt Y --out results.txt`.

    Args:
        clip: Video file, image-sequence pattern or MOTChallenge sequence folder, see `read_clip`.
        gt: MOTChallenge ground truth, or None to only write results.
        out: Results file to write.
        processor: A fresh processor for this clip (see `ClipProcessor`).
        every: Process every N-th frame; only those are scored (see the module doc).
        fps: Frame-rate override, see `read_clip`.
        iou_threshold: Least IoU for a match in CLEAR MOT and IDF1.
        gt_format: Layout of `gt`, see `read_mot_gt`.

    Returns:
        What was found, and the scores (None without `gt`).
    """
    _check_every(every)
    return evaluate_clip(
        read_clip(clip, fps),
        processor,
        out,
        gt,
        every=every,
        iou_threshold=iou_threshold,
        gt_format=gt_format,
    )
