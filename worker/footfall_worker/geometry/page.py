"""The geometry page: one self-contained HTML file (the picture as a PNG data URI, inline CSS, no script) with a
legend of what is drawn and where, in the relative coordinates the config uses."""

import base64
from collections.abc import Sequence
from html import escape

import cv2
import numpy as np

from footfall_worker.geometry.overlay import Legend

_CSS = """
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; color: #222; margin: 0 auto; max-width: 1320px;
       padding: 20px 28px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
p { margin: 4px 0; color: #444; }
img { width: 100%; height: auto; display: block; margin: 12px 0; border: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #eef4fa; }
span.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #333; vertical-align: middle; }
"""


def png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("the picture could not be encoded as PNG")
    return encoded.tobytes()


def render(title: str, where: str, privacy: str, picture: bytes, legend: Sequence[Legend]) -> str:
    rows = "".join(
        f"<tr><td><span class='swatch' style='background: rgb({item.colour[2]}, {item.colour[1]}, {item.colour[0]})'>"
        f"</span> {escape(item.kind)}</td><td>{escape(item.id)}</td><td>{escape(item.where)}</td></tr>"
        for item in legend
    )
    encoded = base64.b64encode(picture).decode("ascii")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(where)}</p><p>{escape(privacy)}</p>"
        f"<img alt='{escape(title)}' src='data:image/png;base64,{encoded}'>"
        "<p>Lines: a person's feet (the bottom centre of their box) crossing towards the arrow count in, the other "
        "way out; inside the pale band along a line nothing changes (box jitter never counts). Zones: feet inside "
        "are in the zone; a staff zone makes whoever appears in it, or stays, staff. Exclusion masks: detections "
        "with their feet inside are dropped (a mannequin, a poster).</p>"
        "<table><thead><tr><th>what</th><th>id</th><th>where (relative to the frame: x from the left, y from "
        f"the top, 0-1)</th></tr></thead><tbody>{rows}</tbody></table></body></html>\n"
    )
