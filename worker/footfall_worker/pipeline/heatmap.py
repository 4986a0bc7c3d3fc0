"""Where people stand, per hour: each processed frame's tracked people counted by their feet (the bottom centre
of the box) on a coarse grid over the frame. Positions only, relative to the frame, never pixels: the grid is a
few hundred counts an hour. The hour's grid is re-sent as it grows (`snapshot`, each minute) and sent a last
time when the next hour begins."""

import math

import numpy as np

from footfall_worker.storage.records import HeatmapHour

COLS, ROWS = 32, 18  # 16:9 cells on a 16:9 camera; about 60 x 60 px each at 1080p


def _hour_of(wall: float) -> float:
    return math.floor(wall / 3600.0) * 3600.0


class HeatmapGrid:
    def __init__(self, run_id: str, cols: int = COLS, rows: int = ROWS) -> None:
        self.run_id = run_id
        self.cols, self.rows = cols, rows
        self._hour: float | None = None
        self._counts = np.zeros(rows * cols, dtype=np.int64)
        self._frames = 0

    def observe(self, wall: float, xyxy: np.ndarray, frame_size: tuple[int, int]) -> HeatmapHour | None:
        """Count one processed frame's people; returns the finished hour when this frame starts a new one."""
        hour = _hour_of(wall)
        done = None
        if self._hour is not None and hour != self._hour:
            done = self.flush()
        self._hour = hour
        self._frames += 1
        if len(xyxy):
            width, height = frame_size
            boxes = np.asarray(xyxy, dtype=np.float64)
            x, y = (boxes[:, 0] + boxes[:, 2]) / 2 / width, boxes[:, 3] / height
            seen = np.isfinite(x) & np.isfinite(y)
            # cells by index, clipped: feet on the frame's edge (or a box past it) count in the edge's cell
            col = np.clip(np.floor(x[seen] * self.cols), 0, self.cols - 1).astype(np.int64)
            row = np.clip(np.floor(y[seen] * self.rows), 0, self.rows - 1).astype(np.int64)
            np.add.at(self._counts, row * self.cols + col, 1)
        return done

    def snapshot(self) -> HeatmapHour | None:
        """The hour so far (None before the first frame)."""
        if self._hour is None:
            return None
        counts = self._counts.tolist()
        return HeatmapHour(self._hour, self.run_id, self.cols, self.rows, counts, self._frames)

    def flush(self) -> HeatmapHour | None:
        """The hour so far, and start afresh."""
        done = self.snapshot()
        self._hour = None
        self._counts[:] = 0
        self._frames = 0
        return done
