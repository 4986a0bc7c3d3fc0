"""Point-in-polygon for many points at once: the one test that zones and exclusion masks share."""

import numpy as np


def inside_polygon(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Which of `points` (n, 2) lie inside the polygon `corners` (k, 2), as a bool array (n,).

    Even-odd ray casting against every edge at once (numpy, no loop over points): a point is inside when a ray
    to its right crosses the outline an odd number of times, so a self-crossing outline still has an answer. A
    point exactly on an edge may fall either way; anchors are not placed that precisely.
    """
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1 = corners[:, 0], corners[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    # a horizontal edge never straddles, so its division by zero is masked out by `straddles`
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.count_nonzero(straddles & (x < crossing_x), axis=1) % 2 == 1
