"""Typed clients of the shared Triton Inference Server."""

from footfall_worker.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotReadyError,
    TritonUnavailableError,
)
from footfall_worker.inference.gender_classifier import GenderClassifier, GenderEstimate
from footfall_worker.inference.person_detector import PersonDetector
from footfall_worker.inference.triton_client import TritonConnection

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
