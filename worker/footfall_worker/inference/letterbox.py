"""The person detector's letterbox, done in the worker, and the way back to source-frame pixels.

A worker pod cannot share memory with Triton's pod, so whatever it sends crosses the network: a 1080p frame
is 6.2 MB, its 416 letterbox 0.3 MB. The worker therefore letterboxes each frame exactly as the model's own
preprocessing does (models/person_detector/1/yolox.py `letterbox`: scale r = min(S/H, S/W), truncated to
whole pixels, bilinear, placed at the top-left of a canvas of 114 whose sides are the scaled frame's rounded up
to a multiple of 32, e.g. 416 x 256 for 16:9) and sends the canvas. The model's letterbox of such a canvas at
input size S is an identity (r = 1, no resize, no padding added), so the network sees the very same pixels as
when the full frame is sent. Cameras of one aspect ratio send one shape whatever their resolution (1080p, 720p
and 4 MP are all 416 x 256), which Triton's dynamic batcher batches across channels.

What the model returns are then boxes in canvas pixels, clipped to the canvas; `to_source` divides by r
(as the model would have), clips to the source frame and drops boxes under 1 px, as the model does for a
full frame. One difference remains: the model suppresses overlapping boxes (NMS) after clipping them to the
image it was given, so two boxes reaching past the frame's right or bottom edge into the padding compare
with their padded parts here and without them for a full frame; a box at an IoU near the NMS threshold can
then survive on one path only. Not seen on the committed footage: over 1013 frames of the four clips (native and
upscaled to 1080p) all 1283 boxes down to the 0.1 floor were identical to the full-frame path's
(tests/inference/test_worker_letterbox.py compares them at six aspect ratios).
"""

import cv2
import numpy as np

# YOLOX's padding value, the model's default side when its config does not say, and what each canvas side is
# rounded up to (the head's coarsest stride) (models/person_detector/1/yolox.py).
PAD_VALUE = 114
DEFAULT_INPUT_SIZE = 416
CANVAS_MULTIPLE = 32


def letterbox_scale(height: int, width: int, size: int) -> tuple[float, int, int]:
    """The letterbox of a `height` x `width` frame at side `size`: `(r, new_height, new_width)`.

    The same arithmetic as yolox.py (Python floats, truncation, at least 1 px), so the canvas is bit-identical.
    """
    r = min(size / height, size / width)
    return r, max(1, int(height * r)), max(1, int(width * r))


def canvas_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The canvas a `height` x `width` frame is letterboxed onto at side `size`: the scaled frame's sides, each
    rounded up to a multiple of `CANVAS_MULTIPLE` (so at most `size`, which is one)."""
    _, new_h, new_w = letterbox_scale(height, width, size)
    return -(-new_h // CANVAS_MULTIPLE) * CANVAS_MULTIPLE, -(-new_w // CANVAS_MULTIPLE) * CANVAS_MULTIPLE


def letterbox_into(frame: np.ndarray, canvas: np.ndarray, size: int) -> float:
    """Letterbox `frame` (H, W, 3 uint8) at side `size` into the top-left of `canvas` (already `PAD_VALUE`).

    Returns:
        The scale r: canvas pixels per source pixel.
    """
    height, width = frame.shape[:2]
    r, new_h, new_w = letterbox_scale(height, width, size)
    if (new_h, new_w) == (height, width):
        canvas[:new_h, :new_w] = frame
    else:
        # OpenCV wants each pixel's 3 bytes contiguous; a strided view (frame[:, ::2]) is copied first.
        source = frame if frame.strides[1:] == (3, 1) else np.ascontiguousarray(frame)
        canvas[:new_h, :new_w] = cv2.resize(source, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return r


def letterbox_batch(frames: list[np.ndarray], size: int) -> tuple[np.ndarray, list[float]]:
    """Letterbox frames of any sizes into one `[B, height, width, 3]` uint8 batch; returns it and each frame's r.

    The batch's canvas is the largest of the frames' canvases on each side (one of which is `size`), so the
    model's letterbox of it is still an identity; frames of one size share one shape."""
    shapes = [canvas_shape(frame.shape[0], frame.shape[1], size) for frame in frames]
    height, width = max(h for h, _ in shapes), max(w for _, w in shapes)
    batch = np.full((len(frames), height, width, 3), PAD_VALUE, dtype=np.uint8)
    scales = [letterbox_into(frame, batch[i], size) for i, frame in enumerate(frames)]
    return batch, scales


def to_source(
    boxes: np.ndarray, scores: np.ndarray, r: float, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes in canvas pixels (xyxy) -> source-frame pixels: divided by r, clipped to the frame, < 1 px dropped.

    Args:
        boxes: (n, 4) float32 xyxy in canvas pixels, as the model returns them for a letterboxed request.
        scores: (n,) float32, score-descending (kept in that order).
        r: the letterbox scale of the frame (`letterbox_scale`).
        height, width: the source frame's size.

    Returns:
        `(boxes, scores)`: float32 (k, 4) xyxy in source pixels and (k,), k <= n.
    """
    mapped = boxes.astype(np.float32, copy=True) / np.float32(r)
    mapped[:, [0, 2]] = np.clip(mapped[:, [0, 2]], 0, width)
    mapped[:, [1, 3]] = np.clip(mapped[:, [1, 3]], 0, height)
    keep = ((mapped[:, 2] - mapped[:, 0]) >= 1) & ((mapped[:, 3] - mapped[:, 1]) >= 1)
    return mapped[keep], scores[keep].astype(np.float32, copy=True)
