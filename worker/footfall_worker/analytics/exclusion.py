"""Exclusion masks: the channel's areas where whatever the detector finds is not a person.

A mannequin, a poster or a sign post the detector keeps taking for a person would be tracked, dwell in zones
for hours and, jittering near a line, might even count. The store admin draws a mask around its feet; every
detection whose anchor (the bottom centre of its box, the same point counting uses) lies inside any mask is
dropped before tracking, so it never gets a track, a gender or a count. Judging by the feet, not by overlap,
keeps a real person walking past in front of the mannequin: their feet stand outside the mask even when their
box covers it.
"""

from collections.abc import Sequence

import numpy as np

from footfall_contract.config.geometry import ExclusionMask
from footfall_worker.analytics.line_state import anchors
from footfall_worker.analytics.polygon import inside_polygon
from footfall_worker.detections import Detections


class ExclusionMasks:
    """Drops the detections whose anchor lies inside any of a channel's masks.

    The masks are relative to the frame; their pixel corners are computed once per frame size and kept until
    the size changes (a camera switched to another resolution). Not thread-safe: it belongs to the channel's
    processing loop.
    """

    def __init__(self, masks: Sequence[ExclusionMask]) -> None:
        self._relative = [np.asarray(mask.polygon, dtype=np.float64) for mask in masks]
        self._frame_size: tuple[int, int] | None = None
        self._pixels: list[np.ndarray] = []

    def __len__(self) -> int:
        """How many masks; falsy when there are none, so a caller may skip `keep` entirely."""
        return len(self._relative)

    def keep(self, detections: Detections, frame_size: tuple[int, int]) -> Detections:
        """The detections whose anchor is outside every mask, in their original order.

        Args:
            detections: the frame's detections, boxes in pixels of that frame.
            frame_size: (width, height) of the frame in pixels.
        """
        if not self._relative or len(detections) == 0:
            return detections
        points = anchors(detections.xyxy)
        masked = np.zeros(len(detections), dtype=bool)
        for corners in self._corners(frame_size):
            masked |= inside_polygon(points, corners)
        return detections if not masked.any() else detections[~masked]

    def _corners(self, frame_size: tuple[int, int]) -> list[np.ndarray]:
        # a plain tuple, so a list or a numpy shape of the same size hits the cache too
        frame_size = (int(frame_size[0]), int(frame_size[1]))
        if frame_size != self._frame_size:
            scale = np.array(frame_size, dtype=np.float64)
            self._pixels = [relative * scale for relative in self._relative]
            self._frame_size = frame_size
        return self._pixels
