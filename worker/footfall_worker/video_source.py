"""Open a camera URL or a video file with OpenCV's FFMPEG backend, with bounded open and read times.

The full reader (reconnection, stall detection, latest-frame hand-off) arrives with the ingest work; this
is the one place that knows how to ask OpenCV for a stream that cannot block forever.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from footfall_worker.config import RtspUrl


class SourceError(RuntimeError):
    """The source could not be opened or stopped delivering frames; the message is credential-free."""


def open_capture(source: RtspUrl | Path, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0) -> cv2.VideoCapture:
    """Open `source`, RTSP over TCP, with timeouts so neither open nor read blocks longer than asked."""
    # FFmpeg reads its RTSP options from this variable when the capture opens; TCP avoids UDP loss/reordering.
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    target = source.reveal() if isinstance(source, RtspUrl) else str(source)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open {source}: no stream (unreachable, refused, unauthorised or not a video)")
    return capture


def read_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Yield decoded BGR frames until the source ends or a read fails."""
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        yield frame
