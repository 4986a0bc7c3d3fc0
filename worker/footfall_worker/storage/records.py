"""What the pipeline hands the record writer: plain frozen rows, times as float epoch seconds (wall clock).

Times become `timestamptz` only at the SQL edge (`to_timestamp`), so producing a record costs no datetime
objects and a record survives a JSON round trip through the journal exactly. No record holds pixels: boxes,
ids, times and labels only.

Each `TrackRow` is the full current state of a track: the writer upserts it, and the newest (by `last_seen`,
then by arrival) wins, so a growing track simply re-sends its row.
"""

import uuid
from dataclasses import dataclass, fields
from typing import Any

from footfall_contract.counters import ChannelCounters
from footfall_worker.events import ChannelEvent
from footfall_worker.labels import Gender


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A camera channel's identity and configuration (upserted: the newest wins)."""

    channel_id: str
    store_id: str
    name: str
    source_masked: str  # masked again at the SQL edge: credentials never reach the database
    config: dict[str, Any]
    timezone: str = "UTC"  # the store's IANA zone: reports and `channel_hours` bucket by its local hours
    opening_hours: dict[str, str] | None = None  # the store's {"open": "HH:MM", "close": "HH:MM"}, if configured


@dataclass(frozen=True, slots=True)
class RunStart:
    """One worker start on the writer's channel. `run_id` is generated here, so a retry never duplicates it."""

    run_id: str
    started_at: float


@dataclass(frozen=True, slots=True)
class RunSeen:
    """An open run is alive at `seen_at` (put by its writer every few seconds; see `runs.py`)."""

    run_id: str
    seen_at: float


@dataclass(frozen=True, slots=True)
class RunEnd:
    """Closes a run: the counters of the whole run and why it ended."""

    run_id: str
    ended_at: float
    frames_read: int
    frames_processed: int
    frames_dropped: int
    reconnects: int
    mean_fps: float
    exit_reason: str
    rows_produced: dict[str, int] | None = None  # filled by the run's writer (storage/runs.py RunTally)

    @classmethod
    def of(cls, run_id: str, ended_at: float, counters: ChannelCounters, mean_fps: float, exit_reason: str) -> "RunEnd":
        """The run's end from the channel's counters (the columns of `runs` take the ones they have)."""
        return cls(
            run_id,
            ended_at,
            frames_read=counters.frames_read,
            frames_processed=counters.frames_processed,
            frames_dropped=counters.frames_dropped,
            reconnects=counters.reconnects,
            mean_fps=mean_fps,
            exit_reason=exit_reason,
        )


@dataclass(frozen=True, slots=True)
class TrackRow:
    """A track's current state; `linked_*` names the earlier track this person was re-identified as."""

    run_id: str
    track_id: int
    first_seen: float
    last_seen: float
    frames: int
    gender: Gender = "unknown"
    gender_confidence: float | None = None
    face_votes: int = 0
    vote_weight: float = 0.0
    score_mean: float | None = None
    score_max: float | None = None
    linked_run_id: str | None = None
    linked_track_id: int | None = None
    staff: bool = False  # tagged staff by a staff zone (analytics/staff.py); once staff, the record keeps it


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """A sampled box of a track, in source pixels."""

    run_id: str
    track_id: int
    t: float
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class EventRow:
    """Something that happened on the writer's channel. `event_id` (a uuid) makes a retried batch harmless."""

    event_id: str
    run_id: str
    t: float
    kind: str
    track_id: int | None = None
    payload: dict[str, Any] | None = None

    @classmethod
    def new(
        cls, run_id: str, t: float, kind: str, track_id: int | None = None, payload: dict[str, Any] | None = None
    ) -> "EventRow":
        """An event with a fresh random id."""
        return cls(str(uuid.uuid4()), run_id, t, str(kind), track_id, payload)

    @classmethod
    def of(cls, run_id: str, event: ChannelEvent) -> "EventRow":
        """The row of a channel event (on the wall clock), with a fresh random id."""
        return cls.new(run_id, event.t, event.kind, event.track_id, dict(event.payload))


@dataclass(frozen=True, slots=True)
class ChannelStatMinute:
    """One run's share of a minute of the writer's channel; re-sending it replaces it (the newest wins), so a
    replayed journal changes nothing, and two runs in one minute (a restart) add up (`channel_minutes`).

    The store analytics fields (line entries and exits, entries by the gender known at the crossing, zone
    dwells ended in the minute) and `run_id` come last and have defaults, so a journal written before them
    still decodes (its minutes count as one run, `""`).
    """

    minute: float  # any time inside the minute; truncated at the SQL edge
    people_count: int
    unique_tracks: int
    fps: float
    occupancy_avg: float
    occupancy_max: int
    entries: int = 0
    exits: int = 0
    entries_female: int = 0
    entries_male: int = 0
    entries_unknown: int = 0
    dwells: int = 0
    dwell_mean_s: float | None = None  # None when no dwell ended in the minute
    run_id: str = ""
    covered_s: float | None = None  # seconds of the minute the channel saw; None from a worker before coverage
    entries_staff: int = 0  # of `entries`, those of tracks known to be staff at crossing time
    exits_staff: int = 0


@dataclass(frozen=True, slots=True)
class HeatmapHour:
    """Where people stood in one hour of one run of the writer's channel: feet points (the bottom centre of each
    tracked box, every processed frame) counted on a `cols` x `rows` grid over the frame, row by row from the
    top left. Re-sent as the hour grows (the newest replaces); `frames` is the frames processed in it."""

    hour: float  # any time inside the hour (truncated at the SQL edge)
    run_id: str
    cols: int
    rows: int
    counts: list[int]
    frames: int


Record = ChannelRow | RunStart | RunSeen | RunEnd | TrackRow | TrackPoint | EventRow | ChannelStatMinute | HeatmapHour

RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (ChannelRow, RunStart, RunSeen, RunEnd, TrackRow, TrackPoint, EventRow, ChannelStatMinute, HeatmapHour)
}
_FIELD_NAMES: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls)) for cls in RECORD_TYPES.values()}


def new_run_id() -> str:
    """A fresh run id (uuid4 text)."""
    return str(uuid.uuid4())


def encode_record(record: Record) -> list[Any]:
    """`[type name, field values...]`: the journal's JSON form (no deep copies, unlike `dataclasses.astuple`)."""
    cls = type(record)
    return [cls.__name__, *(getattr(record, name) for name in _FIELD_NAMES[cls])]


def decode_record(item: list[Any]) -> Record:
    """Inverse of `encode_record`.

    Raises:
        ValueError: unknown record type or wrong number of fields.
    """
    try:
        cls = RECORD_TYPES[item[0]]
        return cls(*item[1:])  # type: ignore[no-any-return]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not a storage record: {str(item)[:200]}") from exc
