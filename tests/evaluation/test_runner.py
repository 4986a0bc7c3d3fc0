"""The evaluation runner on synthetic clips: white boxes on black, found by a blob detector, tracked and counted
by the channel's own processing (`make_processor`: the real ByteTrack and counting; only the detector is a
stand-in, since these tests pin the harness, not YOLOX)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.detections import Detections
from footfall_worker.evaluation.mot import MotRow, read_mot, write_mot
from footfall_worker.evaluation.runner import evaluate_clip, read_clip, run_eval, track_clip
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.frame_processor import FrameProcessor
from footfall_worker.pipeline.process_video import file_settings
from footfall_worker.pipeline.processing import make_processor

WIDTH, HEIGHT = 320, 240
NUM_FRAMES = 10
FPS = 10.0


class _Detector:
    """The blob detector, remembering the clip position of every frame it was asked about."""

    def __init__(self) -> None:
        self.times: list[float | None] = []

    def __call__(self, frame: Frame) -> Detections:
        self.times.append(frame.media_s)
        return detect_blobs(frame.image)


def _processor(detector: _Detector, analytics: AnalyticsConfig | None = None) -> FrameProcessor:
    spec = ChannelSpec.from_file(Path("clip.mp4"), "eval", analytics=analytics)
    settings = file_settings(record=False, gender=False)
    return make_processor(spec, settings, "test-run", detector, file_wall_start=0.0)


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
    detector = _Detector()
    rows = track_clip(_clip(), _processor(detector)).rows

    assert sorted({r.frame for r in rows}) == list(range(1, NUM_FRAMES + 1))
    assert len(rows) == 2 * NUM_FRAMES
    # Two stable ids, and the boxes are (close to: Kalman-smoothed) the drawn ones in MOT's left, top, w, h.
    assert len({r.track_id for r in rows}) == 2
    first = sorted((r.x, r.y, r.w, r.h) for r in rows if r.frame == 1)
    assert np.allclose(first, [(10, 40, 40, 100), (260, 60, 30, 120)], atol=0.5)
    assert all(r.confidence == pytest.approx(0.9) for r in rows)
    assert detector.times == [i / FPS for i in range(NUM_FRAMES)]


def test_track_clip_every_n_keeps_source_numbering_and_times() -> None:
    detector = _Detector()
    rows = track_clip(_clip(), _processor(detector), every=3).rows

    assert sorted({r.frame for r in rows}) == [1, 4, 7, 10]
    assert detector.times == [0.0, 0.3, 0.6, 0.9]
    frame_4 = sorted((r.x, r.y) for r in rows if r.frame == 4)
    assert np.allclose(frame_4, [(10 + 4 * 3, 40), (260 - 3 * 3, 60)], atol=2.0)


def test_track_clip_rejects_every_below_one() -> None:
    with pytest.raises(ValueError):
        track_clip(_clip(), _processor(_Detector()), every=0)


def test_track_clip_counts_crossings_at_their_clip_position() -> None:
    # Person 1's feet walk right, x = 30 + 4 i: across a vertical line at 0.15 (48 px); walking down it, the
    # right side (the store) is to the west, so this is going out.
    analytics = AnalyticsConfig.model_validate(
        {"lines": [{"id": "door", "points": [[0.15, 0.0], [0.15, 1.0]], "in_side": "right"}], "line_band": 0.01}
    )
    log = track_clip(_clip(), _processor(_Detector(), analytics))

    assert log.totals() == {"door": {"in": 0, "out": 1}}
    (crossing,) = log.crossings
    # Counted where the feet are first clear of the band (48 + 4 px): x = 54 at i = 6.
    assert crossing.direction == "out" and crossing.frame == 6
    assert crossing.t == pytest.approx(crossing.frame / FPS)


def test_evaluate_clip_writes_results_and_scores(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    write_mot(gt, _gt_rows())
    out = tmp_path / "results.txt"

    _, scores = evaluate_clip(_clip(), _processor(_Detector()), out, gt)

    assert scores is not None
    assert scores.mota == 1.0 and scores.idf1 == 1.0 and scores.hota > 0.95
    assert scores.num_gt == 2 * NUM_FRAMES
    assert len(read_mot(out)) == 2 * NUM_FRAMES


def test_evaluate_clip_every_n_scores_processed_frames_only(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    write_mot(gt, _gt_rows())

    _, scores = evaluate_clip(_clip(), _processor(_Detector()), tmp_path / "r.txt", gt, every=4)

    # Frames 1, 5, 9: ground truth of the skipped frames is not counted as missed.
    assert scores is not None
    assert (scores.num_frames, scores.num_gt, scores.misses) == (3, 6, 0)
    assert scores.mota == 1.0


def test_evaluate_clip_counts_gt_frames_the_tracker_left_empty(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    write_mot(gt, _gt_rows())
    # A clip whose last frames are black: the people there are misses, not silently skipped.
    clip = _clip()[:7] + [(np.zeros_like(_image(0)), i / FPS) for i in range(7, NUM_FRAMES)]

    _, scores = evaluate_clip(clip, _processor(_Detector()), tmp_path / "r.txt", gt)

    assert scores is not None and scores.misses == 6 and scores.num_frames == NUM_FRAMES


def test_evaluate_clip_without_gt_only_writes(tmp_path: Path) -> None:
    out = tmp_path / "results.txt"
    log, scores = evaluate_clip(_clip(), _processor(_Detector()), out)
    assert scores is None and out.exists() and len(read_mot(out)) == len(log.rows) == 2 * NUM_FRAMES


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
    detector = _Detector()

    out = tmp_path / "out" / "SYN-01.txt"
    _, scores = run_eval(sequence, gt, out, _processor(detector), every=2)

    assert scores is not None
    assert scores.mota == 1.0 and scores.num_frames == 5
    assert detector.times == [0.0, 0.2, 0.4, 0.6, 0.8]
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
