"""A token bucket: the cap on how fast the refresher writes CameraChannel statuses.

Its own small type because the operator has none to import: the repository's one retry schedule
(`footfall_worker.retry.Backoff`) spaces attempts after failures, which is another question, and the operator may
not import the worker (pyproject's import-linter contracts).
"""

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved up; each write takes one.

    Not thread-safe on purpose: one refresher thread owns it.
    """

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"expected rate_per_s > 0 and burst >= 1, got {rate_per_s} and {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        return now

    def try_take(self) -> bool:
        """A token now, or False (nothing is taken)."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_s(self) -> float:
        """How long until a token is there (0 when one is)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate_per_s

    def take(self, deadline: float, stop: threading.Event) -> bool:
        """A token, waiting for it until the monotonic `deadline`; False when the deadline comes first or `stop`
        is set (then nothing is taken)."""
        while not stop.is_set():
            if self.try_take():
                return True
            delay = self.wait_s()
            if self._clock() + delay > deadline:
                return False
            stop.wait(delay)
        return False
