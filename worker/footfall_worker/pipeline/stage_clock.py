"""Where a frame's processing goes: wall and CPU seconds per stage, summed since the worker started.

Wall time says where a frame waits (the detector's round trip to Triton is mostly waiting); CPU time of the
processing thread says what the worker itself spends (letterboxing and serialising in `detect`, the tracker,
the classifier's crops). `/status` and `/metrics` expose the sums; differences between two readings over the
frames processed meanwhile give ms per frame per stage (`bench/pipeline_bench.py` prints them).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("detect", "track", "gender", "analytics", "record")


class StageClock:
    """Written by the processing thread only; readers take copies (`totals`). The keys never change, so a
    copy taken mid-frame is at most one stage behind, never torn."""

    def __init__(self) -> None:
        self._wall_s = dict.fromkeys(STAGES, 0.0)
        self._cpu_s = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self._wall_s[name] += time.perf_counter() - wall
            self._cpu_s[name] += time.thread_time() - cpu

    def totals(self) -> tuple[dict[str, float], dict[str, float]]:
        """(wall seconds, CPU seconds) per stage since the start."""
        return dict(self._wall_s), dict(self._cpu_s)
