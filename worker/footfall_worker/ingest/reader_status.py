"""What a `CameraReader` knows of its stream, kept under one lock: the state and its transitions (logged and
told to a listener), the last error, the counters, and the `HealthSnapshot` probes and metrics read.

The reader's thread writes it; probes, metrics and the live state read it from other threads.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from footfall_contract.config import mask_credentials
from footfall_worker.ingest.stream_state import (
    ALLOWED_TRANSITIONS,
    ErrorKind,
    HealthSnapshot,
    IllegalTransition,
    RateMeter,
    StreamError,
    StreamState,
)

log = logging.getLogger("footfall.ingest")


@dataclass(frozen=True, slots=True)
class StateChange:
    channel_id: str
    old: StreamState
    new: StreamState
    at_mono: float
    error: StreamError | None


@dataclass(frozen=True, slots=True)
class HandoffCounts:
    """What the reader's hand-off and skipper say at snapshot time."""

    handed_off: int
    dropped: int
    skip_every: int


class ReaderStatus:
    """One channel's stream status; see the module docstring.

    Args:
        channel_id: on every snapshot, change and log line.
        stall_timeout_s: a STREAMING stream without a frame for longer is reported STALLED by `snapshot`.
        log_extra: the fields of every log line (channel, masked source); the reader updates "source" in place.
        on_state_change: called after every state change, never under the lock (it may read the status).
    """

    def __init__(
        self,
        channel_id: str,
        stall_timeout_s: float,
        log_extra: dict[str, object],
        on_state_change: Callable[[StateChange], None] | None = None,
    ) -> None:
        self.channel_id = channel_id
        self._stall_timeout_s = stall_timeout_s
        self._log_extra = log_extra
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._fps = RateMeter()
        self._state = StreamState.CONNECTING
        self._state_since_wall = time.time()
        self._last_frame_mono: float | None = None
        self._last_frame_wall: float | None = None
        self._last_error: StreamError | None = None
        self._seq = 0
        self._skipped = 0
        self._reconnects = 0
        self._early_reconnects = 0
        self._connect_attempts = 0
        self._ever_streamed = False
        self._size: tuple[int, int] | None = None
        self._on_fallback = False

    # -- reads ------------------------------------------------------------------------------------------
    @property
    def state(self) -> StreamState:
        with self._lock:
            return self._state

    @property
    def last_error(self) -> StreamError | None:
        with self._lock:
            return self._last_error

    @property
    def frames_read(self) -> int:
        with self._lock:
            return self._seq

    def snapshot(self, source: str, handoff: HandoffCounts) -> HealthSnapshot:
        """A consistent, credential-free view. A read blocked past the stall timeout (a camera that stops
        sending without closing) is reported as STALLED here, before the read itself gives up."""
        now_mono = time.monotonic()
        stall: StateChange | None = None
        with self._lock:
            if (
                self._state is StreamState.STREAMING
                and self._last_frame_mono is not None
                and now_mono - self._last_frame_mono > self._stall_timeout_s
            ):
                age = now_mono - self._last_frame_mono
                stall = self._set_state_locked(
                    StreamState.STALLED, self.error(ErrorKind.STALLED, f"no frame for {age:.1f} s")
                )
            snapshot = HealthSnapshot(
                channel_id=self.channel_id,
                source=source,
                state=self._state,
                state_since_wall=self._state_since_wall,
                last_frame_wall=self._last_frame_wall,
                last_frame_age_s=None if self._last_frame_mono is None else now_mono - self._last_frame_mono,
                fps=self._fps.rate(now_mono),
                frames_read=self._seq,
                frames_handed_off=handoff.handed_off,
                frames_skipped=self._skipped,
                dropped=handoff.dropped,
                reconnects=self._reconnects,
                connect_attempts=self._connect_attempts,
                skip_every=handoff.skip_every,
                last_error=self._last_error,
                width=self._size[1] if self._size else None,
                height=self._size[0] if self._size else None,
                early_reconnects=self._early_reconnects,
                on_fallback=self._on_fallback,
            )
        if stall is not None:
            self._announce(stall)
        return snapshot

    # -- writes (the reader's thread) -------------------------------------------------------------------
    @staticmethod
    def error(kind: ErrorKind, message: str) -> StreamError:
        """A `StreamError` of now, its message masked."""
        return StreamError(kind, mask_credentials(message), time.time())

    def transition(self, new: StreamState, error: StreamError | None = None) -> None:
        with self._lock:
            change = self._set_state_locked(new, error)
        if change is not None:
            self._announce(change)

    def record_error(self, error: StreamError) -> None:
        """Remember why, without a state change (a failed connect: the BACKOFF that follows carries no error)."""
        with self._lock:
            self._last_error = error

    def connect_attempt(self) -> None:
        with self._lock:
            self._connect_attempts += 1

    def reading_fallback(self, on_fallback: bool) -> None:
        with self._lock:
            self._on_fallback = on_fallback

    def early_reconnect(self) -> None:
        with self._lock:
            self._early_reconnects += 1

    def frame_skipped(self) -> None:
        with self._lock:
            self._skipped += 1

    def frame_read(self, now_mono: float, now_wall: float, shape: tuple[int, ...] | None) -> int:
        """Count a frame read (`shape` when it was decoded to an image); the first one of a connection makes
        the stream STREAMING (a reconnect when it streamed before). Returns the frame's sequence number."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._last_frame_mono, self._last_frame_wall = now_mono, now_wall
            self._fps.tick(now_mono)
            if shape is not None and self._size is None:
                self._size = (shape[0], shape[1])
            first_frame = self._state is not StreamState.STREAMING
            if first_frame:
                if self._ever_streamed and self._state is StreamState.CONNECTING:
                    self._reconnects += 1
                self._ever_streamed = True
        if first_frame:
            self.transition(StreamState.STREAMING)
        return seq

    def _set_state_locked(self, new: StreamState, error: StreamError | None = None) -> StateChange | None:
        old = self._state
        if new is old:
            if error is not None:
                self._last_error = error
            return None
        if new not in ALLOWED_TRANSITIONS[old]:
            raise IllegalTransition(f"{self.channel_id}: {old} -> {new}")
        self._state = new
        self._state_since_wall = time.time()
        if error is not None:
            self._last_error = error
        return StateChange(self.channel_id, old, new, time.monotonic(), error)

    def _announce(self, change: StateChange) -> None:
        """Log a state change and tell the listener; never under the lock (the listener may read us)."""
        extra = {**self._log_extra, "state": str(change.new)}
        if change.error is not None:
            log.warning(
                f"{change.old} -> {change.new}: {change.error.message}",
                extra={**extra, "error_kind": str(change.error.kind)},
            )
        else:
            log.info(f"{change.old} -> {change.new}", extra=extra)
        if self._on_state_change is not None:
            self._on_state_change(change)
