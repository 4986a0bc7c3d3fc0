"""Where each track came from: into the view, back from a break, or nowhere. It decides two things.

A person comes from somewhere: into the view across its edge, or back into a new track where their own track
was just lost (behind a pillar, behind another shopper). So each track is judged at birth and after:

- `PERSON`: born at the frame's edge, or where a person's track vanished moments ago within walking reach, or
  it has moved since birth (its feet left a circle of `radius` box heights around where it was born).
- `CANDIDATE`: born in the middle of the view with nobody lost there, and not moved yet. Analytics withholds
  its zone visits until it is judged; it may still cross a line, which takes moving anyway.
- `STATIC`: a candidate for `after_s` seconds: a mannequin, a poster, a sign post. Not counted (no crossings,
  no zone visits) until it moves; then it is a person from that moment on.

So a person standing still at the till counts (they walked in), and a mannequin there does not (it was there,
unmoved, from its first frame). What the rule cannot tell apart: a person who stood unmoved for `after_s` from
the moment the worker started; they count once they move. A flickering false detection (a poster found every
few seconds) is re-born where its own track vanished; that track was never a person, so it explains nothing.

Heirs: a track born inside the view where a person's track was just lost, where that person would have walked
to at their last speed, is that person again as far as anyone can tell without looking (the tracker's
re-finding by appearance keeps the id itself when it can). `update` names the lost track, once: analytics gives
the new track the lost one's side of every line, so a walk across a line that an occlusion cut in two still
counts. Without appearance the gate is tight: a wrong heir on the far side of a line is a false crossing and
a missed one later (seen on one-by-one with a loose gate: someone entering at the frame's edge took the side
of a person who had just left at the other edge). A track born at the frame's edge came into the view: it is
nobody's heir.
"""

import enum
from dataclasses import dataclass

import numpy as np

# The frame's edge, relative to its size: a box this close to a side is coming into (or leaving) the view.
EDGE_MARGIN = 0.02
# How long a lost person's track can explain a new one (s). Without looking, a longer gap is a guess: a
# walk behind a pillar or another shopper hides someone for about a second (on the synthetic crowds, a 4 s
# window made a person who had left 2 s earlier the "lost one" of someone else standing by the line).
LOST_WINDOW_S = 2.0
# An heir's feet must be this near where the lost person would be at their last speed, in box heights: a
# fixed slack for box jitter plus a spread that grows with the time gone (people slow down, turn).
HEIR_SLACK_HEIGHTS = 0.5
HEIR_SPREAD_HEIGHTS_PER_S = 0.5
# Weight of the newest step in a track's speed (an average over the last few frames: detections jitter).
SPEED_WEIGHT = 0.3
_MIN_HEIGHT = 1e-6  # a degenerate box still divides


class Verdict(enum.IntEnum):
    PERSON = 0
    CANDIDATE = 1
    STATIC = 2


@dataclass(slots=True)
class _Seen:
    born_at: float
    born_anchor: tuple[float, float]
    verdict: Verdict
    last_at: float
    last_anchor: tuple[float, float]
    last_height: float
    velocity: tuple[float, float] = (0.0, 0.0)  # of the feet, in the units of the boxes per second
    ended: bool = False
    inherited: bool = False  # an heir has taken this track's place


@dataclass(frozen=True, slots=True)
class Judgement:
    """What one frame says about its tracks."""

    verdicts: list[Verdict]  # per track, in the order given
    heirs: dict[int, int]  # a track born now -> the lost track it continues


class TrackOrigins:
    """Per-track origin and verdict for one channel, updated every processed frame (not thread-safe)."""

    def __init__(self, after_s: float, radius: float) -> None:
        self.after_s = after_s  # 0: the static rule is off (heirs are still found)
        self.radius = radius
        self._tracks: dict[int, _Seen] = {}
        self.flagged = 0  # tracks judged static since the start

    def update(self, ts: float, ids: list[int], boxes: np.ndarray, frame_size: tuple[float, float]) -> Judgement:
        """The verdict of each track in `ids` (boxes xyxy in the units of `frame_size`, same order) after this
        frame, and the tracks born in it that continue a lost one."""
        width, height = frame_size
        rows = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).tolist()
        # Tracks seen now first, so none of them looks lost to a track born in the same frame.
        for track_id, (x0, y0, x1, y1) in zip(ids, rows, strict=True):
            seen = self._tracks.get(track_id)
            if seen is not None:
                _move(seen, ts, ((x0 + x1) / 2.0, y1), max(y1 - y0, _MIN_HEIGHT))
        born = [
            (ids[i], ((x0 + x1) / 2.0, y1), max(y1 - y0, _MIN_HEIGHT))
            for i, (x0, y0, x1, y1) in enumerate(rows)
            if ids[i] not in self._tracks and not _at_edge(x0, y0, x1, y1, width, height)
        ]
        heirs = self._heirs(born, ts)
        verdicts = []
        for track_id, (x0, y0, x1, y1) in zip(ids, rows, strict=True):
            anchor, box_height = ((x0 + x1) / 2.0, y1), max(y1 - y0, _MIN_HEIGHT)
            seen = self._tracks.get(track_id)
            if seen is None:
                entered = track_id in heirs or _at_edge(x0, y0, x1, y1, width, height) or self.after_s <= 0
                seen = _Seen(ts, anchor, Verdict.PERSON if entered else Verdict.CANDIDATE, ts, anchor, box_height)
                self._tracks[track_id] = seen
            if seen.verdict is not Verdict.PERSON:
                moved = np.hypot(anchor[0] - seen.born_anchor[0], anchor[1] - seen.born_anchor[1])
                if moved > self.radius * box_height:
                    seen.verdict = Verdict.PERSON
                elif seen.verdict is Verdict.CANDIDATE and ts - seen.born_at >= self.after_s:
                    seen.verdict = Verdict.STATIC
                    self.flagged += 1
            verdicts.append(seen.verdict)
        return Judgement(verdicts, heirs)

    def _heirs(self, born: list[tuple[int, tuple[float, float], float]], ts: float) -> dict[int, int]:
        """New track -> the person's track lost within the window that it continues: pairs within the gate
        around where the lost person would be now, nearest first, each track in one pair at most."""
        pairs = []
        for track_id, anchor, height in born:
            for lost_id, seen in self._tracks.items():
                gone_s = ts - seen.last_at
                if seen.verdict is not Verdict.PERSON or seen.inherited or not 0.0 < gone_s <= LOST_WINDOW_S:
                    continue
                reach = (HEIR_SLACK_HEIGHTS + HEIR_SPREAD_HEIGHTS_PER_S * gone_s) * max(height, seen.last_height)
                expected_x = seen.last_anchor[0] + seen.velocity[0] * gone_s
                expected_y = seen.last_anchor[1] + seen.velocity[1] * gone_s
                distance = float(np.hypot(anchor[0] - expected_x, anchor[1] - expected_y))
                if distance <= reach:
                    pairs.append((distance, track_id, lost_id))
        heirs: dict[int, int] = {}
        for _, track_id, lost_id in sorted(pairs):
            if track_id not in heirs and not self._tracks[lost_id].inherited:
                heirs[track_id] = lost_id
                self._tracks[lost_id].inherited = True
        return heirs

    def forget(self, track_id: int) -> bool:
        """The track ended. A person's is kept for the window (a track born where it vanished may be its heir):
        True then, and `prune` names it when it goes."""
        seen = self._tracks.get(track_id)
        if seen is not None and seen.verdict is Verdict.PERSON and not seen.inherited:
            seen.ended = True
            return True
        self._tracks.pop(track_id, None)
        return False

    def prune(self, ts: float, forget_after_s: float) -> list[int]:
        """Drop ended tracks past the window and any unseen for `forget_after_s` (bounded memory over days);
        returns the dropped ids."""
        stale = [
            track_id
            for track_id, seen in self._tracks.items()
            if ts - seen.last_at > (LOST_WINDOW_S if seen.ended else max(LOST_WINDOW_S, forget_after_s))
        ]
        for track_id in stale:
            del self._tracks[track_id]
        return stale


def _at_edge(x0: float, y0: float, x1: float, y1: float, width: float, height: float) -> bool:
    mx, my = EDGE_MARGIN * width, EDGE_MARGIN * height
    return x0 <= mx or y0 <= my or x1 >= width - mx or y1 >= height - my


def _move(seen: _Seen, ts: float, anchor: tuple[float, float], height: float) -> None:
    dt = ts - seen.last_at
    if dt > 0:
        step = ((anchor[0] - seen.last_anchor[0]) / dt, (anchor[1] - seen.last_anchor[1]) / dt)
        w = SPEED_WEIGHT
        seen.velocity = ((1 - w) * seen.velocity[0] + w * step[0], (1 - w) * seen.velocity[1] + w * step[1])
    seen.last_at, seen.last_anchor, seen.last_height = ts, anchor, height
