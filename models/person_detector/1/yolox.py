"""YOLOX-Nano person detection: letterbox, onnxruntime or OpenVINO run, decode, NMS.

Pure numpy/OpenCV code shared by the Triton python-backend model (``model.py`` beside this file) and by
benches that run the runtimes in-process. Nothing here imports Triton; the runtimes are in ``yolox_runtimes.py``
(onnxruntime and openvino are imported only by the runner that uses them).

Model facts (YOLOX-Nano COCO ONNX export, ``model.onnx``; its input height and width are left free by
``hack/dynamic-detector.py``, so any multiple of 32 runs): input ``images`` float32 NCHW, BGR 0..255, no
normalisation, letterboxed at the top-left with 114; output ``output`` [B, N, 85] = (cx, cy, w, h raw,
objectness, 80 class scores), decoded with xy = (xy + grid) * stride, wh = exp(wh) * stride for strides 8, 16,
32 (row-major grids, concatenated). Person = COCO class 0, person score = objectness * class-0 score.

The canvas is not square: a frame is scaled to fit ``size`` x ``size`` (as YOLOX does) and padded only up to
the next multiple of 32 on each side, so a 16:9 frame at 416 runs on 416x256 instead of 416x416: the same
pixels at the same scale, 0.62 of the work (bench/detector_levers_bench.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from yolox_runtimes import (
    DEFAULT_INPUT_SIZE,
    RUNTIMES,
    OnnxRuntimeRunner,
    OpenVinoRunner,
)

STRIDES: tuple[int, ...] = (8, 16, 32)
# a canvas side must be a multiple of the coarsest stride: the head's grids are side / stride cells
CANVAS_MULTIPLE = max(STRIDES)
PAD_VALUE = 114
PERSON_CLASS = 0


def canvas_side(pixels: int) -> int:
    """The canvas side that holds ``pixels``: the next multiple of ``CANVAS_MULTIPLE``."""
    return -(-pixels // CANVAS_MULTIPLE) * CANVAS_MULTIPLE


def letterbox(
    image: np.ndarray, size: int, pad_value: int = PAD_VALUE, square: bool = False
) -> tuple[np.ndarray, float]:
    """Resize an image to fit ``size`` x ``size``, placed at the top-left of a canvas padded with ``pad_value``.

    Args:
        image: ``[H, W, 3]`` uint8 BGR image.
        size: the longest canvas side (the model's input size; a multiple of 32).
        pad_value: value of the padding right of and below the resized image.
        square: pad to ``size`` x ``size`` (YOLOX's own preprocessing, which a fixed-shape export needs) instead
            of only to the next multiple of 32 on each side.

    Returns:
        ``(canvas, r)``: the uint8 canvas and the scale ``r = min(size/H, size/W)``; a point in the canvas maps
        to source pixels by dividing by ``r``. An image that already is such a canvas comes back unchanged
        (r = 1), which is what lets a client letterbox before sending.
    """
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    # as YOLOX's own preproc: truncate, bilinear (what the weights were trained and evaluated with)
    nh, nw = max(1, int(h * r)), max(1, int(w * r))
    shape = (size, size) if square else (canvas_side(nh), canvas_side(nw))
    canvas = np.full((*shape, 3), pad_value, dtype=np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else image
    return canvas, r


def to_blob(canvases: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack ``[S, S, 3]`` uint8 BGR canvases into the network's ``[B, 3, S, S]`` float32 input (0..255)."""
    batch = np.stack(list(canvases)) if not isinstance(canvases, np.ndarray) else canvases
    if batch.ndim == 3:
        batch = batch[None]
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def make_grids(
    height: int, width: int | None = None, strides: Sequence[int] = STRIDES
) -> tuple[np.ndarray, np.ndarray]:
    """Anchor grid of a YOLOX head for a ``height`` x ``width`` input (``width`` None: square).

    Returns:
        ``(grid, stride)``: ``[N, 2]`` float32 (x, y) cell indices, row-major per level, levels in
        ``strides`` order, and ``[N, 1]`` float32 stride per anchor. ``N = sum((height/s) * (width/s))``
        (3549 at 416x416, 2184 at 256x416, 8400 at 640x640).
    """
    width = height if width is None else width
    grids, strides_out = [], []
    for s in strides:
        rows, cols = height // s, width // s
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides_out.append(np.full((rows * cols, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides_out).astype(np.float32)


def decode_person(
    raw: np.ndarray, grid: np.ndarray, stride: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one image's raw YOLOX output into person boxes above a score floor.

    Args:
        raw: ``[N, 85]`` raw head output for one image.
        grid, stride: from :func:`make_grids` for the same input size.
        min_score: keep anchors whose person score (objectness * class-0 score) is >= this.

    Returns:
        ``(boxes, scores)``: ``[K, 4]`` float32 xyxy in network-input (letterbox) pixels and ``[K]`` float32
        scores, in anchor order (not sorted, not NMS'd).
    """
    scores = raw[:, 4] * raw[:, 5 + PERSON_CLASS]
    idx = np.nonzero(scores >= min_score)[0]
    if idx.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    sel = raw[idx]
    xy = (sel[:, 0:2] + grid[idx]) * stride[idx]
    wh = np.exp(sel[:, 2:4]) * stride[idx]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1).astype(np.float32)
    return boxes, scores[idx].astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``[K, 4]`` xyxy.
        scores: ``[K]``.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scoring box is > this.
            Lower merges more (fewer duplicates, but people standing close together can merge).
        max_keep: stop after this many kept boxes (``None``: no limit).

    Returns:
        int64 indices of the kept boxes, by descending score (ties keep the lower index first).
    """
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if max_keep is not None and len(keep) >= max_keep:
            break
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def postprocess(
    raw: np.ndarray,
    r: float,
    image_hw: tuple[int, int],
    grid: np.ndarray,
    stride: np.ndarray,
    min_score: float = 0.1,
    nms_iou: float = 0.45,
    max_detections: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX output of one image -> person boxes in source pixels.

    Args:
        raw: ``[N, 85]`` raw output for one image.
        r: letterbox scale from :func:`letterbox`.
        image_hw: source image ``(H, W)``; boxes are clipped to ``[0, W] x [0, H]``.
        grid, stride: from :func:`make_grids`.
        min_score: score floor. Low (0.1) on purpose: ByteTrack's second association stage uses
            low-score boxes; callers filter higher for counting.
        nms_iou: NMS IoU threshold.
        max_detections: cap on returned boxes.

    Returns:
        ``(boxes, scores)``: ``[K, 4]`` float32 xyxy in source pixels and ``[K]`` float32, sorted by score
        descending. Boxes narrower or lower than 1 px after clipping are dropped.
    """
    boxes, scores = decode_person(raw, grid, stride, min_score)
    if scores.size == 0:
        return boxes, scores
    h, w = image_hw
    boxes = boxes / np.float32(r)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    ok = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    boxes, scores = boxes[ok], scores[ok]
    keep = nms(boxes, scores, nms_iou, max_detections)
    return boxes[keep].astype(np.float32), scores[keep].astype(np.float32)


def pad_detections(results: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack per-image detections into the Triton output tensors.

    Returns:
        ``BOXES [B, M, 4]`` float32, ``SCORES [B, M]`` float32 (zero-padded to ``M`` = the largest count in the
        batch) and ``COUNT [B, 1]`` int32 with each image's true count.
    """
    m = max((len(s) for _, s in results), default=0)
    b = len(results)
    boxes = np.zeros((b, m, 4), np.float32)
    scores = np.zeros((b, m), np.float32)
    count = np.zeros((b, 1), np.int32)
    for i, (bx, sc) in enumerate(results):
        boxes[i, : len(sc)] = bx
        scores[i, : len(sc)] = sc
        count[i, 0] = len(sc)
    return boxes, scores, count


def check_images(images: np.ndarray, name: str = "IMAGE") -> str | None:
    """Return an error message if ``images`` is not a ``[B, H, W, 3]`` uint8 BGR batch, else ``None``."""
    if not isinstance(images, np.ndarray):
        return f"input '{name}': expected a numpy array, got {type(images).__name__}"
    if images.dtype != np.uint8:
        return f"input '{name}': expected dtype uint8 (BGR bytes), got {images.dtype}"
    if images.ndim != 4 or images.shape[-1] != 3:
        return f"input '{name}': expected shape [batch, height, width, 3] (HWC BGR frames), got {list(images.shape)}"
    if images.shape[1] < 1 or images.shape[2] < 1:
        return f"input '{name}': expected height and width >= 1, got {list(images.shape)}"
    return None


@dataclass
class PersonDetector:
    """YOLOX person detector on onnxruntime or OpenVINO (the same code path Triton's ``model.py`` uses).

    Args:
        model_path: YOLOX ONNX file (height and width free, or a fixed square; batch 1 or dynamic).
        providers: onnxruntime execution providers, in preference order (e.g. ``["CUDAExecutionProvider",
            "CPUExecutionProvider"]``); unused by OpenVINO (CPU).
        intra_op_threads: inference threads (onnxruntime intra-op threads, OpenVINO ``INFERENCE_NUM_THREADS``).
        min_score, nms_iou, max_detections: see :func:`postprocess`.
        runtime: ``"onnxruntime"`` or ``"openvino"``.
        input_size: the longest canvas side, a multiple of 32; ``None`` = 416, or a fixed-shape export's side
            (onnxruntime runs such a file only at its side).
        precision: OpenVINO's inference precision hint (``""`` = its default, ``"f32"``, ``"bf16"``).
        square: letterbox onto square canvases (YOLOX's own preprocessing; forced for a fixed-shape export).
    """

    model_path: str
    providers: Sequence[str] = ("CPUExecutionProvider",)
    intra_op_threads: int = 1
    min_score: float = 0.1
    nms_iou: float = 0.45
    max_detections: int = 300
    runtime: str = "onnxruntime"
    input_size: int | None = None
    precision: str = ""
    square: bool = False

    def __post_init__(self) -> None:
        if self.runtime == "onnxruntime":
            runner = OnnxRuntimeRunner(self.model_path, self.providers, self.intra_op_threads)
            self.session = runner.session
        elif self.runtime == "openvino":
            runner = OpenVinoRunner(self.model_path, self.intra_op_threads, self.precision)
        else:
            raise ValueError(f"runtime must be one of {list(RUNTIMES)}, got {self.runtime!r}")
        fixed = runner.fixed_size
        if fixed is not None and self.input_size not in (None, fixed):
            raise ValueError(
                f"{self.model_path} is exported at a fixed {fixed}x{fixed}; onnxruntime cannot run it at "
                f"{self.input_size} (hack/dynamic-detector.py frees an export's height and width)"
            )
        self.size = fixed or self.input_size or DEFAULT_INPUT_SIZE
        if self.size % CANVAS_MULTIPLE:
            raise ValueError(f"input_size must be a multiple of {CANVAS_MULTIPLE}, got {self.size}")
        self.square = self.square or fixed is not None
        self._runner = runner
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def grids(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The head's anchor grid for a ``height`` x ``width`` canvas, made once per shape."""
        if (height, width) not in self._grids:
            self._grids[(height, width)] = make_grids(height, width)
        return self._grids[(height, width)]

    def infer_raw(self, blob: np.ndarray) -> np.ndarray:
        """Run the network on a ``[B, 3, H, W]`` blob; returns ``[B, N, 85]``."""
        return self._runner(blob)

    def detect(self, images: Sequence[np.ndarray] | np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect people in ``[H, W, 3]`` uint8 BGR images (any sizes; each on its own canvas).

        Returns:
            per image ``(boxes [K, 4] xyxy source pixels, scores [K])``, score-descending.
        """
        results = []
        for image in images:
            canvas, r = letterbox(image, self.size, square=self.square)
            raw = self.infer_raw(to_blob([canvas]))[0]
            grid, stride = self.grids(*canvas.shape[:2])
            results.append(
                postprocess(raw, r, image.shape[:2], grid, stride, self.min_score, self.nms_iou, self.max_detections)
            )
        return results
