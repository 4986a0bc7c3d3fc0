"""A channel's stream health: the state machine, what went wrong, and the snapshot probes read."""

import enum
import time
from collections import deque
from dataclasses import dataclass


class StreamState(enum.StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    BACKOFF = "backoff"
    STOPPED = "stopped"


# Who may follow whom. STOPPED is terminal: a stopped reader is replaced, not restarted.
ALLOWED_TRANSITIONS: dict[StreamState, frozenset[StreamState]] = {
    StreamState.CONNECTING: frozenset({StreamState.STREAMING, StreamState.BACKOFF, StreamState.STOPPED}),
    StreamState.STREAMING: frozenset({StreamState.STALLED, StreamState.BACKOFF, StreamState.STOPPED}),
    StreamState.STALLED: frozenset({StreamState.STREAMING, StreamState.BACKOFF, StreamState.STOPPED}),
    StreamState.BACKOFF: frozenset({StreamState.CONNECTING, StreamState.STOPPED}),
    StreamState.STOPPED: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


class ErrorKind(enum.StrEnum):
    """Why a stream is not flowing, specific enough for an operator to act on."""

    AUTH_FAILED = "auth_failed"  # 401/403: fix the credentials (the Secret); retried meanwhile
    NOT_FOUND = "not_found"  # the camera answered but has no such stream (channel/subtype/path)
    REFUSED = "refused"  # nothing listens on the port: camera down or wrong port
    TIMEOUT = "timeout"  # no answer in time: camera hung, firewall, or no route
    UNREACHABLE = "unreachable"  # DNS failure or no route to the host
    MALFORMED_URL = "malformed_url"
    CONFIG = "config_error"  # the source cannot be built, e.g. the credentials' variables are unset
    FILE_NOT_FOUND = "file_not_found"
    NOT_VIDEO = "not_video"  # the source opened but holds no decodable video
    STREAM_LOST = "stream_lost"  # the connection dropped mid-stream
    STALLED = "stalled"  # connected, but no frame within the read timeout
    END_OF_FILE = "end_of_file"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StreamError:
    kind: ErrorKind
    message: str  # human, specific, always credential-free
    at_wall: float


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """What probes, metrics and the live state read about one channel's stream (all credential-free)."""

    channel_id: str
    source: str  # masked
    state: StreamState
    state_since_wall: float
    last_frame_wall: float | None
    last_frame_age_s: float | None
    fps: float  # frames decoded per second, measured over the last few seconds
    frames_read: int
    frames_handed_off: int
    frames_skipped: int
    dropped: int  # handed off but overwritten before processing took them
    reconnects: int  # streams re-established after a loss
    connect_attempts: int
    skip_every: int
    last_error: StreamError | None
    width: int | None
    height: int | None
    # Backoff waits a return probe ended early (the camera answered again); last, with a default, so every
    # existing construction stays valid.
    early_reconnects: int = 0
    # Reading the fallback (the main stream) because the camera has no configured stream (its sub-stream).
    on_fallback: bool = False


class RateMeter:
    """Events per second over a sliding window of the latest timestamps."""

    def __init__(self, window_s: float = 3.0, max_events: int = 512) -> None:
        self._window_s = window_s
        self._times: deque[float] = deque(maxlen=max_events)

    def tick(self, now_mono: float) -> None:
        self._times.append(now_mono)

    def rate(self, now_mono: float | None = None) -> float:
        now = time.monotonic() if now_mono is None else now_mono
        while self._times and now - self._times[0] > self._window_s:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = now - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def clear(self) -> None:
        self._times.clear()
