"""Triton python-backend model ``person_detector``: YOLOX-Nano people detection with onnxruntime or OpenVINO.

Input ``IMAGE`` uint8 [B, H, W, 3] BGR frames. Outputs ``BOXES`` float32 [B, M, 4] xyxy source pixels,
``SCORES`` float32 [B, M] (zero-padded to the largest count M in the request, score-descending) and
``COUNT`` int32 [B, 1]. Pre/post-processing lives in ``yolox.py`` beside this file (Triton's python backend
imports sibling modules of model.py; a bench imports the same file to run onnxruntime in-process).

config.pbtxt parameters (all strings): ``runtime`` "onnxruntime" (default) or "openvino" (openvino not
importable: onnxruntime, with a logged warning), ``input_size`` "416" (model.onnx), "640" (model_640.onnx), or
"320"/"384" (model.onnx reshaped in memory; openvino only), ``openvino_precision`` ("" = OpenVINO's default:
bf16 on CPUs with AMX/AVX512-BF16, else f32; "f32" forces full precision), ``providers`` comma-separated
onnxruntime execution providers ("CPUExecutionProvider"; on a GPU "CUDAExecutionProvider,CPUExecutionProvider",
with runtime "onnxruntime"), ``intra_op_threads`` ("1", the inference threads of either runtime), ``min_score``
("0.1"), ``nms_iou`` ("0.45"), ``max_detections`` ("300").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside Triton (tests, benches): only the helpers below are usable
    pb_utils = None

from yolox import RUNTIMES, PersonDetector, check_images, openvino_available, pad_detections

# input_size -> weights file; 320 and 384 are model.onnx reshaped in memory (runtime openvino only)
MODEL_FILES = {"320": "model.onnx", "384": "model.onnx", "416": "model.onnx", "640": "model_640.onnx"}


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
    """One detector (OpenVINO compiled model or onnxruntime session) per model instance, built in ``initialize``."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.model_name = args.get("model_name", "person_detector")
        size = _param(config, "input_size", "416")
        if size not in MODEL_FILES:
            raise ValueError(f"parameter 'input_size' must be one of {sorted(MODEL_FILES)}, got {size!r}")
        path = Path(args["model_repository"]) / args["model_version"] / MODEL_FILES[size]
        runtime = choose_runtime(_param(config, "runtime", "onnxruntime"), openvino_available())
        if runtime == "onnxruntime" and MODEL_FILES[size] == "model.onnx" and size != "416":
            raise ValueError(f"parameter 'input_size' {size} needs runtime 'openvino' (model.onnx reshaped in memory)")
        self.detector = PersonDetector(
            model_path=str(path),
            providers=_providers(_param(config, "providers", "CPUExecutionProvider"))
            if runtime == "onnxruntime"
            else ("CPUExecutionProvider",),
            intra_op_threads=int(_param(config, "intra_op_threads", "1")),
            min_score=float(_param(config, "min_score", "0.1")),
            nms_iou=float(_param(config, "nms_iou", "0.45")),
            max_detections=int(_param(config, "max_detections", "300")),
            runtime=runtime,
            input_size=int(size) if runtime == "openvino" else None,
            precision=_param(config, "openvino_precision", ""),
        )
        self.runtime = runtime
        precision = getattr(self.detector._runner, "precision", "fp32")
        _log("info", f"person_detector: {runtime} ({precision}), input {self.detector.size}, file {path.name}")
        if self.detector.size != int(size):
            raise ValueError(f"{path.name} has input size {self.detector.size}, parameter input_size says {size}")
        self.out_dtypes = {o["name"]: pb_utils.triton_string_to_numpy(o["data_type"]) for o in config["output"]}

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            tensor = pb_utils.get_input_tensor_by_name(request, "IMAGE")
            if tensor is None:
                responses.append(
                    self._error("missing input 'IMAGE' (uint8 [batch, height, width, 3] BGR)", invalid_argument=True)
                )
                continue
            images = tensor.as_numpy()
            message = check_images(images, "IMAGE")
            if message is not None:
                responses.append(self._error(message, invalid_argument=True))
                continue
            try:
                boxes, scores, count = pad_detections(self.detector.detect(images))
            except Exception as exc:  # keep the other requests of this batch alive
                responses.append(self._error(f"detection failed: {type(exc).__name__}: {exc}"))
                continue
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("BOXES", boxes.astype(self.out_dtypes["BOXES"])),
                        pb_utils.Tensor("SCORES", scores.astype(self.out_dtypes["SCORES"])),
                        pb_utils.Tensor("COUNT", count.astype(self.out_dtypes["COUNT"])),
                    ]
                )
            )
        return responses

    def _error(self, message: str, invalid_argument: bool = False):
        """A failed response for one request (the other requests of the batch still get answers).

        Bad input is reported as INVALID_ARGUMENT (gRPC) / 400 (HTTP), anything else as INTERNAL."""
        code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_argument else None
        text = f"{self.model_name}: {message}"
        error = pb_utils.TritonError(text, code) if code is not None else pb_utils.TritonError(text)
        return pb_utils.InferenceResponse(output_tensors=[], error=error)

    def finalize(self) -> None:
        self.detector = None
