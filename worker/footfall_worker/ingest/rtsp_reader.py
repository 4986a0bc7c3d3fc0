"""`CameraReader`: one channel's stream on its own thread, handed to processing newest-first.

    reader = CameraReader("channel_1", channel.url(), ReaderSettings()).start()
    while (frame := reader.get(timeout=1.0)) is not None or reader.running:
        ...
    reader.stop()

The thread walks CONNECTING -> STREAMING -> (STALLED ->) BACKOFF -> CONNECTING ... until `stop()`, which
ends it in STOPPED within the read (or open) timeout. It never raises into the caller: every failure is a
state, a specific `StreamError` and a log line, with the URL masked.

Full reconnects keep the backoff schedule (an open is expensive, and a dead camera should not be hammered),
but while it backs off from a camera that went away, a cheap RTSP OPTIONS every `return_probe_interval_s`
notices the camera's return (`camera_return.py`), and the reader reconnects at once instead of sleeping out
the step.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Self

import cv2

from footfall_contract.config import ConfigError
from footfall_worker.ingest.camera_return import wait_or_return
from footfall_worker.ingest.capture import Source, SourceError, is_file, open_capture
from footfall_worker.ingest.frames import Frame
from footfall_worker.ingest.handoff import LatestItems
from footfall_worker.ingest.reader_status import HandoffCounts, ReaderStatus, StateChange
from footfall_worker.ingest.skipping import FrameSkipper
from footfall_worker.ingest.stream_state import ErrorKind, HealthSnapshot, StreamError, StreamState
from footfall_worker.retry import Backoff
from footfall_worker.settings import ReaderSettings

log = logging.getLogger("footfall.ingest")

# A failed read that blocked this share of the read timeout ran into it: the camera went silent (stall),
# rather than closing the connection (which fails a read at once).
_TIMEOUT_SHARE = 0.8


class CameraReader:
    """Reads one channel on a daemon thread; see the module docstring.

    Args:
        channel_id: the channel, on every frame, log line and snapshot.
        source: an `RtspUrl`, a video file `Path`, or a callable returning one (asked before every connect).
        settings: timeouts, hand-off size, skipping, backoff, replay mode.
        fallback: a source (or callable) opened at once when `source` answers 404 NOT_FOUND, e.g. the main
            stream of a camera whose sub-stream is switched off; `source` is tried first again on every connect,
            so a sub-stream switched on later is taken up at the next reconnect.
        on_state_change: called on the reader thread after every state change (keep it quick).
    """

    def __init__(
        self,
        channel_id: str,
        source: Source | Callable[[], Source],
        settings: ReaderSettings | None = None,
        on_state_change: Callable[[StateChange], None] | None = None,
        fallback: Source | Callable[[], Source] | None = None,
    ) -> None:
        self.channel_id = channel_id
        # A callable is asked again before every connect, so a password fixed in a mounted Secret is picked up
        # without a restart.
        self._source_provider: Callable[[], Source] = source if callable(source) else (lambda: source)
        self.source: Source | None = source if not callable(source) else None
        self._fallback_provider: Callable[[], Source] | None = (
            None if fallback is None else fallback if callable(fallback) else (lambda: fallback)
        )
        self.settings = settings or ReaderSettings()
        self.frames: LatestItems[Frame] = LatestItems(self.settings.handoff_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader-{channel_id}", daemon=True)
        self._backoff = Backoff(
            self.settings.backoff_initial_s,
            self.settings.backoff_factor,
            self.settings.backoff_max_s,
            self.settings.backoff_jitter,
        )
        self._skipper = FrameSkipper(
            self.settings.process_every,
            self.settings.adaptive_skip,
            max(self.settings.max_skip, self.settings.process_every),
        )
        self._log_extra: dict[str, object] = {"channel": channel_id, "source": self._source_label()}
        self.status = ReaderStatus(channel_id, self.settings.stall_timeout_s, self._log_extra, on_state_change)

    # -- public ---------------------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop reading; returns True once the thread has ended (at most about the read/open timeout)."""
        self._stop.set()
        self.frames.close()
        if self._thread.is_alive():
            limit = max(self.settings.read_timeout_s, self.settings.open_timeout_s) + 1.0
            self._thread.join(limit if timeout_s is None else timeout_s)
        return not self._thread.is_alive()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame to process (oldest of the few kept), or None on timeout or after stop."""
        return self.frames.get(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def state(self) -> StreamState:
        return self.snapshot().state

    def snapshot(self) -> HealthSnapshot:
        """A consistent, credential-free view for probes, metrics and the live state (`ReaderStatus.snapshot`:
        a read blocked past `stall_timeout` is reported as STALLED before the read itself gives up)."""
        handoff = HandoffCounts(self.frames.put_count, self.frames.dropped, self._skipper.current)
        return self.status.snapshot(self._source_label(), handoff)

    def _source_label(self) -> str:
        """The source for logs and snapshots: masked (RtspUrl's str), or a placeholder before it is known."""
        return str(self.source) if self.source is not None else "<not yet resolved>"

    # -- the thread -------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.status.transition(StreamState.CONNECTING)
                capture = self._connect()
                if capture is not None:
                    connected_at = time.monotonic()
                    try:
                        error = self._stream(capture)
                    finally:
                        capture.release()
                    if error is None:  # stop requested
                        break
                    if error.kind is ErrorKind.END_OF_FILE:
                        self.status.transition(StreamState.STOPPED, error)
                        return
                    if time.monotonic() - connected_at >= self.settings.stable_after_s:
                        self._backoff.reset()
                    self.status.transition(StreamState.BACKOFF, error)
                else:
                    self.status.transition(StreamState.BACKOFF)
                self._wait_backoff()
        except Exception as error:  # noqa: BLE001 - the thread must end in a state, never silently
            log.exception("reader thread failed", extra=self._log_extra)
            self.status.record_error(ReaderStatus.error(ErrorKind.UNKNOWN, f"{type(error).__name__}: {error}"))
        finally:
            self.frames.close()
            self.status.transition(StreamState.STOPPED)

    def _wait_backoff(self) -> None:
        delay = self._backoff.next_delay()
        log.info(
            f"reconnecting in {delay:.1f} s",
            extra={**self._log_extra, "delay_s": round(delay, 2), "attempt": self._backoff.attempts},
        )
        started = time.monotonic()
        error = self.status.last_error
        if wait_or_return(self._stop, delay, self.source, error, self.settings.return_probe_interval_s):
            self.status.early_reconnect()
            waited = time.monotonic() - started
            log.info(
                f"camera answers again: reconnecting now, after {waited:.1f} s of the {delay:.1f} s backoff",
                extra={**self._log_extra, "waited_s": round(waited, 2), "delay_s": round(delay, 2)},
            )

    def _connect(self) -> cv2.VideoCapture | None:
        self.status.connect_attempt()
        try:
            try:
                capture = self._open(self._source_provider)
            except SourceError as error:
                if error.kind is not ErrorKind.NOT_FOUND or self._fallback_provider is None:
                    raise
                log.warning(
                    f"{error}; reading the fallback stream instead", extra={**self._log_extra, "fallback": True}
                )
                capture = self._open(self._fallback_provider)
                self.status.reading_fallback(True)
                return capture
            self.status.reading_fallback(False)
            return capture
        except ConfigError as error:  # e.g. the credentials' environment variables are not set
            self.status.record_error(ReaderStatus.error(ErrorKind.CONFIG, str(error)))
            log.warning(str(error), extra={**self._log_extra, "error_kind": str(ErrorKind.CONFIG)})
            return None
        except SourceError as error:
            self.status.record_error(ReaderStatus.error(error.kind, str(error)))
            log.warning(str(error), extra={**self._log_extra, "error_kind": str(error.kind)})
            return None
        except cv2.error as error:
            self.status.record_error(ReaderStatus.error(ErrorKind.UNKNOWN, f"OpenCV: {error}"))
            return None

    def _open(self, provider: Callable[[], Source]) -> cv2.VideoCapture:
        self.source = provider()
        self._log_extra["source"] = self._source_label()
        return open_capture(self.source, self.settings.open_timeout_s, self.settings.read_timeout_s)

    def _stream(self, capture: cv2.VideoCapture) -> StreamError | None:
        """Read until a failure (returned) or a stop (None)."""
        pace_s = self._pace(capture)
        from_file = self.source is not None and is_file(self.source)
        exhaustive = self.settings.replay_exhaustive and from_file
        next_due = time.monotonic()
        frames_this_connection = 0
        media_base = last_media_s = 0.0
        on_demand = self.settings.on_demand and not exhaustive
        while not self._stop.is_set():
            take = self._skipper.should_process()
            if on_demand and take and self.frames.backlog:
                take = False  # processing is busy and a frame already waits for it: converting this one is waste
            started = time.monotonic()
            if take:
                ok, image = capture.read()
            else:
                ok, image = capture.grab(), None
            now_mono, now_wall = time.monotonic(), time.time()
            if not ok:
                if frames_this_connection and self._rewound(capture):
                    # The media clock keeps running across a loop, so tracking never sees time go back.
                    media_base = last_media_s + (pace_s or 1.0 / 25)
                    continue
                return self._read_failure(frames_this_connection, now_mono - started)
            frames_this_connection += 1
            seq = self.status.frame_read(now_mono, now_wall, None if image is None else image.shape)
            if take:
                media_s = None
                if from_file:
                    media_s = last_media_s = media_base + capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                frame = Frame(self.channel_id, seq, image, now_mono, now_wall, media_s)
                self.frames.put(frame, block=exhaustive)
                self._skipper.handed_off(self.frames.dropped)
            else:
                self.status.frame_skipped()
            if pace_s:
                next_due = max(next_due + pace_s, now_mono - pace_s)
                self._stop.wait(max(0.0, next_due - time.monotonic()))
        return None

    def _rewound(self, capture: cv2.VideoCapture) -> bool:
        """A looping file starts over on the same capture: no reconnect, no state change."""
        if not (self.settings.replay_loop and self.source is not None and is_file(self.source)):
            return False
        return bool(capture.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def _pace(self, capture: cv2.VideoCapture) -> float:
        """Seconds between frames when a file is replayed like a camera; 0 to read as fast as possible."""
        if not (self.source is not None and is_file(self.source) and self.settings.replay_realtime):
            return 0.0
        fps = capture.get(cv2.CAP_PROP_FPS)
        return 1.0 / fps if fps and fps > 0 else 0.0

    def _read_failure(self, frames_this_connection: int, blocked_s: float) -> StreamError:
        if self.source is not None and is_file(self.source):
            if frames_this_connection == 0 and self.status.frames_read == 0:
                return ReaderStatus.error(ErrorKind.NOT_VIDEO, f"{self.source} opened but yielded no frame")
            return ReaderStatus.error(ErrorKind.END_OF_FILE, f"end of {self.source}")
        if blocked_s >= _TIMEOUT_SHARE * self.settings.read_timeout_s:
            error = ReaderStatus.error(ErrorKind.STALLED, f"no frame for {blocked_s:.1f} s (read timeout)")
            if self.state is StreamState.STREAMING:
                self.status.transition(StreamState.STALLED, error)
            return error
        if frames_this_connection == 0:
            return ReaderStatus.error(ErrorKind.STREAM_LOST, f"{self.source} opened but the first read failed")
        return ReaderStatus.error(ErrorKind.STREAM_LOST, f"connection to {self.source} lost")
