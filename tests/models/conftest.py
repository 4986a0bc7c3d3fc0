"""Fixtures for the pure pre/post-processing code of the Triton models (no Triton needed).

The code under test lives beside each ``model.py`` (``models/<name>/1/``), where Triton's python backend
imports it from; these tests put those folders on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "models"
for _d in (MODELS / "person_detector" / "1", MODELS / "gender_classifier" / "1"):
    if str(_d) not in sys.path:
        sys.path.insert(0, str(_d))


@pytest.fixture(scope="session")
def person_detector():
    from yolox import PersonDetector

    return PersonDetector(str(MODELS / "person_detector" / "1" / "model.onnx"))


@pytest.fixture(scope="session")
def gender_classifier():
    from face_gender import GenderClassifier

    d = MODELS / "gender_classifier" / "1"
    return GenderClassifier(str(d / "face_detector.onnx"), str(d / "model.onnx"))
