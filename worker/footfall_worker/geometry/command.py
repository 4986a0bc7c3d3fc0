"""`footfall draw`: a channel's geometry over a frame of its camera, as geometry.html (and geometry.png).

footfall draw --cameras input/cameras_config/kidsplaza_thanhxuan.json --channel channel_4 --out geometry/
footfall draw --cameras config/demo_store.json --channel channel_1 --image frame.jpg --out geometry/

The frame comes from --image, else --source (a video file or rtsp:// URL), else the channel's camera. People in
it are pixelated before anything is written, from the detector's boxes (Triton at --triton, default
FOOTFALL_TRITON_URL); when Triton cannot be asked the whole frame is blurred instead. --keep-people writes the
frame as it is. Exit codes: 0 written, 2 bad input (config, channel, frame), 1 the camera gave no frame.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from footfall_contract.config import ConfigError, RtspUrl, load_store_config, mask_credentials
from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.geometry.overlay import draw_geometry
from footfall_worker.geometry.page import png_bytes, render
from footfall_worker.ingest.capture import Source, SourceError, as_source, open_capture
from footfall_worker.ingest.stream_state import ErrorKind

PIXEL_BLOCK = 12  # pixelation cell in pixels: no face survives it at store-camera distances
MAX_IMAGE_BYTES = 64 * 2**20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall draw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", required=True, help="store config JSON")
    parser.add_argument("--channel", required=True, help="channel id in it")
    parser.add_argument("--out", type=Path, required=True, help="directory for geometry.html and geometry.png")
    parser.add_argument("--image", type=Path, help="a picture to draw on instead of a frame from the camera")
    parser.add_argument("--source", help="a video file or rtsp:// URL to take the frame from instead")
    parser.add_argument("--skip", type=int, default=25, help="frames to skip before the one drawn on (0-10000)")
    parser.add_argument("--triton", default=os.environ.get("FOOTFALL_TRITON_URL") or "127.0.0.1:8001")
    parser.add_argument("--keep-people", action="store_true", help="write the frame without hiding people")
    return parser


def read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ConfigError(f"--image {path}: no such file")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise ConfigError(f"--image {path}: larger than {MAX_IMAGE_BYTES >> 20} MiB")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"--image {path}: not a picture OpenCV can read (expected PNG or JPEG)")
    return image


def grab_frame(source: Source, skip: int) -> np.ndarray:
    """A frame `skip` frames into the stream (the first frames of a camera are often grey or half-drawn)."""
    capture = open_capture(source, 5.0, 5.0)
    try:
        frame = None
        for _ in range(skip + 1):
            ok, image = capture.read()
            if not ok:
                break
            frame = image
    finally:
        capture.release()
    if frame is None:
        raise SourceError(ErrorKind.NOT_VIDEO, f"{source} opened, but gave no frame")
    return frame


def hide_people(frame: np.ndarray, triton_url: str) -> tuple[np.ndarray, str]:
    """The frame with every detected person pixelated; the whole frame blurred when detection is not possible."""
    from footfall_worker.inference import PersonDetector, TritonConnection
    from footfall_worker.inference.errors import InferenceError
    from footfall_worker.settings import TritonSettings

    connection = TritonConnection(TritonSettings(url=triton_url, retries=0))  # type: ignore[call-arg]
    detector = PersonDetector(connection)
    try:
        boxes = detector.detect_one(frame).xyxy
    except InferenceError as error:
        sigma = max(4.0, frame.shape[1] / 160)
        hidden = cv2.GaussianBlur(frame, (0, 0), sigma)
        return hidden, f"People could not be found ({error}): the whole frame is blurred."
    finally:
        detector.close()  # its shared memory region, when Triton is on this host
        connection.close()
    hidden = frame.copy()
    height, width = frame.shape[:2]
    for x1, y1, x2, y2 in boxes.astype(int).tolist():
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        cell = hidden[y1:y2, x1:x2]
        small = cv2.resize(cell, (max(1, (x2 - x1) // PIXEL_BLOCK), max(1, (y2 - y1) // PIXEL_BLOCK)))
        hidden[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    return hidden, f"{len(boxes)} people found by the detector are pixelated."


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not 0 <= args.skip <= 10_000:
            raise ConfigError(f"--skip {args.skip}: expected 0 to 10000 frames")
        store = load_store_config(args.cameras)
        channel = store.channel(args.channel)
        analytics = channel.analytics or AnalyticsConfig()
        if args.image is not None:
            frame, origin = read_image(args.image), f"picture {args.image.name}"
        else:
            source: Source = as_source(args.source) if args.source else channel.url()
            shown = mask_credentials(str(source)) if isinstance(source, RtspUrl) else str(source)
            frame, origin = grab_frame(source, args.skip), f"frame {args.skip} of {shown}"
    except ConfigError as error:
        print(f"footfall draw: error: {error}", file=sys.stderr)
        return 2
    except SourceError as error:
        print(f"footfall draw: no frame: {error}", file=sys.stderr)
        return 1
    if args.keep_people:
        privacy = "People are not hidden (--keep-people): do not share this page."
    else:
        frame, privacy = hide_people(frame, args.triton)
    drawn, legend = draw_geometry(frame, analytics)
    picture = png_bytes(drawn)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "geometry.png").write_bytes(picture)
    title = f"{store.store_name}: {channel.name} ({channel.id})"
    where = f"Geometry of channel {channel.id} over {origin}, {frame.shape[1]}x{frame.shape[0]}."
    (args.out / "geometry.html").write_text(render(title, where, privacy, picture, legend), encoding="utf-8")
    print(f"footfall draw: wrote {args.out / 'geometry.html'} and geometry.png")
    return 0
