"""The channel's geometry drawn onto a frame (BGR, in place of a copy): lines with their "in" side, the band in
which nothing counts, zones (staff zones apart), exclusion masks. Pure OpenCV drawing: the same config gives the
same picture on any frame size, because every coordinate is relative to the frame."""

from dataclasses import dataclass

import cv2
import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig, CountingLine

# BGR; Okabe-Ito, as the report's plots
LINE = (178, 114, 0)  # blue
BAND = (233, 180, 86)  # sky blue
ZONE = (115, 158, 0)  # bluish green
STAFF = (0, 159, 230)  # orange
MASK = (0, 94, 213)  # vermillion


@dataclass(frozen=True, slots=True)
class Legend:
    kind: str  # line, zone, staff zone, exclusion mask
    id: str
    colour: tuple[int, int, int]
    where: str  # the relative coordinates, as configured


def _pixels(points: list[list[float]], width: int, height: int) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64) * [width - 1, height - 1]).astype(np.int32)


def _label(
    image: np.ndarray,
    text: str,
    at: tuple[int, int],
    colour: tuple[int, int, int],
    scale: float,
    *,
    ends_at: bool = False,
) -> None:
    """Text on a dark plate, so it reads on any picture; starting at `at`, or ending there (`ends_at`)."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    x = int(np.clip(at[0] - (w if ends_at else 0), 0, max(0, image.shape[1] - w - 4)))
    y = int(np.clip(at[1], h + 4, image.shape[0] - base - 2))
    cv2.rectangle(image, (x - 2, y - h - 4), (x + w + 2, y + base), (30, 30, 30), cv2.FILLED)
    cv2.putText(image, text, (x, y - 2), font, scale, colour, thickness, cv2.LINE_AA)


def _blend(image: np.ndarray, drawn: np.ndarray, alpha: float) -> None:
    cv2.addWeighted(drawn, alpha, image, 1 - alpha, 0, dst=image)


def _in_arrow(line: CountingLine, pts: np.ndarray, length: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """From the middle of the line's middle segment towards its in side (left of walking from the first point:
    with y down, the left of direction (dx, dy) is (dy, -dx))."""
    middle = (len(pts) - 1) // 2
    a, b = pts[middle].astype(np.float64), pts[middle + 1].astype(np.float64)
    d = (b - a) / max(np.hypot(*(b - a)), 1e-9)
    normal = np.array([d[1], -d[0]]) * (1 if line.in_side == "left" else -1)
    start = (a + b) / 2
    end = start + normal * length
    return (int(start[0]), int(start[1])), (int(end[0]), int(end[1]))


def draw_geometry(frame: np.ndarray, config: AnalyticsConfig) -> tuple[np.ndarray, list[Legend]]:
    """A copy of `frame` with the geometry drawn on it, and what was drawn, in drawing order."""
    image = frame.copy()
    height, width = image.shape[:2]
    scale = max(0.5, width / 1600)
    thick = max(2, round(width / 400))
    legend: list[Legend] = []
    shaded = image.copy()
    for mask in config.exclusion_masks:
        cv2.fillPoly(shaded, [_pixels(mask.polygon, width, height)], MASK)
    for zone in config.zones:
        cv2.fillPoly(shaded, [_pixels(zone.polygon, width, height)], STAFF if zone.staff else ZONE)
    band_px = max(1, round(config.line_band * np.hypot(width, height)))
    for line in config.lines:  # the band either side of the line in which a person's side does not change
        cv2.polylines(shaded, [_pixels(line.points, width, height)], False, BAND, 2 * band_px, cv2.LINE_AA)
    _blend(image, shaded, 0.35)
    for mask in config.exclusion_masks:
        pts = _pixels(mask.polygon, width, height)
        cv2.polylines(image, [pts], True, MASK, thick, cv2.LINE_AA)
        _label(image, f"mask {mask.id}", tuple(pts.min(axis=0)), MASK, scale)
        legend.append(Legend("exclusion mask", mask.id, MASK, str(mask.polygon)))
    for zone in config.zones:
        colour, kind = (STAFF, "staff zone") if zone.staff else (ZONE, "zone")
        pts = _pixels(zone.polygon, width, height)
        cv2.polylines(image, [pts], True, colour, thick, cv2.LINE_AA)
        _label(image, f"{kind} {zone.id}", tuple(pts.min(axis=0)), colour, scale)
        legend.append(Legend(kind, zone.id, colour, str(zone.polygon)))
    for line in config.lines:
        pts = _pixels(line.points, width, height)
        cv2.polylines(image, [pts], False, LINE, thick + 1, cv2.LINE_AA)
        start, end = _in_arrow(line, pts, length=max(40.0, 0.15 * min(width, height)))
        cv2.arrowedLine(image, start, end, LINE, thick + 1, cv2.LINE_AA, tipLength=0.25)
        # beyond the tip, on the arrow's side: never over the arrow itself
        _label(image, f"in ({line.id})", (end[0], end[1] - thick * 2), LINE, scale, ends_at=end[0] < start[0])
        legend.append(Legend("line", line.id, LINE, f"{line.points}, in side {line.in_side}"))
    return image, legend
