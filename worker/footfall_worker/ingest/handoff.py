"""The bounded hand-off between a reader and processing: newest frames win, every drop is counted."""

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestItems(Generic[T]):
    """A small bounded queue that drops the OLDEST item when full.

    A camera does not wait for us: when processing is slower than the stream, the stale frames are the
    ones worth losing, so latency stays bounded by `capacity` frames instead of growing without limit.
    `put(block=True)` is for replaying a file exhaustively, where no frame may be lost.
    """

    def __init__(self, capacity: int = 2) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: expected >= 1, got {capacity}")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self.dropped = 0
        self.put_count = 0
        self._getters = 0  # consumers inside get(): ready for an item

    def put(self, item: T, block: bool = False, timeout: float | None = None) -> bool:
        """Add `item`. Without `block`, a full queue loses its oldest item (counted in `dropped`).

        With `block`, wait for room (up to `timeout`); returns False when it timed out or the queue closed.
        """
        with self._changed:
            if block:
                if not self._changed.wait_for(lambda: self._closed or len(self._items) < self.capacity, timeout):
                    return False
                if self._closed:
                    return False
            elif len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.put_count += 1
            self._changed.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item, waiting up to `timeout`; None on timeout or when closed and empty."""
        with self._changed:
            self._getters += 1
            try:
                if not self._changed.wait_for(lambda: self._items or self._closed, timeout):
                    return None
                if not self._items:
                    return None
                item = self._items.popleft()
                self._changed.notify_all()
                return item
            finally:
                self._getters -= 1

    @property
    def backlog(self) -> int:
        """Items no ready consumer is about to take: what waits behind a busy consumer.

        An item put while a consumer is blocked in `get()` is that consumer's, even before its thread wakes to
        pop it, so two frames arriving back to back do not look like a backlog.
        """
        with self._lock:
            return max(0, len(self._items) - self._getters)

    def close(self) -> None:
        """Wake every waiter; `get` drains what is left, then returns None."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
