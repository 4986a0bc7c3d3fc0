"""`ChannelEvent`: something that happened on a channel, in the one shape analytics, the recorder, the record
(`events` rows) and the live stream in Redis all use.

Time is `t`: float seconds, as everywhere in the worker. Events are made on the channel's frame clock (the capture
time live, the video position for a file: see `pipeline/frame_processor.py`) and leave the frame processor on the
wall clock (`at_wall`), seconds since the epoch; they become `timestamptz` only at the SQL edge. Floats, not
datetimes: an event survives the journal's JSON round trip exactly and costs no object per frame.

The tracker's own lifecycle (`tracking.events.TrackEvent`: started, updated, lost, ended, with the live `Track`)
is an input to these, not one of them: "updated" and "lost" are tracker bookkeeping, not news for a store.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class EventKind(enum.StrEnum):
    """The kinds known today; the `events` table accepts any lower_snake_case kind, so a new one needs no migration."""

    TRACK_STARTED = "track_started"
    TRACK_ENDED = "track_ended"
    LINE_CROSSING = "line_crossing"
    ZONE_ENTER = "zone_enter"
    ZONE_EXIT = "zone_exit"
    STAFF_TAGGED = "staff_tagged"  # a track judged staff (staff zone), from then on and in its counts
    OCCUPANCY_DAY = "occupancy_day"  # a business day the store's live count closed: its corrections (store-wide)


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One event: its kind, the track it is about, when, and what else it carries (line, direction, gender,
    zone, dwell_s, box: plain JSON values, never pixels)."""

    kind: EventKind
    track_id: int
    t: float
    payload: Mapping[str, Any] = field(default_factory=dict)

    def at_wall(self, offset_s: float) -> "ChannelEvent":
        """The same event with `t` moved from the frame clock to the wall clock."""
        return replace(self, t=self.t + offset_s)
