"""The worker's Prometheus metrics.

Latencies are histograms observed where they happen. Everything else (frame counters, queue depths, writer
state) already lives in the worker's parts, so a custom collector reads one `WorkerStatus` per scrape
instead of the hot loop incrementing a second copy of each counter.

Every series carries a `channel` label: in a cluster one pod is one channel, locally `footfall run` scrapes
several workers side by side.
"""

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from footfall_contract.counters import ChannelCounters, flat_dict
from footfall_worker.pipeline.minute_stats import MAX_FRAME_GAP_S

# Capture -> row: tens of ms when all is well, seconds when a queue backs up; the store's plan asks < 500 ms.
LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
TRITON_BUCKETS_S = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One instant of a channel worker: what /status serves and the collector exports."""

    channel: str
    state: str
    fps_read: float
    fps_processed: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    people_now: int
    active_tracks: int
    counters: ChannelCounters
    skip_every: int
    triton_errors: int
    handoff_depth: int
    gender_queue: int
    gender_dropped: int
    gender_failed: int
    writer_buffered_rows: int
    writer_journal_rows: int
    writer_written_rows: int
    writer_dropped_rows: int
    writer_rejected_rows: int  # quarantined: PostgreSQL refused them as data
    writer_transient_errors: int  # writes PostgreSQL refused for now (rows kept and retried)
    writer_db_up: bool
    live_skipped: int
    reid_malformed: int  # ReID gallery entries skipped as not what a worker writes
    live: bool
    ready: bool
    not_ready_reasons: tuple[str, ...]
    uptime_s: float
    zone_occupancy: dict[str, int] = dataclasses.field(default_factory=dict)  # people in each zone now
    stream_fallback: bool = False  # reading the main stream: the camera has no configured sub-stream
    # seconds spent per processing stage since the start, wall and CPU of the processing thread (stage_clock)
    stage_wall_s: dict[str, float] = dataclasses.field(default_factory=dict)
    stage_cpu_s: dict[str, float] = dataclasses.field(default_factory=dict)
    covered_s: float = 0.0  # seconds the channel saw (coverage: its rate is the fraction of time processed)
    store_id: str = ""
    store_people_inside: int | None = None  # the store's live count as this entrance camera last saw it

    def as_dict(self) -> dict[str, object]:
        """The `/status` document: flat, the counters' fields beside the others."""
        return flat_dict(self)


# (metric name, help, ChannelCounters field) — they only ever grow within a process.
_CHANNEL_COUNTERS = (
    ("footfall_frames_read", "Frames decoded from the stream (skipped ones included).", "frames_read"),
    ("footfall_frames_skipped", "Frames decoded but not processed (every-N / adaptive skipping).", "frames_skipped"),
    ("footfall_frames_processed", "Frames that went through detection and tracking.", "frames_processed"),
    ("footfall_frames_dropped", "Frames overwritten before processing took them (too slow).", "frames_dropped"),
    ("footfall_frames_failed", "Frames lost to a failed detection request.", "frames_failed"),
    ("footfall_reconnects", "Streams re-established after a loss.", "reconnects"),
    ("footfall_tracks_started", "Confirmed tracks (people) started.", "tracks_started"),
    ("footfall_entries", "People counted in on the channel's counting lines.", "entries"),
    ("footfall_exits", "People counted out on the channel's counting lines.", "exits"),
)
# (metric name, help, WorkerStatus field): the other parts' counters.
_COUNTERS = (
    ("footfall_triton_errors", "Detection requests that failed.", "triton_errors"),
    ("footfall_gender_dropped", "Crops dropped because the gender queue was full.", "gender_dropped"),
    ("footfall_gender_failed", "Crops lost to a failed gender request.", "gender_failed"),
    ("footfall_writer_written_rows", "Rows committed to PostgreSQL.", "writer_written_rows"),
    ("footfall_writer_dropped_rows", "Rows lost: memory full and the journal unwritable.", "writer_dropped_rows"),
    ("footfall_writer_rejected_rows", "Rows quarantined: refused as data (rejected.jsonl).", "writer_rejected_rows"),
    (
        "footfall_writer_transient_errors",
        "Writes PostgreSQL refused for now (failover, grants, migration); the rows were kept and retried.",
        "writer_transient_errors",
    ),
    (
        "footfall_covered_seconds",
        f"Seconds the channel saw: processed frames at most {MAX_FRAME_GAP_S:g} s apart (its rate is the fraction "
        "of time covered).",
        "covered_s",
    ),
    ("footfall_live_skipped", "Live-state updates skipped because Redis was down.", "live_skipped"),
    (
        "footfall_reid_malformed_entries",
        "ReID gallery entries in Redis skipped as malformed (wrong size, NaN, bad ids; logged once per key).",
        "reid_malformed",
    ),
)
_GAUGES = (
    ("footfall_fps_read", "Frames decoded per second (last few seconds).", "fps_read"),
    ("footfall_fps_processed", "Frames processed per second (last few seconds).", "fps_processed"),
    ("footfall_people_now", "People tracked in the latest processed frame.", "people_now"),
    ("footfall_active_tracks", "Confirmed tracks alive (visible or briefly lost).", "active_tracks"),
    ("footfall_skip_every", "Every N-th frame is processed.", "skip_every"),
    ("footfall_handoff_depth", "Frames waiting between the reader and processing.", "handoff_depth"),
    ("footfall_gender_queue_depth", "Crops waiting for the gender classifier.", "gender_queue"),
    ("footfall_writer_buffered_rows", "Rows in memory waiting for PostgreSQL.", "writer_buffered_rows"),
    ("footfall_writer_journal_rows", "Rows in the on-disk journal waiting for PostgreSQL.", "writer_journal_rows"),
    ("footfall_writer_db_up", "1 while the writer holds a PostgreSQL connection.", "writer_db_up"),
    ("footfall_live", "1 while the liveness verdict is ok.", "live"),
    ("footfall_ready", "1 while the readiness verdict is ok.", "ready"),
    ("footfall_uptime_seconds", "Seconds since the worker started.", "uptime_s"),
    (
        "footfall_stream_fallback",
        "1 while reading the main stream: the camera has no configured sub-stream.",
        "stream_fallback",
    ),
)
_STREAM_STATES = ("connecting", "streaming", "stalled", "backoff", "stopped")


class _StatusCollector(Collector):
    def __init__(self, status: Callable[[], WorkerStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        labels = [status.channel]
        counts = [(c, status.counters) for c in _CHANNEL_COUNTERS] + [(c, status) for c in _COUNTERS]
        for (name, documentation, field), source in counts:
            counter = CounterMetricFamily(name, documentation, labels=["channel"])
            counter.add_metric(labels, float(getattr(source, field)))
            yield counter
        for name, documentation, field in _GAUGES:
            gauge = GaugeMetricFamily(name, documentation, labels=["channel"])
            gauge.add_metric(labels, float(getattr(status, field)))
            yield gauge
        state = GaugeMetricFamily(
            "footfall_stream_state", "1 for the stream's current state.", labels=["channel", "state"]
        )
        for name in _STREAM_STATES:
            state.add_metric([status.channel, name], 1.0 if status.state == name else 0.0)
        yield state
        occupancy = GaugeMetricFamily(
            "footfall_zone_occupancy", "People in the zone now (store analytics).", labels=["channel", "zone"]
        )
        for zone, people in sorted(status.zone_occupancy.items()):
            occupancy.add_metric([status.channel, zone], float(people))
        yield occupancy
        if status.store_people_inside is not None:
            inside = GaugeMetricFamily(
                "footfall_store_people_inside",
                "People inside the store: entries minus exits over its entrances, reconciled (an entrance's view).",
                labels=["channel", "store"],
            )
            inside.add_metric([status.channel, status.store_id], float(status.store_people_inside))
            yield inside
        for clock, totals, documentation in (
            ("wall", status.stage_wall_s, "Wall seconds spent in each processing stage (a frame's latency)."),
            ("cpu", status.stage_cpu_s, "CPU seconds of the processing thread in each processing stage."),
        ):
            spent = CounterMetricFamily(f"footfall_stage_{clock}_seconds", documentation, labels=["channel", "stage"])
            for stage, seconds in totals.items():
                spent.add_metric([status.channel, stage], seconds)
            yield spent


class WorkerMetrics:
    """A private registry per worker (tests run several in one process), exported by `render`."""

    def __init__(self, channel_id: str, status: Callable[[], WorkerStatus]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._channel_id = channel_id
        self.capture_to_buffered = self._latency(
            "footfall_capture_to_buffered_seconds",
            "Frame capture to its rows handed to the record writer (detection, tracking, bookkeeping).",
        )
        self.capture_to_committed = self._latency(
            "footfall_capture_to_committed_seconds", "Frame capture to its track point committed in PostgreSQL."
        )
        self._triton = Histogram(
            "footfall_triton_request_seconds",
            "Detection request round trip to Triton.",
            ["channel", "model"],
            buckets=TRITON_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_StatusCollector(status))

    def _latency(self, name: str, documentation: str) -> Histogram:
        histogram = Histogram(name, documentation, ["channel"], buckets=LATENCY_BUCKETS_S, registry=self.registry)
        return histogram.labels(self._channel_id)

    def triton_request(self, model: str) -> Histogram:
        return self._triton.labels(self._channel_id, model)

    def render(self) -> bytes:
        """The Prometheus text exposition format."""
        return generate_latest(self.registry)
