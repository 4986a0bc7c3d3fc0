"""A channel's counters: the one set of counts every view of a worker carries.

The worker's `/status` document, its Prometheus series, the live hash in Redis (and so the CameraChannel's
status), the run's row in PostgreSQL and the summary it logs at exit all show the same counts; they embed this
type instead of copying its fields, so a new counter is added once and appears everywhere.

Every count starts at 0 when the worker process starts and only grows: a restart begins a new run.
"""

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class ChannelCounters:
    """Counts since the worker started.

    Attributes:
        frames_read: frames decoded from the stream (skipped ones included).
        frames_skipped: frames decoded but not processed (every-N or adaptive skipping).
        frames_processed: frames that went through detection and tracking.
        frames_dropped: frames overwritten in the reader's hand-off before processing took them.
        frames_failed: frames handed to processing but left without detection (Triton failed).
        reconnects: streams re-established after a loss.
        tracks_started: confirmed tracks (people) started.
        entries: people counted in over the channel's counting lines.
        exits: people counted out over them.
    """

    frames_read: int = 0
    frames_skipped: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_failed: int = 0
    reconnects: int = 0
    tracks_started: int = 0
    entries: int = 0
    exits: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ChannelCounters))


def flat_dict(view: Any) -> dict[str, Any]:
    """A dataclass that embeds `counters: ChannelCounters` as one flat dict, the counters' fields beside the
    others: the wire shape of every view (the `/status` document, the live hash, log lines)."""
    document = asdict(view)
    del document["counters"]
    return {**document, **view.counters.as_dict()}
