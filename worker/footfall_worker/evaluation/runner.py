"""Runs detector + tracker over a clip, writes MOTChallenge results and scores them against ground truth.

Frame skipping (`every=N`) processes source frames 1, 1+N, 1+2N, ... (1-based, as in MOT files) and keeps the
source numbering in the results, so they line up with a ground truth annotated on every frame. Only the processed
frames are scored: ground truth of skipped frames is left out rather than counted as misses, so the scores measure
the tracker at that frame rate, not its (non-)interpolation between frames.
"""

import configparser
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from footfall_worker.detections import Detections
from footfall_worker.evaluation.metrics import TrackingScores, evaluate
from footfall_worker.evaluation.mot import GtFormat, MotRow, read_mot_gt, write_mot


class Tracks(Protocol):
    """The tracks a tracker reports for one frame."""

    @property
    def xyxy(self) -> np.ndarray:
        """(m, 4) boxes `x1, y1, x2, y2` in source pixels."""
        ...

    @property
    def track_id(self) -> np.ndarray:
        """(m,) integer ids."""
        ...


class TrackerUpdate(Protocol):
    """What `FrameTracker.update` returns; only the confirmed, visible tracks are read."""

    @property
    def tracks(self) -> Tracks: ...


class FrameTracker(Protocol):
    """A multi-object tracker fed one frame's detections at a time."""

    def update(self, detections: Detections, timestamp_s: float) -> TrackerUpdate: ...


Detector = Callable[[np.ndarray], Detections]


def _processed(number: int, every: int) -> bool:
    return (number - 1) % every == 0


def _check_every(every: int) -> None:
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")


def track_clip(
    frames_with_times: Iterable[tuple[np.ndarray, float]],
    detect: Detector,
    tracker: FrameTracker,
    *,
    every: int = 1,
) -> list[MotRow]:
    """Runs `detect` and `tracker` over a clip.

    Args:
        frames_with_times: Every frame of the clip in order with its time in seconds; the n-th item is frame n
            (1-based) in the results.
        detect: Person detector for one frame.
        tracker: A fresh tracker; it sees the processed frames only, with their real timestamps.
        every: Process every N-th frame (1, 1+N, ...); the others are consumed but neither detected nor tracked.

    Returns:
        The tracks as MOT rows; a track's `confidence` is the tracker's when it reports one, else 1.
    """
    _check_every(every)
    rows: list[MotRow] = []
    for number, (frame, timestamp_s) in enumerate(frames_with_times, start=1):
        if not _processed(number, every):
            continue
        tracks = tracker.update(detect(frame), timestamp_s).tracks
        boxes = np.asarray(tracks.xyxy).reshape(-1, 4)
        ids = np.asarray(tracks.track_id).reshape(-1)
        # `confidence` is not part of the protocol: a tracker without it still gets scored.
        confidence = getattr(tracks, "confidence", None)
        scores = np.ones(len(ids)) if confidence is None else np.asarray(confidence).reshape(-1)
        rows.extend(
            MotRow.from_xyxy(number, int(i), box, float(s)) for i, box, s in zip(ids, boxes, scores, strict=True)
        )
    return rows


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
    detect: Detector,
    tracker: FrameTracker,
    out: Path,
    gt: Path | None = None,
    *,
    every: int = 1,
    iou_threshold: float = 0.5,
    gt_format: GtFormat = "auto",
) -> TrackingScores | None:
    """Tracks a clip, writes the results as a MOT file and scores them when ground truth is given.

    Args:
        frames_with_times: Every frame of the clip in order with its time in seconds.
        detect: Person detector for one frame.
        tracker: A fresh tracker.
        out: Results file to write.
        gt: MOTChallenge ground truth of the clip, or None to only write results.
        every: Process every N-th frame; only those frames are scored (see the module doc).
        iou_threshold: Least IoU for a match in CLEAR MOT and IDF1.
        gt_format: Layout of `gt`, see `read_mot_gt`.

    Returns:
        The scores, or None without `gt`.
    """
    # Read the ground truth first: a bad path should fail before minutes of inference, not after.
    truth = read_mot_gt(gt, gt_format) if gt is not None else None
    frames = _Counted(frames_with_times)
    rows = track_clip(frames, detect, tracker, every=every)
    write_mot(out, rows)
    if truth is None:
        return None
    # Ground truth past the clip's end (a truncated clip) is excluded like skipped frames.
    processed = [n for n in range(1, frames.count + 1) if _processed(n, every)]
    truth = truth.only_frames(processed)
    return evaluate(truth.rows, rows, iou_threshold, ignore_rows=truth.ignore, frames=processed)


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
        `(frame, timestamp_s)` with `timestamp_s = frame_index / fps`, `frame_index` counting from 0.

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
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame, index / rate
            index += 1
    finally:
        capture.release()


def run_eval(
    clip: Path,
    gt: Path | None,
    out: Path,
    detect: Detector,
    tracker_factory: Callable[[], FrameTracker],
    every: int = 1,
    *,
    fps: float | None = None,
    iou_threshold: float = 0.5,
    gt_format: GtFormat = "auto",
) -> TrackingScores | None:
    """The body of `footfall eval --clip X --gt Y --out results.txt`.

    Args:
        clip: Video file, image-sequence pattern or MOTChallenge sequence folder, see `read_clip`.
        gt: MOTChallenge ground truth, or None to only write results.
        out: Results file to write.
        detect: Person detector for one frame (BGR, as cv2 decodes it).
        tracker_factory: Makes the fresh tracker for this clip.
        every: Process every N-th frame; only those are scored (see the module doc).
        fps: Frame-rate override, see `read_clip`.
        iou_threshold: Least IoU for a match in CLEAR MOT and IDF1.
        gt_format: Layout of `gt`, see `read_mot_gt`.

    Returns:
        The scores, or None without `gt`.
    """
    _check_every(every)
    return evaluate_clip(
        read_clip(clip, fps),
        detect,
        tracker_factory(),
        out,
        gt,
        every=every,
        iou_threshold=iou_threshold,
        gt_format=gt_format,
    )
