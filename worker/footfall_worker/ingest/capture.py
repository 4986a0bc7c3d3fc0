"""Opening a source with OpenCV's FFMPEG backend so that no call blocks for long, and saying why it failed."""

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import cv2

from footfall_contract.config import RtspUrl, mask_credentials
from footfall_worker.ingest.rtsp_probe import ProbeOutcome, probe_rtsp
from footfall_worker.ingest.stream_state import ErrorKind

# FFmpeg reads its options from this variable when a capture opens. TCP: no UDP loss or reordering on store
# uplinks, and one connection that a firewall lets through. fpsprobesize 0: an open no longer waits for ~20
# frames of real-time stream to estimate a frame rate the SDP already gives (2.3 s -> 0.7 s on a 12 fps
# camera, measured), so reconnects are quicker and a slow camera stays inside the open timeout.
# Set once, before any thread opens.
FFMPEG_CAPTURE_OPTIONS = "rtsp_transport;tcp|fpsprobesize;0"
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", FFMPEG_CAPTURE_OPTIONS)

# An open that failed after this share of its timeout ran into it, whatever the camera answers to a probe.
_TIMEOUT_SHARE = 0.8

Source = RtspUrl | Path

_PROBE_KINDS = {
    ProbeOutcome.UNAUTHORIZED: ErrorKind.AUTH_FAILED,
    ProbeOutcome.NOT_FOUND: ErrorKind.NOT_FOUND,
    ProbeOutcome.REFUSED: ErrorKind.REFUSED,
    ProbeOutcome.TIMEOUT: ErrorKind.TIMEOUT,
    ProbeOutcome.UNREACHABLE: ErrorKind.UNREACHABLE,
    ProbeOutcome.PROTOCOL_ERROR: ErrorKind.UNKNOWN,
    ProbeOutcome.OK: ErrorKind.NOT_VIDEO,
}


class SourceError(RuntimeError):
    """A source that cannot be read, with a specific kind and a credential-free message."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(mask_credentials(message))
        self.kind = kind


def as_source(text: str) -> Source:
    """`rtsp://...` (or any `scheme://`) becomes an `RtspUrl`; anything else is a file path."""
    return RtspUrl(text) if "://" in text else Path(text)


def is_file(source: Source) -> bool:
    return isinstance(source, Path)


def check_source(source: Source) -> None:
    """Reject what can never open, before trying: a malformed URL or a missing file.

    Raises:
        SourceError: MALFORMED_URL or FILE_NOT_FOUND, naming what was expected.
    """
    if isinstance(source, Path):
        if not source.is_file():
            raise SourceError(ErrorKind.FILE_NOT_FOUND, f"video file {source} does not exist")
        return
    try:
        parts = urlsplit(source.reveal())
        port = parts.port
    except ValueError as error:
        raise SourceError(ErrorKind.MALFORMED_URL, f"malformed URL {source}: {error}") from None
    if parts.scheme not in ("rtsp", "rtsps"):
        raise SourceError(ErrorKind.MALFORMED_URL, f"malformed URL {source}: expected an rtsp:// or rtsps:// URL")
    if not parts.hostname:
        raise SourceError(ErrorKind.MALFORMED_URL, f"malformed URL {source}: expected a host after rtsp://")
    if port == 0:
        raise SourceError(ErrorKind.MALFORMED_URL, f"malformed URL {source}: port 0 is not a camera port")


def diagnose_open_failure(source: Source, timeout_s: float, blocked_s: float = 0.0) -> SourceError:
    """Why OpenCV could not open `source` (it only says "not opened"): ask the camera ourselves.

    `blocked_s`, how long the open took, tells a camera too slow to start its stream (an open cut off by its
    timeout: retry soon) from one whose stream cannot be decoded (it failed at once: a configuration matter)."""
    if isinstance(source, Path):
        return SourceError(ErrorKind.NOT_VIDEO, f"{source} holds no video OpenCV can decode")
    result = probe_rtsp(source.reveal(), timeout_s)
    kind = _PROBE_KINDS[result.outcome]
    if kind is ErrorKind.NOT_VIDEO and blocked_s >= _TIMEOUT_SHARE * timeout_s:
        return SourceError(
            ErrorKind.TIMEOUT,
            f"cannot open {source}: the camera answers, but its stream gave no decodable frame within"
            f" the {timeout_s:g} s open timeout",
        )
    if kind is ErrorKind.NOT_VIDEO:
        return SourceError(
            kind, f"cannot decode the stream of {source}: the camera answers, OpenCV/FFmpeg cannot read it"
        )
    return SourceError(kind, f"cannot open {source}: {result.detail}")


def open_capture(source: Source, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0) -> cv2.VideoCapture:
    """Open `source` with bounded open and read times.

    Raises:
        SourceError: with a specific kind (auth, refused, timeout, not found, not video, malformed, ...).
    """
    check_source(source)
    target = source.reveal() if isinstance(source, RtspUrl) else str(source)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    began = time.monotonic()
    capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    if not capture.isOpened():
        blocked_s = time.monotonic() - began
        capture.release()
        raise diagnose_open_failure(source, open_timeout_s, blocked_s)
    return capture
