"""Person boxes from the `person_detector` model over a `TritonConnection`."""

import logging
from collections.abc import Sequence

import numpy as np
import tritonclient.grpc as grpcclient

from footfall_worker.detections import Detections
from footfall_worker.inference.errors import InferenceError
from footfall_worker.inference.letterbox import DEFAULT_INPUT_SIZE, canvas_shape, letterbox_batch, to_source
from footfall_worker.inference.shared_memory import SharedInputRegion
from footfall_worker.inference.triton_client import TritonConnection, check_images, chunks

log = logging.getLogger(__name__)

# Tensor names of models/person_detector/config.pbtxt.
DETECTOR_INPUT = "IMAGE"
DETECTOR_OUTPUTS = ("BOXES", "SCORES", "COUNT")
DETECTOR_MAX_BATCH = 8
# Request parameter that picks the detector's input side for this request (the model's config sets the default);
# the worker always sends it, with the side it letterboxed to.
DETECTOR_SIZE_PARAMETER = "input_size"


class PersonDetector:
    """Person boxes from the `person_detector` model (YOLOX, decode and NMS run in Triton).

    Each frame is letterboxed here to the model's input size (see `letterbox.py`) and only that canvas is
    sent, over gRPC or, when Triton is on this host, through system shared memory; the boxes come back in
    canvas pixels and are mapped to the frame's here.
    """

    def __init__(self, connection: TritonConnection) -> None:
        self._connection = connection
        self._model = connection.settings.detector_model
        # The request's size, or (None) the model's configured default, read from Triton on first use.
        self._input_size: int | None = connection.settings.detector_input_size
        self._region = (
            SharedInputRegion(connection.client, "frames", connection.settings.ready_timeout_s)
            if connection.use_shared_memory()
            else None
        )

    @property
    def input_size(self) -> int:
        """The longest side of the canvas sent to the model: `detector_input_size`, else the model's default.

        The default is read once from the model's config in Triton (its `input_size` parameter, 416 when it has
        none) and then sent with every request, so the model's letterbox stays an identity even if the model is
        reloaded with another default.
        """
        if self._input_size is None:
            self._input_size = model_input_size(self._connection, self._model)
        return self._input_size

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect people in each frame.

        Args:
            frames: BGR uint8 images (H, W, 3) as OpenCV decodes them, of any sizes: letterboxed onto their canvas
                shape (416 x 256 for 16:9 at 416), up to 8 of a shape in one request (and Triton batches
                equal-shape requests across clients too).

        Returns:
            One `Detections` per frame, boxes xyxy in that frame's pixels, scores descending, down to the
            model's `min_score` (0.1 by default, so a tracker can use low-score boxes).
        """
        check_images(DETECTOR_INPUT, frames)
        if not frames:
            return []
        size = self.input_size
        # One request per canvas shape: a frame padded to another frame's larger canvas would cost more and give
        # (slightly) other boxes than alone. A channel's frames all have one shape.
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, frame in enumerate(frames):
            by_shape.setdefault(canvas_shape(frame.shape[0], frame.shape[1], size), []).append(index)
        results: dict[int, Detections] = {}
        for indices in by_shape.values():
            for part in chunks(len(indices), DETECTOR_MAX_BATCH):
                chosen = [frames[index] for index in indices[part]]
                batch, scales = letterbox_batch(chosen, size)
                found_all = self._detect_batch(batch, size)
                for index, frame, r, found in zip(indices[part], chosen, scales, found_all, strict=True):
                    boxes, scores = to_source(found.xyxy, found.confidence, r, frame.shape[0], frame.shape[1])
                    results[index] = Detections(boxes, scores)
        return [results[index] for index in range(len(frames))]

    def detect_one(self, frame: np.ndarray) -> Detections:
        return self.detect([frame])[0]

    def _detect_batch(self, batch: np.ndarray, size: int) -> list[Detections]:
        tensor = grpcclient.InferInput(DETECTOR_INPUT, list(batch.shape), "UINT8")
        parameters: dict[str, int | str] = {DETECTOR_SIZE_PARAMETER: size}
        if self._region is None:
            tensor.set_data_from_numpy(batch)
            result = self._connection.infer(self._model, [tensor], DETECTOR_OUTPUTS, parameters)
        else:
            result = self._infer_shared(tensor, batch, parameters)
        return detections_from_result(result, batch.shape[0], self._model)

    def _infer_shared(
        self, tensor: grpcclient.InferInput, batch: np.ndarray, parameters: dict[str, int | str]
    ) -> grpcclient.InferResult:
        assert self._region is not None
        with self._region.lock:
            size = self._connection.call(self._model, lambda: self._region.put(batch))  # type: ignore[union-attr]
            tensor.set_shared_memory(self._region.name, size)
            try:
                return self._connection.infer(self._model, [tensor], DETECTOR_OUTPUTS, parameters)
            except InferenceError as error:
                # A restarted server no longer knows our region; register it again once and retry.
                if "shared memory" not in str(error).lower():
                    raise
                self._connection.call(self._model, self._region.reregister)  # type: ignore[union-attr]
                return self._connection.infer(self._model, [tensor], DETECTOR_OUTPUTS, parameters)

    def close(self) -> None:
        if self._region is not None:
            self._region.close()


def model_input_size(connection: TritonConnection, model: str) -> int:
    """The `input_size` parameter of `model`'s config in Triton; `DEFAULT_INPUT_SIZE` (416) when it has none.

    Raises the connection's specific errors (`TritonUnavailableError`, `ModelNotReadyError`, ...) when the
    config cannot be read.
    """
    response = connection.call(
        model,
        lambda: connection.client.get_model_config(
            model, as_json=True, client_timeout=connection.settings.ready_timeout_s
        ),
    )
    value = response.get("config", {}).get("parameters", {}).get(DETECTOR_SIZE_PARAMETER, {}).get("string_value", "")
    if not str(value).strip().isdigit():
        log.warning(
            "model has no usable input_size parameter; using the default", extra={"model": model, "value": value}
        )
        return DEFAULT_INPUT_SIZE
    return int(value)


def detections_from_result(result: grpcclient.InferResult, count: int, model: str) -> list[Detections]:
    """The `count` images' `Detections` of a person_detector response (BOXES, SCORES, COUNT), in its pixels."""
    boxes = result.as_numpy("BOXES")
    scores = result.as_numpy("SCORES")
    counts = result.as_numpy("COUNT")
    if boxes is None or scores is None or counts is None or counts.shape[0] != count:
        raise InferenceError(f"model {model!r} returned incomplete outputs for a batch of {count}")
    counts = counts.reshape(-1)
    return [
        Detections(boxes[i, : counts[i]].astype(np.float32, copy=True), scores[i, : counts[i]].astype(np.float32))
        for i in range(count)
    ]
