"""MOTChallenge text files: tracker results and ground truth.

A results file has one box per line, `frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z`, with 1-based frame
numbers, a top-left corner plus size in pixels, and `x,y,z` (world coordinates) written as -1.

Ground truth comes in two layouts, told apart by the number of columns:

* MOT15 (10 columns, `frame,id,left,top,w,h,conf,x,y,z`): every row is a person to be tracked; the `conf` column
  carries no meaning and is not read.
* MOT16/17/20 (9 columns, `frame,id,left,top,w,h,flag,class,visibility`): a row counts only when `flag` is not 0
  and `class` is 1 (pedestrian). Rows of the distractor classes (person on vehicle, static person, distractor,
  reflection) are kept apart as `ignore`: a hypothesis matching one is neither a hit nor a false positive, as the
  MOTChallenge devkit and TrackEval do. Other rows (vehicles, occluders, zero-flagged pedestrians) are dropped.
"""

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

GtFormat = Literal["auto", "mot15", "mot16"]

PEDESTRIAN_CLASS = 1
# MOT16/17 class ids whose matched hypotheses are discarded rather than counted (TrackEval, MOT16 paper table 5).
DISTRACTOR_CLASSES = frozenset({2, 7, 8, 12})

_MOT15_COLUMNS = 10
_MOT16_COLUMNS = 9


@dataclass(frozen=True, slots=True)
class MotRow:
    """One box of one track in one frame, as MOTChallenge files hold it.

    Attributes:
        frame: 1-based frame number.
        track_id: Identity of the track (tracker output) or person (ground truth).
        x: Left edge in pixels.
        y: Top edge in pixels.
        w: Width in pixels.
        h: Height in pixels.
        confidence: Score of the box; 1 for ground truth.
    """

    frame: int
    track_id: int
    x: float
    y: float
    w: float
    h: float
    confidence: float = 1.0

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)

    @classmethod
    def from_xyxy(
        cls, frame: int, track_id: int, xyxy: Sequence[float] | np.ndarray, confidence: float = 1.0
    ) -> "MotRow":
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        return cls(int(frame), int(track_id), x1, y1, x2 - x1, y2 - y1, float(confidence))


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """Ground truth of one sequence.

    Attributes:
        rows: The boxes a tracker is scored against.
        ignore: Boxes whose matched hypotheses are dropped before scoring (MOT16+ distractors; empty for MOT15).
    """

    rows: tuple[MotRow, ...]
    ignore: tuple[MotRow, ...] = ()

    def only_frames(self, frames: Iterable[int]) -> "GroundTruth":
        """The ground truth restricted to `frames`."""
        keep = set(frames)
        return GroundTruth(
            tuple(r for r in self.rows if r.frame in keep), tuple(r for r in self.ignore if r.frame in keep)
        )


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """Converts (n, 4) `x1, y1, x2, y2` boxes to `left, top, width, height`."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Converts (n, 4) `left, top, width, height` boxes to `x1, y1, x2, y2`."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def write_mot(path: Path, rows: Iterable[MotRow]) -> None:
    """Writes tracker results in MOTChallenge format, sorted by frame then id as the benchmark servers expect.

    Box values are rounded to 3 decimals and the confidence to 4.

    Args:
        path: File to (over)write; parent folders are created.
        rows: The boxes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda r: (r.frame, r.track_id))
    with path.open("w", encoding="utf-8") as f:
        for r in ordered:
            box = ",".join(_number(v, 3) for v in r.xywh)
            f.write(f"{r.frame},{r.track_id},{box},{_number(r.confidence, 4)},-1,-1,-1\n")


def _number(value: float, decimals: int) -> str:
    # Full float32 reprs would bloat the file; a thousandth of a pixel is finer than any annotation (MOT's own
    # ground truth has 3 decimals, which thus round-trips exactly).
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _read_table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        # Some tools write the MOT format separated by spaces or with trailing commas; accept both.
        lines = (line.replace(" ", ",").strip().rstrip(",") for line in f)
        return [[c for c in cells if c != ""] for cells in csv.reader(line for line in lines if line)]


def _row(cells: list[str], path: Path, line: int) -> MotRow:
    if len(cells) < 6:
        raise ValueError(f"{path}:{line}: expected at least 6 columns, got {len(cells)}")
    frame = float(cells[0])
    track_id = float(cells[1])
    if frame != int(frame) or track_id != int(track_id) or frame < 1:
        raise ValueError(f"{path}:{line}: frame must be a positive integer and id an integer")
    confidence = float(cells[6]) if len(cells) > 6 else 1.0
    return MotRow(int(frame), int(track_id), *(float(c) for c in cells[2:6]), confidence)


def read_mot(path: Path) -> list[MotRow]:
    """Reads a MOTChallenge results file; every row counts.

    Args:
        path: The file.

    Returns:
        The rows in file order.

    Raises:
        ValueError: A row is malformed.
    """
    return [_row(cells, path, i + 1) for i, cells in enumerate(_read_table(path))]


def read_mot_gt(path: Path, gt_format: GtFormat = "auto") -> GroundTruth:
    """Reads a MOTChallenge ground-truth file.

    Args:
        path: The `gt.txt`.
        gt_format: `mot15` (all rows count), `mot16` (flag and class columns honoured, see the module doc) or
            `auto`: `mot16` when the rows have 9 columns, else `mot15`.

    Returns:
        The ground truth.

    Raises:
        ValueError: A row is malformed, or `mot16` rows lack the class column.
    """
    table = _read_table(path)
    if gt_format == "auto":
        gt_format = "mot16" if table and len(table[0]) == _MOT16_COLUMNS else "mot15"
    if gt_format == "mot15":
        # MOT15's column 8 is a world coordinate (TUD-Stadtmitte fills it), not a class, so the MOT16 rules would
        # throw rows away.
        return GroundTruth(tuple(replace(_row(c, path, i + 1), confidence=1.0) for i, c in enumerate(table)))
    rows: list[MotRow] = []
    ignore: list[MotRow] = []
    for i, cells in enumerate(table):
        if len(cells) < 8:
            raise ValueError(f"{path}:{i + 1}: MOT16+ ground truth needs a class column (8), got {len(cells)}")
        gt_row = replace(_row(cells, path, i + 1), confidence=1.0)
        flag, cls = float(cells[6]), int(float(cells[7]))
        if cls == PEDESTRIAN_CLASS and flag != 0:
            rows.append(gt_row)
        elif cls in DISTRACTOR_CLASSES:
            ignore.append(gt_row)
    return GroundTruth(tuple(rows), tuple(ignore))
