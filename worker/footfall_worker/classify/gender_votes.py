"""A track's gender vote: face-quality-weighted probabilities, `unknown` until confident."""

from dataclasses import dataclass

from footfall_worker.inference import GenderEstimate
from footfall_worker.labels import Gender


@dataclass(slots=True)
class GenderVote:
    """Votes from every classified crop of one track.

    Each crop with a usable face adds its probabilities weighted by face quality, so a sharp frontal face
    outweighs a blurry three-quarter view; crops without a face add nothing (a person seen only from behind
    stays `unknown`).
    """

    weight: float = 0.0
    female: float = 0.0
    male: float = 0.0
    crops: int = 0
    faces: int = 0

    def add(self, estimate: GenderEstimate) -> None:
        self.crops += 1
        if not estimate.has_face:
            return
        quality = estimate.face_quality
        self.faces += 1
        self.weight += quality
        self.female += quality * estimate.p_female
        self.male += quality * estimate.p_male

    @property
    def p_female(self) -> float:
        return self.female / self.weight if self.weight else 0.0

    @property
    def p_male(self) -> float:
        return self.male / self.weight if self.weight else 0.0

    @property
    def confidence(self) -> float:
        return max(self.p_female, self.p_male)

    def label(self, min_confidence: float, min_weight: float) -> Gender:
        """`female`/`male` once enough face quality agrees with enough confidence, else `unknown`."""
        if self.weight < min_weight or self.confidence < min_confidence:
            return "unknown"
        return "female" if self.p_female > self.p_male else "male"

    def decided(self, min_confidence: float, weight: float) -> bool:
        """So sure that more crops would not change the answer."""
        return self.weight >= weight and self.confidence >= min_confidence
