"""Which person crops are worth a gender classification: large, sharp and confidently detected."""

import cv2
import numpy as np

# The head sits in roughly the top third of a standing person's box; sharpness there is what matters.
_HEAD_SHARE = 0.35
_PROBE_WIDTH = 64


def crop_quality(frame: np.ndarray, box: np.ndarray, confidence: float) -> float:
    """A cheap, comparable score for one track's crop in this frame (higher is better).

    height (px) x detection confidence x sharpness of the head region, where sharpness is the variance of the
    Laplacian on a 64 px wide thumbnail (motion blur and defocus lower it), squashed to (0, 1).
    """
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
    if x2 - x1 < 4 or y2 - y1 < 8:
        return 0.0
    head = frame[y1 : y1 + max(2, int((y2 - y1) * _HEAD_SHARE)), x1:x2]
    scale = _PROBE_WIDTH / head.shape[1]
    thumb = cv2.resize(head, (_PROBE_WIDTH, max(2, int(head.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())
    return (y2 - y1) * confidence * (sharpness / (sharpness + 100.0))
