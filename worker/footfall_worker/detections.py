"""`Detections`: the one container of person boxes that every stage passes on."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Detections:
    """People found in one frame.

    Attributes:
        xyxy: float32 array (n, 4) of boxes `x1, y1, x2, y2` in source-frame pixels.
        confidence: float32 array (n,) of person scores in [0, 1], highest first as the detector returns them.
    """

    xyxy: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy: expected shape (n, 4), got {self.xyxy.shape}")
        if self.confidence.shape != (self.xyxy.shape[0],):
            raise ValueError(
                f"Detections.confidence: expected shape ({self.xyxy.shape[0]},), got {self.confidence.shape}"
            )

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: np.ndarray | slice) -> "Detections":
        """Select by index array, boolean mask or slice; always returns `Detections`."""
        return Detections(self.xyxy[index].reshape(-1, 4), self.confidence[index].reshape(-1))

    def above(self, min_confidence: float) -> "Detections":
        """The detections scoring at least `min_confidence`."""
        return self[self.confidence >= min_confidence]
