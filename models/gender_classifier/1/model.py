"""Triton python-backend model ``gender_classifier``: face-based gender of person crops with onnxruntime.

Input ``CROPS`` uint8 [B, H, W, 3]: BGR person crops, each letterboxed at the top-left into the same canvas
(zero padding; 256 high x 128 wide by default, any size works). Outputs per crop: ``GENDER`` float32 [B, 2] =
[p_female, p_male], [0, 0] when there is no usable face (never a forced guess); ``FACE_QUALITY`` float32
[B, 1] in [0, 1], 0 = no usable face; ``FACE_BOX`` float32 [B, 4] xyxy of the chosen face in crop pixels
(zeros when none). YuNet (``face_detector.onnx``) finds faces, the face in the upper half of the crop with the
largest area x score is aligned like dlib's 5-point chips and classified by gender-v1 (``model.onnx``).
The logic lives in ``face_gender.py`` beside this file.

config.pbtxt parameters (all strings): ``providers`` ("CPUExecutionProvider"), ``intra_op_threads`` ("1"),
``face_score_threshold`` ("0.6"), ``min_detect_height`` ("256": crops lower than this are upscaled for YuNet,
at most ``max_upscale`` ("2")), ``refine_face_size`` ("144") and ``refine_above`` ("36"): faces over 36 px in
YuNet's input are re-detected at 144 px for accurate landmarks (0 disables), ``min_face_quality`` ("0": faces
below it count as no face).
"""

from __future__ import annotations

import json
from pathlib import Path

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside Triton (tests, benches): only the helpers below are usable
    pb_utils = None

from face_gender import GenderClassifier, check_crops


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
    """Two onnxruntime sessions (YuNet, gender-v1) per model instance, built once in ``initialize``."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.model_name = args.get("model_name", "gender_classifier")
        version_dir = Path(args["model_repository"]) / args["model_version"]
        self.classifier = GenderClassifier(
            face_model_path=str(version_dir / "face_detector.onnx"),
            gender_model_path=str(version_dir / "model.onnx"),
            providers=_providers(_param(config, "providers", "CPUExecutionProvider")),
            intra_op_threads=int(_param(config, "intra_op_threads", "1")),
            face_score_threshold=float(_param(config, "face_score_threshold", "0.6")),
            min_detect_height=int(_param(config, "min_detect_height", "256")),
            max_upscale=float(_param(config, "max_upscale", "2")),
            refine_face_size=float(_param(config, "refine_face_size", "144")),
            refine_above=float(_param(config, "refine_above", "36")),
            min_face_quality=float(_param(config, "min_face_quality", "0")),
        )
        self.out_dtypes = {o["name"]: pb_utils.triton_string_to_numpy(o["data_type"]) for o in config["output"]}

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            tensor = pb_utils.get_input_tensor_by_name(request, "CROPS")
            if tensor is None:
                responses.append(
                    self._error("missing input 'CROPS' (uint8 [batch, height, width, 3] BGR)", invalid_argument=True)
                )
                continue
            crops = tensor.as_numpy()
            message = check_crops(crops, "CROPS")
            if message is not None:
                responses.append(self._error(message, invalid_argument=True))
                continue
            try:
                result = self.classifier.predict(crops)
            except Exception as exc:  # keep the other requests of this batch alive
                responses.append(self._error(f"classification failed: {type(exc).__name__}: {exc}"))
                continue
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("GENDER", result.gender.astype(self.out_dtypes["GENDER"])),
                        pb_utils.Tensor("FACE_QUALITY", result.quality.astype(self.out_dtypes["FACE_QUALITY"])),
                        pb_utils.Tensor("FACE_BOX", result.face_box.astype(self.out_dtypes["FACE_BOX"])),
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
        self.classifier = None
