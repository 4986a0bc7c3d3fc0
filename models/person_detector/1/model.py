"""Triton python-backend model ``person_detector``: YOLOX-Nano people detection with onnxruntime or OpenVINO.

Input ``IMAGE`` uint8 [B, H, W, 3] BGR frames. Outputs ``BOXES`` float32 [B, M, 4] xyxy source pixels,
``SCORES`` float32 [B, M] (zero-padded to the largest count M in the request, score-descending) and
``COUNT`` int32 [B, 1]. Pre/post-processing lives in ``yolox.py`` beside this file (Triton's python backend
imports sibling modules of model.py; a bench imports the same file to run onnxruntime in-process).

config.pbtxt parameters (all strings): ``runtime`` "onnxruntime" (default) or "openvino" (openvino not
importable: onnxruntime, with a logged warning), ``input_size`` "416" (or "320", "384", "640": the longest
side of the canvas a frame is letterboxed onto; ``model.onnx`` has its height and width free),
``openvino_precision`` ("" = OpenVINO's default: bf16 on CPUs with AMX/AVX512-BF16, else f32; "f32" forces
full precision), ``providers`` comma-separated
onnxruntime execution providers ("CPUExecutionProvider"; on a GPU "CUDAExecutionProvider,CPUExecutionProvider",
with runtime "onnxruntime"), ``intra_op_threads`` ("1", the inference threads of either runtime), ``min_score``
("0.1"), ``nms_iou`` ("0.45"), ``max_detections`` ("300").

Request parameter ``input_size`` (an integer, or its digits as a string) runs that request at another input
size; ``input_size`` in config.pbtxt is the default. Each size's detector is built on its first request and
kept. A size not offered gets an INVALID_ARGUMENT error naming those that are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside Triton (tests, benches): only the helpers below are usable
    pb_utils = None

from yolox import PersonDetector, check_images, pad_detections
from yolox_runtimes import RUNTIMES, openvino_available

# the input sizes offered (either runtime runs model.onnx at any of them): 416 the default, 640 for more small
# people, 320/384 for speed where people are near (bench/detector_levers_bench.py has what each costs)
INPUT_SIZES = (320, 384, 416, 640)
MODEL_FILE = "model.onnx"
# request parameter (tritonclient: infer(..., parameters={"input_size": 640})) choosing a request's input size
SIZE_PARAMETER = "input_size"


class SizeError(ValueError):
    """A request asked for an input size this model cannot run (the client's mistake: INVALID_ARGUMENT)."""


def _param(config: dict, key: str, default: str) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value", "")
    return value.strip() or default


def _log(level: str, message: str) -> None:
    """A line in Triton's log (pb_utils.Logger), or on stderr outside Triton."""
    logger = getattr(pb_utils, "Logger", None) if pb_utils is not None else None
    if logger is not None:
        getattr(logger, f"log_{level}")(message)
    else:
        print(f"{level.upper()}: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    _log("warn", message)


def choose_runtime(wanted: str, have_openvino: bool) -> str:
    """The runtime to use for parameter ``runtime`` = ``wanted``: openvino falls back to onnxruntime, with a
    warning, when it is not importable."""
    if wanted not in RUNTIMES:
        raise ValueError(f"parameter 'runtime' must be one of {list(RUNTIMES)}, got {wanted!r}")
    if wanted == "openvino" and not have_openvino:
        _warn("person_detector: runtime 'openvino' requested but openvino is not importable; using onnxruntime")
        return "onnxruntime"
    return wanted


def check_size(size: int) -> None:
    """Raise ``SizeError`` naming the sizes offered when ``size`` is not one of them."""
    if size not in INPUT_SIZES:
        raise SizeError(f"input_size {size} is not one of {', '.join(str(s) for s in INPUT_SIZES)}")


def requested_size(parameters: str, default: int) -> int:
    """The input size a request asks for in its JSON ``parameters`` (``request.parameters()``), else ``default``.

    An integer, or its digits as a string (an HTTP client may send either); anything else is a ``SizeError``,
    never silently the default."""
    value = json.loads(parameters or "{}").get(SIZE_PARAMETER)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SizeError(f"request parameter {SIZE_PARAMETER!r} must be an integer, got {value!r}")


def _providers(spec: str) -> list[str]:
    import onnxruntime as ort

    wanted = [p.strip() for p in spec.split(",") if p.strip()]
    available = ort.get_available_providers()
    chosen = [p for p in wanted if p in available]
    if not chosen:
        raise ValueError(
            f"parameter 'providers': none of {wanted} is available in this onnxruntime (available: {available})"
        )
    return chosen


class TritonPythonModel:
    """Per model instance, one detector (OpenVINO compiled model or onnxruntime session) per input size in use.

    The configured size is built in ``initialize`` (a bad config fails the load); another size is built on the
    first request asking for it and cached, keyed by size, so at most ``len(INPUT_SIZES)`` detectors exist."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.model_name = args.get("model_name", "person_detector")
        self.version_dir = Path(args["model_repository"]) / args["model_version"]
        size = _param(config, "input_size", "416")
        if size not in [str(s) for s in INPUT_SIZES]:
            raise ValueError(f"parameter 'input_size' must be one of {[str(s) for s in INPUT_SIZES]}, got {size!r}")
        self.runtime = choose_runtime(_param(config, "runtime", "onnxruntime"), openvino_available())
        # everything but the file and the size: the same for every size's detector
        self.detector_args = {
            "providers": _providers(_param(config, "providers", "CPUExecutionProvider"))
            if self.runtime == "onnxruntime"
            else ("CPUExecutionProvider",),
            "intra_op_threads": int(_param(config, "intra_op_threads", "1")),
            "min_score": float(_param(config, "min_score", "0.1")),
            "nms_iou": float(_param(config, "nms_iou", "0.45")),
            "max_detections": int(_param(config, "max_detections", "300")),
            "runtime": self.runtime,
            "precision": _param(config, "openvino_precision", ""),
        }
        self.default_size = int(size)
        self.detectors: dict[int, PersonDetector] = {self.default_size: self._build(self.default_size)}
        self.out_dtypes = {o["name"]: pb_utils.triton_string_to_numpy(o["data_type"]) for o in config["output"]}

    def _build(self, size: int) -> PersonDetector:
        """The detector for input ``size`` (already checked to be one of ``INPUT_SIZES``)."""
        path = self.version_dir / MODEL_FILE
        detector = PersonDetector(model_path=str(path), input_size=size, **self.detector_args)
        precision = getattr(detector._runner, "precision", "fp32")
        _log("info", f"person_detector: {self.runtime} ({precision}), input {detector.size}, file {path.name}")
        return detector

    def _detector(self, size: int) -> PersonDetector:
        """The cached detector for ``size``, built now on first use. A failed build is not cached: the next
        request for that size tries again (a transient failure, e.g. memory, need not stick)."""
        if size not in self.detectors:
            self.detectors[size] = self._build(size)
        return self.detectors[size]

    def _request_size(self, request: pb_utils.InferenceRequest) -> int:
        """The input size ``request`` asks for (``SizeError`` if it is not offered)."""
        size = requested_size(request.parameters(), self.default_size)
        check_size(size)
        return size

    def execute(self, requests: list) -> list:
        # each request is answered on its own, so requests of one batch may ask for different input sizes
        return [self._answer(request) for request in requests]

    def _answer(self, request: pb_utils.InferenceRequest) -> pb_utils.InferenceResponse:
        tensor = pb_utils.get_input_tensor_by_name(request, "IMAGE")
        if tensor is None:
            return self._error("missing input 'IMAGE' (uint8 [batch, height, width, 3] BGR)", invalid_argument=True)
        images = tensor.as_numpy()
        message = check_images(images, "IMAGE")
        if message is not None:
            return self._error(message, invalid_argument=True)
        try:
            size = self._request_size(request)
        except (SizeError, json.JSONDecodeError) as exc:
            return self._error(str(exc), invalid_argument=True)
        try:
            boxes, scores, count = pad_detections(self._detector(size).detect(images))
        except Exception as exc:  # keep the other requests of this batch alive
            return self._error(f"detection at input_size {size} failed: {type(exc).__name__}: {exc}")
        return pb_utils.InferenceResponse(
            output_tensors=[
                pb_utils.Tensor("BOXES", boxes.astype(self.out_dtypes["BOXES"])),
                pb_utils.Tensor("SCORES", scores.astype(self.out_dtypes["SCORES"])),
                pb_utils.Tensor("COUNT", count.astype(self.out_dtypes["COUNT"])),
            ]
        )

    def _error(self, message: str, invalid_argument: bool = False):
        """A failed response for one request (the other requests of the batch still get answers).

        Bad input is reported as INVALID_ARGUMENT (gRPC) / 400 (HTTP), anything else as INTERNAL."""
        code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_argument else None
        text = f"{self.model_name}: {message}"
        error = pb_utils.TritonError(text, code) if code is not None else pb_utils.TritonError(text)
        return pb_utils.InferenceResponse(output_tensors=[], error=error)

    def finalize(self) -> None:
        self.detectors = {}
