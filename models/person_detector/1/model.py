"""Triton python-backend model ``person_detector``: YOLOX-Nano people detection with onnxruntime.

Input ``IMAGE`` uint8 [B, H, W, 3] BGR frames. Outputs ``BOXES`` float32 [B, M, 4] xyxy source pixels,
``SCORES`` float32 [B, M] (zero-padded to the largest count M in the request, score-descending) and
``COUNT`` int32 [B, 1]. Pre/post-processing lives in ``yolox.py`` beside this file (Triton's python backend
imports sibling modules of model.py; a bench imports the same file to run onnxruntime in-process).

config.pbtxt parameters (all strings): ``input_size`` "416" (model.onnx) or "640" (model_640.onnx),
``providers`` comma-separated onnxruntime execution providers ("CPUExecutionProvider"; on a GPU
"CUDAExecutionProvider,CPUExecutionProvider"), ``intra_op_threads`` ("1"), ``min_score`` ("0.1"),
``nms_iou`` ("0.45"), ``max_detections`` ("300").
"""

from __future__ import annotations

import json
from pathlib import Path

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside Triton (tests, benches): only the helpers below are usable
    pb_utils = None

from yolox import PersonDetector, check_images, pad_detections

MODEL_FILES = {"416": "model.onnx", "640": "model_640.onnx"}


def _param(config: dict, key: str, default: str) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value", "")
    return value.strip() or default


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
    """One onnxruntime session per model instance, built once in ``initialize``."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.model_name = args.get("model_name", "person_detector")
        size = _param(config, "input_size", "416")
        if size not in MODEL_FILES:
            raise ValueError(f"parameter 'input_size' must be one of {sorted(MODEL_FILES)}, got {size!r}")
        path = Path(args["model_repository"]) / args["model_version"] / MODEL_FILES[size]
        self.detector = PersonDetector(
            model_path=str(path),
            providers=_providers(_param(config, "providers", "CPUExecutionProvider")),
            intra_op_threads=int(_param(config, "intra_op_threads", "1")),
            min_score=float(_param(config, "min_score", "0.1")),
            nms_iou=float(_param(config, "nms_iou", "0.45")),
            max_detections=int(_param(config, "max_detections", "300")),
        )
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
