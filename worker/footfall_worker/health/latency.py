"""Recent latencies for percentiles the live state and the terminal table show (the histogram is for Prometheus)."""

import threading

import numpy as np


class LatencyWindow:
    """The last `capacity` samples in a ring; percentiles over them.

    Written by the processing loop, read by the probe thread: a lock around two array operations, no more.
    """

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: expected >= 1, got {capacity}")
        self._samples = np.zeros(capacity, np.float64)
        self._count = 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples[self._count % self._samples.shape[0]] = seconds
            self._count += 1

    def percentiles_ms(self, *percentiles: float) -> tuple[float | None, ...]:
        """The given percentiles in milliseconds; None each while there is no sample yet."""
        with self._lock:
            samples = self._samples[: min(self._count, self._samples.shape[0])].copy()
        if samples.size == 0:
            return tuple(None for _ in percentiles)
        return tuple(float(v) * 1000.0 for v in np.percentile(samples, percentiles))

    @property
    def count(self) -> int:
        return self._count
