"""Gender of people from person crops via the `gender_classifier` model over a `TritonConnection`."""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import tritonclient.grpc as grpcclient

from footfall_worker.inference.errors import InferenceError
from footfall_worker.inference.triton_client import TritonConnection, check_images, chunks
from footfall_worker.labels import Gender

# Tensor names of models/gender_classifier/config.pbtxt.
GENDER_INPUT = "CROPS"
GENDER_OUTPUTS = ("GENDER", "FACE_QUALITY", "FACE_BOX")
GENDER_MAX_BATCH = 32


@dataclass(frozen=True, slots=True)
class GenderEstimate:
    """What the gender classifier saw in one person crop.

    `face_quality` is 0 when no usable face was found; then both probabilities are 0 and the only honest
    label is `unknown`. `face_box` is xyxy in the crop's own pixels (zeros without a face).
    """

    p_female: float
    p_male: float
    face_quality: float
    face_box: tuple[float, float, float, float]

    @property
    def has_face(self) -> bool:
        return self.face_quality > 0.0

    def label(self, min_confidence: float = 0.7, min_face_quality: float = 0.0) -> Gender:
        """`female`/`male` when a usable face gives a confident answer, otherwise `unknown`."""
        if not self.has_face or self.face_quality < min_face_quality:
            return "unknown"
        if self.p_female >= min_confidence:
            return "female"
        if self.p_male >= min_confidence:
            return "male"
        return "unknown"


NO_FACE = GenderEstimate(0.0, 0.0, 0.0, (0.0, 0.0, 0.0, 0.0))


def fit_into_canvas(crop: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float]:
    """Scale `crop` to fit a zero-padded `height` x `width` canvas at its top-left corner.

    Returns:
        The canvas and the scale applied (canvas pixels per crop pixel).
    """
    scale = min(height / crop.shape[0], width / crop.shape[1])
    new_h = max(1, min(height, round(crop.shape[0] * scale)))
    new_w = max(1, min(width, round(crop.shape[1] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    return canvas, scale


def person_crops(frame: np.ndarray, boxes: np.ndarray) -> list[np.ndarray | None]:
    """Cut the boxes (xyxy, frame pixels) out of `frame`, clipped to it; None for a box with no area."""
    height, width = frame.shape[:2]
    crops: list[np.ndarray | None] = []
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        left, top = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        right, bottom = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
        crops.append(frame[top:bottom, left:right] if right > left and bottom > top else None)
    return crops


class GenderClassifier:
    """Gender of people from person crops, via the `gender_classifier` model (face find, align, classify)."""

    def __init__(self, connection: TritonConnection) -> None:
        self._connection = connection
        self._model = connection.settings.gender_model
        self._height = connection.settings.crop_height
        self._width = connection.settings.crop_width

    def classify(self, crops: Sequence[np.ndarray | None]) -> list[GenderEstimate]:
        """Classify each person crop (BGR uint8, any size); a `None` crop gives `NO_FACE` without a request."""
        present = [i for i, crop in enumerate(crops) if crop is not None]
        check_images(GENDER_INPUT, [crops[i] for i in present])  # type: ignore[misc]
        estimates = [NO_FACE] * len(crops)
        for part in chunks(len(present), GENDER_MAX_BATCH):
            chosen = present[part]
            fitted = [fit_into_canvas(crops[i], self._height, self._width) for i in chosen]  # type: ignore[arg-type]
            batch = np.stack([canvas for canvas, _ in fitted])
            for index, (_, scale), estimate in zip(chosen, fitted, self._classify_batch(batch), strict=True):
                box = tuple(float(v) / scale for v in estimate.face_box)
                estimates[index] = GenderEstimate(estimate.p_female, estimate.p_male, estimate.face_quality, box)  # type: ignore[arg-type]
        return estimates

    def classify_people(self, frame: np.ndarray, boxes: np.ndarray) -> list[GenderEstimate]:
        """Classify the people at `boxes` (xyxy, frame pixels) of `frame`."""
        return self.classify(person_crops(frame, boxes))

    def _classify_batch(self, batch: np.ndarray) -> list[GenderEstimate]:
        tensor = grpcclient.InferInput(GENDER_INPUT, list(batch.shape), "UINT8")
        tensor.set_data_from_numpy(batch)
        result = self._connection.infer(self._model, [tensor], GENDER_OUTPUTS)
        gender = result.as_numpy("GENDER")
        quality = result.as_numpy("FACE_QUALITY")
        face_box = result.as_numpy("FACE_BOX")
        if gender is None or quality is None or face_box is None or gender.shape[0] != batch.shape[0]:
            raise InferenceError(f"model {self._model!r} returned incomplete outputs for {len(batch)} crops")
        return [
            GenderEstimate(float(g[0]), float(g[1]), float(q.reshape(-1)[0]), tuple(float(v) for v in b))  # type: ignore[arg-type]
            for g, q, b in zip(gender, quality, face_box, strict=True)
        ]
