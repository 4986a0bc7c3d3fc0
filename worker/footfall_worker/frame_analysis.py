"""People and their gender in one frame: detection, then gender for the confident people.

The per-frame core of `footfall detect`; the tracked pipeline (gender per track, off the frame path)
replaces it in the worker.
"""

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from footfall_worker.detections import Detections
from footfall_worker.inference import GenderClassifier, GenderEstimate, PersonDetector


@dataclass(frozen=True, slots=True)
class FrameAnalysis:
    people: Detections
    genders: list[GenderEstimate]
    detect_ms: float
    gender_ms: float

    def gender_counts(self, min_confidence: float) -> Counter[str]:
        counts: Counter[str] = Counter({"female": 0, "male": 0, "unknown": 0})
        counts.update(estimate.label(min_confidence) for estimate in self.genders)
        return counts


def analyse_frame(
    frame: np.ndarray,
    detector: PersonDetector,
    classifier: GenderClassifier | None,
    min_person_score: float = 0.5,
) -> FrameAnalysis:
    """Detect the people in `frame` scoring at least `min_person_score`, and classify their gender."""
    started = time.perf_counter()
    people = detector.detect_one(frame).above(min_person_score)
    detected = time.perf_counter()
    genders = classifier.classify_people(frame, people.xyxy) if classifier is not None and len(people) else []
    finished = time.perf_counter()
    return FrameAnalysis(people, genders, (detected - started) * 1000, (finished - detected) * 1000)
