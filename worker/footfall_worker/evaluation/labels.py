"""Hand labels of line crossings on real clips (`input/labels/crossings/*.json`), read into scoring terms.

A label file names its clip (relative to the repository root; the street clip lives in `../shared`, which only
a bench may read), the counting geometry the labels were made for, and each crossing's frame (from 0, in
decode order), line and direction. Only `frames_labelled` was checked by eye: crossings outside it are not
scored.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from footfall_contract.config import ConfigError
from footfall_contract.config.cameras import format_validation_error
from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.evaluation.crossings import Crossing

MAX_LABEL_BYTES = 4 * 1024 * 1024


class _LabelledCrossing(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    frame: int = Field(ge=0)
    line: str = Field(max_length=63)
    direction: str = Field(pattern="^(in|out)$")


class _LabelFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    clip: str = Field(max_length=512)
    fps: float = Field(gt=0, le=240)
    frame_count: int = Field(ge=1)
    frames_labelled: tuple[int, int]
    analytics: AnalyticsConfig
    crossings: list[_LabelledCrossing] = Field(max_length=100_000)


@dataclass(frozen=True)
class CrossingLabels:
    video: Path
    fps: float
    frames_labelled: tuple[int, int]
    analytics: AnalyticsConfig
    crossings: list[Crossing]

    def labelled(self, found: list[Crossing]) -> list[Crossing]:
        """The found crossings inside the labelled frames (the rest cannot be judged)."""
        first, last = self.frames_labelled
        return [c for c in found if c.frame is None or first <= c.frame <= last]


def load_crossing_labels(path: Path, root: Path) -> CrossingLabels:
    """Read one label file; `root` is what its clip path is relative to (the repository).

    Raises:
        ConfigError: unreadable, too large, not JSON, or a field that is not what is expected (named).
    """
    try:
        if path.stat().st_size > MAX_LABEL_BYTES:
            raise ConfigError(f"{path}: expected a label file under {MAX_LABEL_BYTES} bytes")
        document = json.loads(path.read_text(encoding="utf-8"))
        labels = _LabelFile.model_validate(document)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON at line {error.lineno}: {error.msg}") from None
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, str(path))) from None
    lines = {line.id for line in labels.analytics.lines}
    crossings = []
    for index, c in enumerate(labels.crossings):
        if c.line not in lines:
            raise ConfigError(f"{path}: crossings[{index}].line: expected one of {sorted(lines)}, got {c.line!r}")
        crossings.append(Crossing(c.frame / labels.fps, c.direction, c.line, None, c.frame))
    return CrossingLabels(
        (root / labels.clip).resolve(), labels.fps, labels.frames_labelled, labels.analytics, crossings
    )
