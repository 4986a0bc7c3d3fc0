"""A decoded frame and what processing needs to know about it."""

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded BGR frame of a channel.

    Attributes:
        channel_id: the channel it came from.
        seq: per-reader sequence number, counting every frame read (skipped ones too), so gaps show skips
            and drops; it keeps growing across reconnects.
        image: uint8 (H, W, 3) BGR.
        captured_mono: `time.monotonic()` when the decoder returned it (for ages and latencies).
        captured_wall: `time.time()` at the same moment (for records).
        media_s: for files, the frame's position in the video (seconds); None for live streams. A file read
            faster or slower than real time is tracked on this clock, so its tracks match a live replay's.
    """

    channel_id: str
    seq: int
    image: np.ndarray
    captured_mono: float
    captured_wall: float
    media_s: float | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.image.shape  # type: ignore[return-value]

    def age_s(self, now_mono: float | None = None) -> float:
        return (time.monotonic() if now_mono is None else now_mono) - self.captured_mono
