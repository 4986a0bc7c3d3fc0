"""Staff are not customers: a track that starts inside a staff zone (behind the counter, at the stock-room door)
or spends `staff_after_s` in staff zones is staff, for the rest of its life and of the tracks that continue it.

A track born in a staff zone only counts as staff when it is a new person there: one that continues a person's
track lost a moment ago (`track_origins.py`: someone re-found after walking behind a shelf) takes that track's
standing instead, so a customer re-found at the counter is not made staff by the break.

The tag is news (a `staff_tagged` event): the record keeps it on the track (`tracks.staff`), and a crossing
counted before the tag was known is corrected by it in the reports, as a gender decided later is.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from footfall_contract.config.geometry import Zone
from footfall_worker.analytics.polygon import inside_polygon
from footfall_worker.analytics.track_origins import Verdict
from footfall_worker.events import ChannelEvent, EventKind


class StaffTagger:
    """Tags staff tracks of one channel from its staff zones (`Zone.staff`). Pixel geometry, rebuilt by
    `layout` when the frame size changes; meant for the channel's processing loop."""

    def __init__(self, zones: Sequence[Zone], staff_after_s: float) -> None:
        self._zones = [zone for zone in zones if zone.staff]
        self._after_s = staff_after_s
        self._corners: list[np.ndarray] = []
        self._staff: set[int] = set()
        self._inside_s: dict[int, float] = {}  # time spent in staff zones so far
        self._last: dict[int, float] = {}  # when a track was last seen inside
        self._seen: set[int] = set()  # tracks whose birth has been judged

    def __bool__(self) -> bool:
        return bool(self._zones)

    def layout(self, width: int, height: int) -> None:
        scale = np.array([width, height], dtype=np.float64)
        self._corners = [np.asarray(zone.polygon, dtype=np.float64) * scale for zone in self._zones]

    def is_staff(self, track_id: int) -> bool:
        return track_id in self._staff

    def update(
        self,
        ts: float,
        ids: Sequence[int],
        points: np.ndarray,
        verdicts: Sequence[Verdict],
        heirs: Mapping[int, int],
    ) -> list[ChannelEvent]:
        """One frame: each track's anchor (feet, pixels) against the staff zones. Returns the tracks tagged now.

        Args:
            heirs: tracks born this frame that continue a lost one (`TrackOrigins`), heir -> lost.
        """
        if not self._zones or not ids:
            return []
        inside = np.zeros(len(ids), dtype=bool)
        for corners in self._corners:
            inside |= inside_polygon(points, corners)
        tagged = []
        for track_id, is_inside, verdict in zip(ids, inside.tolist(), verdicts, strict=True):
            if track_id in self._staff or verdict is Verdict.STATIC:
                continue
            born = track_id not in self._seen
            self._seen.add(track_id)
            if born and track_id in heirs:
                if heirs[track_id] in self._staff:
                    tagged.append(self._tag(track_id, ts, "continues a staff track"))
                continue
            if not is_inside:
                self._last.pop(track_id, None)
                continue
            if born:
                tagged.append(self._tag(track_id, ts, "appeared in a staff zone"))
                continue
            last = self._last.get(track_id)
            if last is not None:
                self._inside_s[track_id] = self._inside_s.get(track_id, 0.0) + ts - last
            self._last[track_id] = ts
            if self._inside_s.get(track_id, 0.0) >= self._after_s:
                tagged.append(self._tag(track_id, ts, "stayed in a staff zone"))
        return tagged

    def _tag(self, track_id: int, ts: float, why: str) -> ChannelEvent:
        self._staff.add(track_id)
        self._inside_s.pop(track_id, None)
        self._last.pop(track_id, None)
        return ChannelEvent(EventKind.STAFF_TAGGED, track_id, ts, {"reason": why})

    def forget(self, track_id: int) -> None:
        """The track is gone for good (no later track may continue it)."""
        self._staff.discard(track_id)
        self._inside_s.pop(track_id, None)
        self._last.pop(track_id, None)
        self._seen.discard(track_id)
