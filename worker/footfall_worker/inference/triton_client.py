"""Thin, typed wrappers over `tritonclient.grpc` for the person detector and the gender classifier.

One `TritonConnection` per thread: each holds its own gRPC channel and, on loopback, its own shared-memory
region, so concurrent channels never contend on a lock.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from footfall_worker.detections import Detections
from footfall_worker.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotReadyError,
    TritonUnavailableError,
)
from footfall_worker.inference.letterbox import DEFAULT_INPUT_SIZE, letterbox_batch, to_source
from footfall_worker.inference.shared_memory import SharedInputRegion
from footfall_worker.labels import Gender
from footfall_worker.retry import Backoff
from footfall_worker.settings import TritonSettings

log = logging.getLogger(__name__)

# Tensor names of models/person_detector/config.pbtxt and models/gender_classifier/config.pbtxt.
DETECTOR_INPUT = "IMAGE"
DETECTOR_OUTPUTS = ("BOXES", "SCORES", "COUNT")
DETECTOR_MAX_BATCH = 8
# Request parameter that picks the detector's input side for this request (the model's config sets the default);
# the worker always sends it, with the side it letterboxed to.
DETECTOR_SIZE_PARAMETER = "input_size"
GENDER_INPUT = "CROPS"
GENDER_OUTPUTS = ("GENDER", "FACE_QUALITY", "FACE_BOX")
GENDER_MAX_BATCH = 32

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
T = TypeVar("T")


def _translate(error: InferenceServerException, url: str, model: str) -> InferenceError:
    """Map a tritonclient exception to our specific error types."""
    status = str(error.status() or "")
    message = error.message() or str(error)
    lowered = message.lower()
    if "UNAVAILABLE" in status:
        return TritonUnavailableError(f"Triton at {url} is unreachable: {message}")
    if "DEADLINE_EXCEEDED" in status or "deadline exceeded" in lowered:
        return InferenceTimeoutError(f"Triton at {url}: model {model!r} did not answer in time: {message}")
    if "unknown model" in lowered or "not ready" in lowered or ("not found" in lowered and "model" in lowered):
        return ModelNotReadyError(f"Triton at {url}: model {model!r} is not ready: {message}")
    if "INVALID_ARGUMENT" in status:
        return InvalidInputError(f"model {model!r} rejected the request: {message}")
    return InferenceError(f"Triton at {url}, model {model!r}: {message} ({status or 'no status'})")


def _channel_args(settings: TritonSettings) -> list[tuple[str, int]]:
    keepalive = grpcclient.KeepAliveOptions()
    return [
        ("grpc.max_send_message_length", 2**31 - 1),
        ("grpc.max_receive_message_length", 2**31 - 1),
        ("grpc.keepalive_time_ms", keepalive.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", keepalive.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", int(keepalive.keepalive_permit_without_calls)),
        ("grpc.http2.max_pings_without_data", keepalive.http2_max_pings_without_data),
        # gRPC's own reconnect backoff grows to 120 s: a restarted Triton would stay "unavailable" to us
        # for minutes. Cap it so the channel notices a server that is back within a couple of seconds.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", int(settings.reconnect_backoff_max_s * 1000)),
    ]


class TritonConnection:
    """A gRPC connection with timeouts, readiness checks and retry with backoff on unreachable servers."""

    def __init__(self, settings: TritonSettings) -> None:
        self.settings = settings
        self.url = settings.url
        self.client = grpcclient.InferenceServerClient(url=settings.url, channel_args=_channel_args(settings))

    @property
    def on_loopback(self) -> bool:
        host = self.url.rsplit(":", 1)[0]
        return host in _LOOPBACK_HOSTS

    def use_shared_memory(self) -> bool:
        mode = self.settings.shared_memory
        return mode == "on" or (mode == "auto" and self.on_loopback)

    def model_problem(self, model: str) -> str | None:
        """Why `model` cannot answer now, in the client's words (None when the server and the model are ready);
        each call is bounded by `ready_timeout_s` and never raises."""
        timeout = self.settings.ready_timeout_s
        try:
            if not self.client.is_server_ready(client_timeout=timeout):
                return f"Triton at {self.url} is not ready"
            if not self.client.is_model_ready(model, client_timeout=timeout):
                return f"Triton at {self.url}: model {model!r} is not ready"
        except InferenceServerException as error:
            return f"Triton at {self.url} does not answer: {error.message() or error}"
        return None

    def is_model_ready(self, model: str) -> bool:
        """True when the server is live and `model` is loaded and ready; False on any failure, quickly."""
        return self.model_problem(model) is None

    def wait_until_ready(self, models: Sequence[str], timeout_s: float) -> None:
        """Block until every model is ready or raise `ModelNotReadyError`/`TritonUnavailableError`."""
        deadline = time.monotonic() + timeout_s
        polls = Backoff(initial=0.1, factor=2.0, maximum=1.0, jitter=0.0)
        while True:
            missing = [model for model in models if not self.is_model_ready(model)]
            if not missing:
                return
            if time.monotonic() >= deadline:
                if not self._server_live():
                    raise TritonUnavailableError(f"Triton at {self.url} is not reachable after {timeout_s:.0f} s")
                raise ModelNotReadyError(f"Triton at {self.url}: model(s) {', '.join(missing)} not ready")
            time.sleep(min(polls.next_delay(), max(0.0, deadline - time.monotonic())))

    def _server_live(self) -> bool:
        try:
            return bool(self.client.is_server_live(client_timeout=self.settings.ready_timeout_s))
        except InferenceServerException:
            return False

    def call(self, model: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` (one gRPC call on `self.client`), translating its errors for `model`.

        Unreachable servers are retried `settings.retries` times with exponential backoff; every other
        failure is raised at once as a specific `InferenceError`.
        """
        backoff = Backoff(
            initial=self.settings.retry_backoff_s, factor=2.0, maximum=self.settings.retry_backoff_max_s, jitter=0.0
        )
        for attempt_number in range(self.settings.retries + 1):
            try:
                return attempt()
            except InferenceServerException as error:
                translated = _translate(error, self.url, model)
                if not isinstance(translated, TritonUnavailableError) or attempt_number == self.settings.retries:
                    raise translated from None
                delay = backoff.next_delay()
                log.debug("triton unreachable, retrying", extra={"model": model, "delay_s": delay})
                time.sleep(delay)
        raise AssertionError("unreachable")

    def infer(
        self,
        model: str,
        inputs: list[grpcclient.InferInput],
        outputs: Sequence[str],
        parameters: dict[str, int | str] | None = None,
    ) -> grpcclient.InferResult:
        """One inference request; `parameters` travel as Triton request parameters (read by the model)."""
        requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
        return self.call(
            model,
            lambda: self.client.infer(
                model,
                inputs,
                outputs=requested,
                client_timeout=self.settings.request_timeout_s,
                parameters=parameters,
            ),
        )

    def inference_statistics(self, model: str) -> dict:
        return self.call(
            model,
            lambda: self.client.get_inference_statistics(
                model, as_json=True, client_timeout=self.settings.ready_timeout_s
            ),
        )

    def close(self) -> None:
        self.client.close()


def _check_images(name: str, images: Sequence[np.ndarray]) -> None:
    """Reject what the model cannot take, naming the input: BGR uint8 arrays of shape (H, W, 3)."""
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray):
            raise InvalidInputError(f"{name}[{index}]: expected a numpy array, got {type(image).__name__}")
        if image.dtype != np.uint8:
            raise InvalidInputError(f"{name}[{index}]: expected dtype uint8 (BGR bytes), got {image.dtype}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise InvalidInputError(f"{name}[{index}]: expected shape (H, W, 3) with H, W > 0, got {image.shape}")


def _chunks(count: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


class PersonDetector:
    """Person boxes from the `person_detector` model (YOLOX, decode and NMS run in Triton).

    Each frame is letterboxed here to the model's square input (see `letterbox.py`) and only that canvas is
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
        """The side of the square canvas sent to the model: `detector_input_size`, else the model's default.

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
            frames: BGR uint8 images (H, W, 3) as OpenCV decodes them, of any sizes: letterboxed to one square
                shape, up to 8 go in one request (and Triton batches equal-shape requests across clients too).

        Returns:
            One `Detections` per frame, boxes xyxy in that frame's pixels, scores descending, down to the
            model's `min_score` (0.1 by default, so a tracker can use low-score boxes).
        """
        _check_images(DETECTOR_INPUT, frames)
        if not frames:
            return []
        size = self.input_size
        results: list[Detections] = []
        for part in _chunks(len(frames), DETECTOR_MAX_BATCH):
            chosen = list(frames[part])
            batch, scales = letterbox_batch(chosen, size)
            for frame, r, found in zip(chosen, scales, self._detect_batch(batch, size), strict=True):
                boxes, scores = to_source(found.xyxy, found.confidence, r, frame.shape[0], frame.shape[1])
                results.append(Detections(boxes, scores))
        return results

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
        _check_images(GENDER_INPUT, [crops[i] for i in present])  # type: ignore[misc]
        estimates = [NO_FACE] * len(crops)
        for part in _chunks(len(present), GENDER_MAX_BATCH):
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
