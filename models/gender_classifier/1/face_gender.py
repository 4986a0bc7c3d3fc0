"""Face-based gender for person crops: YuNet face detection, face choice, dlib-style alignment, quality, gender-v1.

Pure numpy/OpenCV code shared by the Triton python-backend model (``model.py`` beside this file) and by
benches that run onnxruntime in-process. Nothing here imports Triton.

Models: ``face_detector.onnx`` (OpenCV-zoo YuNet, input ``input`` [1, 3, H, W] float32 BGR 0..255, H and W
multiples of 32; outputs ``cls_s``/``obj_s`` [1, n, 1], ``bbox_s`` [1, n, 4], ``kps_s`` [1, n, 10] for
strides s = 8, 16, 32) and ``model.onnx`` (dlib-models gender classifier v1 as ONNX, input ``images``
[N, 3, 32, 32] RGB, (byte - mean) / 256, output ``probabilities`` [N, 2] = [female, male]).

The gender net was trained on dlib 5-point aligned chips (``get_face_chip_details(size=32, padding=0.2)``).
YuNet's landmarks are not dlib's (eye centres, nose tip and mouth corners instead of eye corners and the
nose base), so :data:`TEMPLATE` places YuNet's five points where they fall on dlib's mean face and a
least-squares similarity transform maps them there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

YUNET_STRIDES: tuple[int, ...] = (8, 16, 32)
GENDER_MEAN_RGB = np.array([122.782, 117.001, 104.298], dtype=np.float32)
CHIP_SIZE = 32
CHIP_PADDING = 0.2

#: YuNet's 5 landmarks, in YuNet order (right eye, left eye, nose tip, right mouth corner, left mouth corner;
#: "right" = the person's right = image left for a frontal face), on dlib's normalised mean face
#: (``mean_face_shape`` from landmark 17): eye centres = mean of landmarks 36-41 / 42-47, nose tip = 30,
#: mouth corners = 48 / 54.
TEMPLATE = np.array(
    [
        [0.2255, 0.2160],
        [0.7547, 0.2160],
        [0.4901, 0.5156],
        [0.2541, 0.7802],
        [0.7261, 0.7802],
    ],
    dtype=np.float64,
)


# ---------------------------------------------------------------------------------------------- YuNet


def yunet_blob(image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, float]:
    """Prepare a BGR image for YuNet: optional resize, zero-pad right/bottom to multiples of 32.

    Args:
        image: ``[H, W, 3]`` uint8 BGR.
        scale: resize factor (> 1 helps faces under ~20 px; costs time ~ scale**2).

    Returns:
        ``(blob, scale)``: ``[1, 3, H', W']`` float32 (BGR 0..255) and the scale actually used
        (face coordinates divide by it to get back to ``image`` pixels).
    """
    h, w = image.shape[:2]
    if scale != 1.0:
        nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        h, w = nh, nw
    ph, pw = (h + 31) // 32 * 32, (w + 31) // 32 * 32
    canvas = np.zeros((ph, pw, 3), np.uint8)
    canvas[:h, :w] = image
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), scale


def decode_yunet(
    outputs: dict[str, np.ndarray],
    input_hw: tuple[int, int],
    score_threshold: float = 0.6,
    nms_iou: float = 0.3,
    top_k: int = 50,
) -> np.ndarray:
    """Decode YuNet's raw outputs (same maths as OpenCV's ``FaceDetectorYN``).

    Args:
        outputs: output name -> array, names ``cls_8 ... kps_32``.
        input_hw: padded network input ``(H, W)``.
        score_threshold: keep faces with score = sqrt(clip(cls) * clip(obj)) >= this.
        nms_iou: NMS IoU threshold.
        top_k: at most this many faces.

    Returns:
        ``[K, 15]`` float32 rows ``x1, y1, w, h, 5 x (x, y) landmarks, score`` in input pixels, by score
        descending.
    """
    h, w = input_hw
    rows = []
    for s in YUNET_STRIDES:
        cols, nrows = w // s, h // s
        cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0, 1)
        obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        idx = np.nonzero(score >= score_threshold)[0]
        if idx.size == 0:
            continue
        gx = (idx % cols).astype(np.float32)
        gy = (idx // cols).astype(np.float32)
        assert cols * nrows == cls.size, "YuNet output size does not match the input grid"
        bbox = outputs[f"bbox_{s}"].reshape(-1, 4)[idx]
        kps = outputs[f"kps_{s}"].reshape(-1, 10)[idx]
        cx, cy = (gx + bbox[:, 0]) * s, (gy + bbox[:, 1]) * s
        bw, bh = np.exp(bbox[:, 2]) * s, np.exp(bbox[:, 3]) * s
        lx = (kps[:, 0::2] + gx[:, None]) * s
        ly = (kps[:, 1::2] + gy[:, None]) * s
        lm = np.stack([lx, ly], axis=2).reshape(-1, 10)
        rows.append(np.concatenate([np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1), lm, score[idx, None]], 1))
    if not rows:
        return np.zeros((0, 15), np.float32)
    faces = np.concatenate(rows).astype(np.float32)
    xyxy = faces[:, :4].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    keep = nms(xyxy, faces[:, 14], nms_iou, top_k)
    return faces[keep]


def refine_patch(face: np.ndarray, face_size: float = 144.0, context: float = 2.0) -> tuple[np.ndarray, int]:
    """Affine map of a square patch centred on a face, scaled so the face is ``face_size`` px across.

    Why: this YuNet export's landmarks are only accurate for faces of roughly 128-160 px in its input
    (and ~20 px); at 40-100 px they are off by about half an eye distance (measured against dlib's 5-point
    predictor), while its boxes are good at every size. A second YuNet pass on this patch gives landmarks
    good enough for the chip alignment.

    Args:
        face: ``[15]`` YuNet row (x1, y1, w, h, ...) in image pixels.
        face_size: target size of the face's longer side in the patch.
        context: patch side = ``context`` x the face's longer side.

    Returns:
        ``(m, side)``: ``[2, 3]`` affine image -> patch matrix and the patch side in pixels.
    """
    x, y, w, h = (float(v) for v in face[:4])
    scale = face_size / max(w, h, 1.0)
    side = int(np.ceil(context * face_size))
    cx, cy = x + w / 2, y + h / 2
    m = np.array([[scale, 0.0, side / 2 - cx * scale], [0.0, scale, side / 2 - cy * scale]])
    return m, side


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int | None = None) -> np.ndarray:
    """Greedy NMS over ``[K, 4]`` xyxy boxes; returns kept indices by descending score."""
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
        order = rest[inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


# ------------------------------------------------------------------------------------- choice, quality


def content_extent(crop: np.ndarray) -> tuple[int, int]:
    """``(height, width)`` of the non-zero part of a crop letterboxed at the top-left with zero padding."""
    nz = crop.any(axis=2)
    rows, cols = np.nonzero(nz.any(axis=1))[0], np.nonzero(nz.any(axis=0))[0]
    if rows.size == 0:
        return 0, 0
    return int(rows[-1]) + 1, int(cols[-1]) + 1


def choose_face(faces: np.ndarray, content_hw: tuple[int, int], max_center_y: float = 0.5) -> int | None:
    """Pick the face that most plausibly belongs to the crop's person.

    A person crop is the person's box, so their head is in the upper part: faces whose centre lies below
    ``max_center_y`` x content height are ignored (someone else's face behind a shoulder, a poster, a
    false detection on clothing). Among the rest the largest ``w * h * score`` wins.

    Args:
        faces: ``[K, 15]`` from :func:`decode_yunet`, in crop pixels.
        content_hw: ``(H, W)`` of the crop's image content (without letterbox padding).
        max_center_y: fraction of the content height.

    Returns:
        the chosen row index, or ``None``.
    """
    if len(faces) == 0 or content_hw[0] <= 0:
        return None
    cy = faces[:, 1] + faces[:, 3] / 2
    ok = cy <= max_center_y * content_hw[0]
    if not ok.any():
        return None
    weight = np.where(ok, faces[:, 2] * faces[:, 3] * faces[:, 14], -1.0)
    return int(np.argmax(weight))


def face_quality(face: np.ndarray, min_size: float = 12.0, full_size: float = 24.0) -> float:
    """How much a gender vote from this face can be trusted, in [0, 1].

    ``quality = score_term * size_term * frontal_term`` where

    - ``score_term = clip((score - 0.5) / 0.4, 0, 1)``: YuNet's confidence, 0 at 0.5, 1 at >= 0.9;
    - ``size_term = clip((s - min_size) / (full_size - min_size), 0, 1)`` with
      ``s = min(face width, 2.5 * eye distance)`` in pixels: 0 below ``min_size`` (12 px: a face that
      small upscales into a blurred chip), 1 from ``full_size`` (24 px: the face's extent in the 32 px chip,
      i.e. native resolution). The eye term catches side views whose box is wide but whose eyes nearly
      coincide (frontal eye distance is ~0.4 x face width);
    - ``frontal_term``: ``t`` = the nose tip's position along the eye line (0 at the right eye, 1 at the
      left eye, 0.5 frontal); ``1 - clip((|t - 0.5| - 0.15) / 0.3, 0, 1)``, so 1 for ``|t - 0.5| <= 0.15``
      (mild yaw), 0 from ``|t - 0.5| >= 0.45`` (profile: the nose outside or at an eye). It is 0 as well when
      the nose is not below the eye line or the mouth not below the nose (upside-down / garbage
      landmarks).

    Args:
        face: one ``[15]`` YuNet row in the crop's pixels.
        min_size, full_size: see above.
    """
    score = float(face[14])
    lm = face[4:14].reshape(5, 2).astype(np.float64)
    reye, leye, nose, rmouth, lmouth = lm
    eye_vec = leye - reye
    eye_dist = float(np.hypot(*eye_vec))
    if eye_dist < 1e-6:
        return 0.0
    score_term = float(np.clip((score - 0.5) / 0.4, 0, 1))
    s = min(float(face[2]), 2.5 * eye_dist)
    size_term = float(np.clip((s - min_size) / (full_size - min_size), 0, 1))
    u = eye_vec / eye_dist
    normal = np.array([-u[1], u[0]])  # points "down" the face for an upright face
    t = float(np.dot(nose - reye, u) / eye_dist)
    nose_down = float(np.dot(nose - (reye + leye) / 2, normal))
    mouth_down = float(np.dot((rmouth + lmouth) / 2 - nose, normal))
    if nose_down <= 0 or mouth_down <= 0:
        return 0.0
    frontal_term = 1.0 - float(np.clip((abs(t - 0.5) - 0.15) / 0.3, 0, 1))
    quality = score_term * size_term * frontal_term
    return 0.0 if quality < 1e-6 else float(min(quality, 1.0))


# ------------------------------------------------------------------------------------------- alignment


def chip_template(size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> np.ndarray:
    """:data:`TEMPLATE` in chip pixels, as dlib maps its template: ``(padding + p) / (2 padding + 1) * size``."""
    return (padding + TEMPLATE) / (2 * padding + 1) * size


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping ``src`` to ``dst``.

    Umeyama (1991). Args: ``[K, 2]`` point sets, K >= 2. Returns: ``[2, 3]`` float64 affine matrix.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    sc, dc = src - ms, dst - md
    cov = dc.T @ sc / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (sc**2).sum() / len(src)
    scale = float(np.trace(np.diag(d) @ sign) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - scale * rot @ ms
    return m


def align_face(
    image: np.ndarray, landmarks: np.ndarray, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> np.ndarray:
    """Cut the dlib-style aligned face chip the gender net expects.

    Args:
        image: ``[H, W, 3]`` uint8 BGR (the crop).
        landmarks: ``[5, 2]`` YuNet landmarks in ``image`` pixels.
        size, padding: dlib ``get_face_chip_details`` arguments the net was trained with (32, 0.2).

    Returns:
        ``[size, size, 3]`` uint8 BGR chip. A chip much smaller than the face is area-averaged first
        (dlib extracts from an image pyramid), so small chips from large faces do not alias.
    """
    m = similarity_transform(landmarks, chip_template(size, padding))
    scale = float(np.hypot(m[0, 0], m[1, 0]))  # chip px per image px
    if scale < 0.5:
        # pre-shrink with area averaging so the bilinear warp below samples a ~1:1 image
        f = min(1.0, 2 * scale)
        small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        sx, sy = small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]
        m = m @ np.array([[1 / sx, 0, 0], [0, 1 / sy, 0], [0, 0, 1]])
        image = small
    return cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
    )


def gender_blob(chips: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """``[N, 32, 32, 3]`` uint8 BGR chips -> gender-v1 input ``[N, 3, 32, 32]`` float32 RGB, (byte - mean) / 256."""
    x = np.asarray(chips, dtype=np.float32)[..., ::-1]
    x = (x - GENDER_MEAN_RGB) / np.float32(256.0)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def check_crops(crops: np.ndarray, name: str = "CROPS") -> str | None:
    """Return an error message if ``crops`` is not a ``[B, H, W, 3]`` uint8 BGR batch, else ``None``."""
    if not isinstance(crops, np.ndarray):
        return f"input '{name}': expected a numpy array, got {type(crops).__name__}"
    if crops.dtype != np.uint8:
        return f"input '{name}': expected dtype uint8 (BGR bytes), got {crops.dtype}"
    if crops.ndim != 4 or crops.shape[-1] != 3:
        return (
            f"input '{name}': expected shape [batch, height, width, 3] (BGR person crops, letterboxed "
            f"top-left into one canvas), got {list(crops.shape)}"
        )
    if crops.shape[1] < 8 or crops.shape[2] < 8:
        return f"input '{name}': expected height and width >= 8, got {list(crops.shape)}"
    return None


# ------------------------------------------------------------------------------------------ classifier


@dataclass
class GenderResult:
    """Per-crop outputs, as the Triton tensors: ``gender [B, 2]`` = [p_female, p_male] ([0, 0] = no usable
    face), ``quality [B, 1]`` in [0, 1], ``face_box [B, 4]`` xyxy crop pixels (zeros = none)."""

    gender: np.ndarray
    quality: np.ndarray
    face_box: np.ndarray


@dataclass
class GenderClassifier:
    """onnxruntime YuNet + gender-v1 (the same code path Triton's ``model.py`` uses).

    Args:
        face_model_path: YuNet ONNX.
        gender_model_path: gender-v1 ONNX.
        providers: onnxruntime execution providers, in preference order.
        intra_op_threads: onnxruntime intra-op threads.
        face_score_threshold: YuNet score floor (detections below are not faces).
        min_detect_height: crops whose content is lower than this are upscaled for YuNet so that its height
            reaches it (small faces are found far more often at 2x); costs time ~ scale**2.
        max_upscale: cap on that upscale.
        refine_face_size: re-detect the chosen face in a patch where it is this many px across and take the
            landmarks from there (see :func:`refine_patch`); 0 disables.
        refine_above: refine only faces whose longer side in the first pass's (possibly upscaled) input is
            above this (smaller faces already get good landmarks and would only be blurred).
        min_face_quality: faces with quality below this count as "no usable face" (quality and gender 0).
    """

    face_model_path: str
    gender_model_path: str
    providers: Sequence[str] = ("CPUExecutionProvider",)
    intra_op_threads: int = 1
    face_score_threshold: float = 0.6
    min_detect_height: int = 256
    max_upscale: float = 2.0
    refine_face_size: float = 144.0
    refine_above: float = 36.0
    min_face_quality: float = 0.0

    def __post_init__(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.face_session = ort.InferenceSession(self.face_model_path, opts, providers=list(self.providers))
        self.gender_session = ort.InferenceSession(self.gender_model_path, opts, providers=list(self.providers))
        self.face_input = self.face_session.get_inputs()[0].name
        self.face_outputs = [o.name for o in self.face_session.get_outputs()]
        self.gender_input = self.gender_session.get_inputs()[0].name

    def detect_faces(self, crop: np.ndarray, content_hw: tuple[int, int] | None = None) -> np.ndarray:
        """YuNet faces in one crop: ``[K, 15]`` (see :func:`decode_yunet`) in crop pixels."""
        return self._detect(crop, content_hw)[0]

    def _detect(self, crop: np.ndarray, content_hw: tuple[int, int] | None = None) -> tuple[np.ndarray, float]:
        ch = (content_hw or crop.shape[:2])[0]
        scale = float(np.clip(self.min_detect_height / max(ch, 1), 1.0, self.max_upscale))
        blob, scale = yunet_blob(crop, scale)
        outs = self.face_session.run(self.face_outputs, {self.face_input: blob})
        faces = decode_yunet(dict(zip(self.face_outputs, outs, strict=True)), blob.shape[2:], self.face_score_threshold)
        if scale != 1.0:
            faces[:, :14] /= scale
        return faces, scale

    def refine_landmarks(self, crop: np.ndarray, face: np.ndarray) -> np.ndarray:
        """Return ``face`` with landmarks from a second YuNet pass at ``refine_face_size`` (see
        :func:`refine_patch`); unchanged when that pass finds no face overlapping the first one."""
        if self.refine_face_size <= 0:
            return face
        m, side = refine_patch(face, self.refine_face_size)
        patch = cv2.warpAffine(crop, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        blob, _ = yunet_blob(patch)
        outs = self.face_session.run(self.face_outputs, {self.face_input: blob})
        found = decode_yunet(dict(zip(self.face_outputs, outs, strict=True)), blob.shape[2:], self.face_score_threshold)
        if len(found) == 0:
            return face
        centre = np.hypot(found[:, 0] + found[:, 2] / 2 - side / 2, found[:, 1] + found[:, 3] / 2 - side / 2)
        best = found[int(np.argmin(centre))]
        if centre.min() > 0.25 * self.refine_face_size:  # not the same face
            return face
        out = face.copy()
        scale = m[0, 0]
        out[4:14] = ((best[4:14].reshape(5, 2) - m[:, 2]) / scale).reshape(-1)
        return out

    def classify_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """gender-v1 on aligned BGR chips: ``[N, 2]`` [p_female, p_male]."""
        if len(chips) == 0:
            return np.zeros((0, 2), np.float32)
        return self.gender_session.run(None, {self.gender_input: gender_blob(chips)})[0].astype(np.float32)

    def predict(self, crops: np.ndarray | Sequence[np.ndarray]) -> GenderResult:
        """Gender, face quality and face box for each ``[H, W, 3]`` uint8 BGR person crop."""
        b = len(crops)
        gender = np.zeros((b, 2), np.float32)
        quality = np.zeros((b, 1), np.float32)
        box = np.zeros((b, 4), np.float32)
        chips, owners = [], []
        for i, crop in enumerate(crops):
            hw = content_extent(crop)
            if min(hw) < 8:
                continue
            faces, scale = self._detect(crop, hw)
            k = choose_face(faces, hw)
            if k is None:
                continue
            f = faces[k]
            if max(f[2], f[3]) * scale > self.refine_above:
                f = self.refine_landmarks(crop, f)
            q = face_quality(f)
            if q <= 0 or q < self.min_face_quality:
                continue
            box[i] = [f[0], f[1], f[0] + f[2], f[1] + f[3]]
            box[i, [0, 2]] = np.clip(box[i, [0, 2]], 0, crop.shape[1])
            box[i, [1, 3]] = np.clip(box[i, [1, 3]], 0, crop.shape[0])
            quality[i, 0] = q
            chips.append(align_face(crop, f[4:14].reshape(5, 2)))
            owners.append(i)
        if chips:
            gender[owners] = self.classify_chips(chips)
        return GenderResult(gender, quality, box)
