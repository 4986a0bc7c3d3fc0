"""SIGINT/SIGTERM for the manager: the first asks for a graceful stop, a second one for an immediate one."""

import signal
from types import FrameType
from typing import Self

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownSignals:
    """Counts SIGINT/SIGTERM while installed (a context manager, main thread only).

    The handler only increments a counter, which is safe at any point of the interrupted code; the
    manager's loop polls `requested` and `forced` (a `threading.Event.set()` from a handler can deadlock
    when the signal lands while the main thread holds that event's lock).
    """

    def __init__(self) -> None:
        self.received = 0
        self.last_signal: signal.Signals | None = None
        self._previous: dict[signal.Signals, object] = {}

    @property
    def requested(self) -> bool:
        return self.received >= 1

    @property
    def forced(self) -> bool:
        return self.received >= 2

    def __enter__(self) -> Self:
        for sig in _SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received += 1
        self.last_signal = signal.Signals(signum)
