"""Typed clients of the shared Triton Inference Server."""

from footfall_worker.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotReadyError,
    TritonUnavailableError,
)
from footfall_worker.inference.triton_client import (
    GenderClassifier,
    GenderEstimate,
    PersonDetector,
    TritonConnection,
)

__all__ = [
    "GenderClassifier",
    "GenderEstimate",
    "InferenceError",
    "InferenceTimeoutError",
    "InvalidInputError",
    "ModelNotReadyError",
    "PersonDetector",
    "TritonConnection",
    "TritonUnavailableError",
]
