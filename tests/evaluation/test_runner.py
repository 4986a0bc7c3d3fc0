"""The evaluation runner on synthetic clips: white boxes on black, found by a blob detector, tracked by a stand-in.

The stand-in tracker is a test double of the `FrameTracker` protocol, so these tests pin the harness, not ByteTrack.
"""

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_worker.detections import Detections
from footfall_worker.evaluation.mot import MotRow, read_mot, write_mot
from footfall_worker.evaluation.runner import evaluate_clip, read_clip, run_eval, track_clip

WIDTH, HEIGHT = 320, 240
NUM_FRAMES = 10
FPS = 10.0


@dataclass(frozen=True)
class _Tracks:
    xyxy: np.ndarray
    track_id: np.ndarray
    confidence: np.ndarray


@dataclass(frozen=True)
class _Update:
    tracks: _Tracks


def _iou_xyxy(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@dataclass
class GreedyIouTracker:
    """Gives each detection the id of the previous frame's box it overlaps most (IoU >= 0.3), else a new id."""

    timestamps: list[float] = field(default_factory=list)
    _previous: list[tuple[int, np.ndarray]] = field(default_factory=list)
    _next_id: int = 1

    def update(self, detections: Detections, timestamp_s: float) -> _Update:
        self.timestamps.append(timestamp_s)
        free = list(self._previous)
        current: list[tuple[int, np.ndarray]] = []
        for box in detections.xyxy:
            best = max(free, key=lambda t: _iou_xyxy(t[1], box), default=None)
            if best is not None and _iou_xyxy(best[1], box) >= 0.3:
                free.remove(best)
                current.append((best[0], box))
            else:
                current.append((self._next_id, box))
                self._next_id += 1
        self._previous = current
        return _Update(
            _Tracks(
                np.array([b for _, b in current], np.float32).reshape(-1, 4),
                np.array([i for i, _ in current], np.int64),
                detections.confidence.copy(),
            )
        )


def _people(frame_index: int) -> dict[int, tuple[int, int, int, int]]:
    """Ground-truth xyxy of the two synthetic people in 0-based frame `frame_index`; ids 1 and 2."""
    return {
        1: (10 + 4 * frame_index, 40, 50 + 4 * frame_index, 140),
        2: (260 - 3 * frame_index, 60, 290 - 3 * frame_index, 180),
    }


def _image(frame_index: int) -> np.ndarray:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for x1, y1, x2, y2 in _people(frame_index).values():
        # cv2 rectangles include their far corner: x2 - 1 keeps the drawn box exactly [x1, x2).
        cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), thickness=-1)
    return image


def detect_blobs(image: np.ndarray) -> Detections:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    count, _, stats, _ = cv2.connectedComponentsWithStats((gray > 127).astype(np.uint8))
    boxes = [(x, y, x + w, y + h) for x, y, w, h, _ in stats[1:count]]
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    return Detections(xyxy, np.full(len(xyxy), 0.9, np.float32))


def _clip() -> list[tuple[np.ndarray, float]]:
    return [(_image(i), i / FPS) for i in range(NUM_FRAMES)]


def _gt_rows() -> list[MotRow]:
    return [MotRow.from_xyxy(i + 1, person, box) for i in range(NUM_FRAMES) for person, box in _people(i).items()]


def test_track_clip_numbers_frames_from_one() -> None:
    tracker = GreedyIouTracker()
    rows = track_clip(_clip(), detect_blobs, tracker)

    assert sorted({r.frame for r in rows}) == list(range(1, NUM_FRAMES + 1))
    assert len(rows) == 2 * NUM_FRAMES
    # Two stable ids, and the boxes are the drawn ones in MOT's left, top, width, height.
    by_id: dict[int, list[MotRow]] = {}
    for r in rows:
        by_id.setdefault(r.track_id, []).append(r)
    assert len(by_id) == 2
    first = {(r.x, r.y, r.w, r.h) for r in rows if r.frame == 1}
    assert first == {(10, 40, 40, 100), (260, 60, 30, 120)}
    assert all(r.confidence == pytest.approx(0.9) for r in rows)
    assert tracker.timestamps == [i / FPS for i in range(NUM_FRAMES)]


def test_track_clip_every_n_keeps_source_numbering_and_times() -> None:
    tracker = GreedyIouTracker()
    rows = track_clip(_clip(), detect_blobs, tracker, every=3)

    assert sorted({r.frame for r in rows}) == [1, 4, 7, 10]
    assert tracker.timestamps == [0.0, 0.3, 0.6, 0.9]
    frame_4 = {(r.x, r.y) for r in rows if r.frame == 4}
    assert frame_4 == {(10 + 4 * 3, 40), (260 - 3 * 3, 60)}


def test_track_clip_rejects_every_below_one() -> None:
    with pytest.raises(ValueError):
        track_clip(_clip(), detect_blobs, GreedyIouTracker(), every=0)


def test_tracker_without_confidence_scores_one() -> None:
    @dataclass(frozen=True)
    class Bare:
        xyxy: np.ndarray
        track_id: np.ndarray

    class BareTracker:
        def update(self, detections: Detections, timestamp_s: float) -> _Update:
            return _Update(Bare(detections.xyxy, np.arange(len(detections), dtype=np.int64)))  # type: ignore[arg-type]

    rows = track_clip(_clip()[:2], detect_blobs, BareTracker())
    assert [r.confidence for r in rows] == [1.0] * 4


def test_evaluate_clip_writes_results_and_scores(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    write_mot(gt, _gt_rows())
    out = tmp_path / "results.txt"

    scores = evaluate_clip(_clip(), detect_blobs, GreedyIouTracker(), out, gt)

    assert scores is not None
    assert scores.mota == 1.0 and scores.idf1 == 1.0 and scores.hota == pytest.approx(1.0)
    assert scores.num_gt == 2 * NUM_FRAMES
    assert len(read_mot(out)) == 2 * NUM_FRAMES


def test_evaluate_clip_every_n_scores_processed_frames_only(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    write_mot(gt, _gt_rows())

    scores = evaluate_clip(_clip(), detect_blobs, GreedyIouTracker(), tmp_path / "r.txt", gt, every=4)

    # Frames 1, 5, 9: ground truth of the skipped frames is not counted as missed.
    assert scores is not None
    assert (scores.num_frames, scores.num_gt, scores.misses) == (3, 6, 0)
    assert scores.mota == 1.0


def test_evaluate_clip_counts_gt_frames_the_tracker_left_empty(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    write_mot(gt, _gt_rows())
    # A clip whose last frames are black: the people there are misses, not silently skipped.
    clip = _clip()[:7] + [(np.zeros_like(_image(0)), i / FPS) for i in range(7, NUM_FRAMES)]

    scores = evaluate_clip(clip, detect_blobs, GreedyIouTracker(), tmp_path / "r.txt", gt)

    assert scores is not None and scores.misses == 6 and scores.num_frames == NUM_FRAMES


def test_evaluate_clip_without_gt_only_writes(tmp_path: Path) -> None:
    out = tmp_path / "results.txt"
    assert evaluate_clip(_clip(), detect_blobs, GreedyIouTracker(), out) is None
    assert out.exists()


def test_run_eval_on_a_mot_sequence_folder(tmp_path: Path) -> None:
    sequence = tmp_path / "SYN-01"
    (sequence / "img1").mkdir(parents=True)
    for i in range(NUM_FRAMES):
        # PNG: lossless, so the blob detector sees the exact boxes.
        cv2.imwrite(str(sequence / "img1" / f"{i + 1:06d}.png"), _image(i))
    (sequence / "seqinfo.ini").write_text(
        f"[Sequence]\nname=SYN-01\nimDir=img1\nframeRate={int(FPS)}\nseqLength={NUM_FRAMES}\nimExt=.png\n"
    )
    gt = sequence / "gt.txt"
    write_mot(gt, _gt_rows())
    trackers: list[GreedyIouTracker] = []

    def factory() -> GreedyIouTracker:
        trackers.append(GreedyIouTracker())
        return trackers[-1]

    out = tmp_path / "out" / "SYN-01.txt"
    scores = run_eval(sequence, gt, out, detect_blobs, factory, every=2)

    assert scores is not None
    assert scores.mota == 1.0 and scores.num_frames == 5
    assert len(trackers) == 1 and trackers[0].timestamps == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert sorted({r.frame for r in read_mot(out)}) == [1, 3, 5, 7, 9]


def test_read_clip_times_video_frames(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(4):
        writer.write(_image(i))
    writer.release()

    times = [t for _, t in read_clip(video)]
    assert times == [0.0, 1 / 25, 2 / 25, 3 / 25]
    assert [t for _, t in read_clip(video, fps=5.0)] == [0.0, 0.2, 0.4, 0.6]


def test_read_clip_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot open"):
        next(read_clip(tmp_path / "nope.mp4"))
