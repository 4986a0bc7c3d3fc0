"""Crossing-level scores: the counts a store pays for, judged against true crossings.

A found crossing matches a true one on the same line, in the same direction, within `tolerance_s` of it; each
is matched at most once, by an assignment that makes as many matches as it can with the smallest time errors
(Jonker-Volgenant, the solver ByteTrack already uses). Track ids are not compared: a crossing counted under a
new track after an id switch is still the person's crossing, and the id switch shows in IDF1 instead.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import lap
import numpy as np

DEFAULT_TOLERANCE_S = 1.0


@dataclass(frozen=True, slots=True)
class Crossing:
    """One crossing of a counting line: when, which way, which line (and, for reports, who and on which frame)."""

    t: float
    direction: str  # "in" or "out"
    line: str
    track: int | None = None
    frame: int | None = None  # index in the clip from 0, in decode order (labels and truth count so)


@dataclass(frozen=True, slots=True)
class CrossingScores:
    matched: int
    missed: tuple[Crossing, ...]  # true crossings nothing matched (false negatives)
    spurious: tuple[Crossing, ...]  # found crossings that match no true one (false positives)

    @property
    def recall(self) -> float | None:
        """Matched over true crossings; None when there was nothing to find."""
        truth = self.matched + len(self.missed)
        return self.matched / truth if truth else None

    @property
    def precision(self) -> float | None:
        """Matched over found crossings; None when nothing was found."""
        found = self.matched + len(self.spurious)
        return self.matched / found if found else None


def score_crossings(
    truth: Sequence[Crossing], found: Sequence[Crossing], tolerance_s: float = DEFAULT_TOLERANCE_S
) -> CrossingScores:
    """Match `found` against `truth` (see the module's docstring) and count what is left on either side."""
    if tolerance_s <= 0:
        raise ValueError(f"tolerance_s: expected seconds > 0, got {tolerance_s}")
    matched, missed, spurious = 0, [], []
    for key in sorted({(c.line, c.direction) for c in (*truth, *found)}):
        wanted = [c for c in truth if (c.line, c.direction) == key]
        got = [c for c in found if (c.line, c.direction) == key]
        pairs = _assign(wanted, got, tolerance_s)
        truth_matched, found_matched = {i for i, _ in pairs}, {j for _, j in pairs}
        matched += len(pairs)
        missed += [c for i, c in enumerate(wanted) if i not in truth_matched]
        spurious += [c for j, c in enumerate(got) if j not in found_matched]
    return CrossingScores(matched, tuple(missed), tuple(spurious))


def _assign(truth: list[Crossing], found: list[Crossing], tolerance_s: float) -> list[tuple[int, int]]:
    if not truth or not found:
        return []
    gap = np.abs(np.array([c.t for c in truth])[:, None] - np.array([c.t for c in found])[None, :])
    # lapjv with a cost limit leaves an item unmatched at half the limit (1 here): a pair within the tolerance
    # costs at most 1e-3, so one more match always beats smaller time errors, and among the largest sets of
    # matches the smallest errors win; a pair beyond the tolerance costs more than leaving both unmatched
    cost = np.where(gap <= tolerance_s, gap / tolerance_s * 1e-3, 4.0)
    _, rows, _ = lap.lapjv(cost, extend_cost=True, cost_limit=2.0)
    return [(i, int(j)) for i, j in enumerate(rows) if j >= 0 and gap[i, j] <= tolerance_s]
