"""Gender classification on its own thread, so the frame loop never waits for it."""

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from footfall_worker.inference import GenderEstimate, InferenceError

log = logging.getLogger("footfall.gender")
Classify = Callable[[Sequence[np.ndarray]], list[GenderEstimate]]


@dataclass(frozen=True, slots=True)
class GenderRequest:
    track_id: int
    crop: np.ndarray  # a private copy of the person's pixels; kept in memory only, never stored
    at_s: float


@dataclass(frozen=True, slots=True)
class GenderResult:
    track_id: int
    estimate: GenderEstimate
    at_s: float


class GenderWorker:
    """A bounded queue of crops in, estimates out, one background thread calling `classify` in batches.

    `submit` never blocks: a full queue drops the request and counts it. A failing classifier (Triton down)
    costs the crops of that batch, counted in `failed`, and the thread waits `retry_delay_s` before trying
    the next batch, so an outage neither spins nor grows memory.
    """

    def __init__(
        self,
        classify: Classify,
        channel_id: str,
        queue_size: int = 64,
        batch_size: int = 8,
        retry_delay_s: float = 1.0,
    ) -> None:
        self._classify = classify
        self._queue: queue.Queue[GenderRequest] = queue.Queue(maxsize=queue_size)
        self._results: deque[GenderResult] = deque()
        self._batch_size = batch_size
        self._retry_delay_s = retry_delay_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gender-{channel_id}", daemon=True)
        self._log_extra = {"channel": channel_id}
        self.submitted = self.dropped = self.failed = self.classified = 0

    def start(self) -> "GenderWorker":
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> bool:
        self._stop.set()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def submit(self, request: GenderRequest) -> bool:
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self.dropped += 1
            return False
        self.submitted += 1
        return True

    def drain(self) -> list[GenderResult]:
        """Results finished since the last call (deque.popleft is atomic; no lock needed)."""
        results = []
        while self._results:
            results.append(self._results.popleft())
        return results

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until everything submitted is classified or failed (end of a file, tests)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._queue.unfinished_tasks == 0

    def _next_batch(self) -> list[GenderRequest]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                estimates = self._classify([request.crop for request in batch])
            except InferenceError as error:
                self.failed += len(batch)
                log.warning(f"gender classification failed: {error}", extra={**self._log_extra, "lost": len(batch)})
                self._stop.wait(self._retry_delay_s)
            except Exception:  # noqa: BLE001 - a bug must not kill the thread silently; count and go on
                self.failed += len(batch)
                log.exception("gender classification crashed", extra=self._log_extra)
                self._stop.wait(self._retry_delay_s)
            else:
                for request, estimate in zip(batch, estimates, strict=True):
                    self._results.append(GenderResult(request.track_id, estimate, request.at_s))
                self.classified += len(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
