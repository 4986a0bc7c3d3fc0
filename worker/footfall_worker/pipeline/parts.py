"""A channel's parts, built from its spec and settings: what `ChannelWorker` composes and runs.

    reader -> processor -> sinks (the record, the live stream, frame metrics)

Wiring only: which part exists depends on the settings (no database URL, no writer; no Redis, no live state
and no ReID; gender off, no classifier thread), and each part gets the others it needs here, once.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from footfall_contract.config.store_hours import business_day
from footfall_contract.redis_client import connect_url
from footfall_worker.classify.gender_worker import GenderWorker
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.health.detection import DetectionHealth
from footfall_worker.health.metrics import WorkerMetrics, WorkerStatus
from footfall_worker.inference import GenderClassifier, PersonDetector, TritonConnection
from footfall_worker.ingest.frames import Frame
from footfall_worker.ingest.rtsp_reader import CameraReader
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.frame_processor import FrameProcessor
from footfall_worker.pipeline.processing import make_processor
from footfall_worker.pipeline.sinks import (
    FrameMetricsSink,
    LiveEventSink,
    RecordSink,
    Sink,
    Sinks,
    StoreOccupancySink,
)
from footfall_worker.reid.appearance import ColorHistogramEncoder
from footfall_worker.reid.cache import ReidCache
from footfall_worker.reid.linker import TrackLinker
from footfall_worker.settings import Settings
from footfall_worker.storage.journal_lock import journal_directory
from footfall_worker.storage.live_state import LiveState
from footfall_worker.storage.postgres_writer import PostgresWriter
from footfall_worker.storage.records import Record, TrackPoint
from footfall_worker.storage.store_occupancy_live import LiveStoreOccupancy


@dataclass(frozen=True, slots=True)
class ChannelParts:
    metrics: WorkerMetrics
    connection: TritonConnection
    detector: PersonDetector
    triton: DetectionHealth  # whether detection may be tried now, and what it cost while Triton failed
    writer: PostgresWriter | None
    live: LiveState | None
    gender_worker: GenderWorker | None
    processor: FrameProcessor
    frames: FrameMetricsSink
    sinks: Sinks
    reader: CameraReader
    store: LiveStoreOccupancy | None = None  # an entrance camera's share of its store's live count


def build_parts(
    spec: ChannelSpec,
    settings: Settings,
    run_id: str,
    started_wall: float,
    status: Callable[[], WorkerStatus],
    extra_sinks: Sequence[Sink] = (),
) -> ChannelParts:
    """Every part of one channel's run `run_id`; `status` feeds the metrics collector when it is scraped;
    `extra_sinks` get every result after the record, the live stream and the frame metrics."""
    w = settings.worker
    extra = {"channel": spec.channel_id}
    metrics = WorkerMetrics(spec.channel_id, status)
    connection = TritonConnection(settings.triton)
    detector = PersonDetector(connection)
    detect_seconds = metrics.triton_request(settings.triton.detector_model)

    def detect(frame: Frame) -> Detections:
        with detect_seconds.time():
            return detector.detect_one(frame.image)

    def committed(records: list[Record]) -> None:
        """Writer thread, after a commit: how long the frames' track points took from capture to the database."""
        now = time.time()
        for record in records:
            if type(record) is TrackPoint:
                metrics.capture_to_committed.observe(max(0.0, now - record.t))

    # While Triton fails, a reminder goes with each summary line's period (FOOTFALL_SUMMARY_INTERVAL_S).
    triton = DetectionHealth(connection.url, w.triton_check_s, w.triton_retry_s, w.summary_interval_s, extra)
    writer = None
    if w.database_url:
        journal = journal_directory(w.journal_dir, spec.channel_id)
        writer = PostgresWriter(w.database_url, spec.channel_id, settings.storage, journal, on_committed=committed)
    redis_client = connect_url(w.redis_url) if w.redis_url else None
    live = LiveState(redis_client, spec.channel_id, min_interval_s=w.live_interval_s) if redis_client else None
    gender_worker = None
    gender = TrackGender.off()
    if w.gender:
        g = settings.gender
        gender_worker = GenderWorker(GenderClassifier(connection).classify, spec.channel_id, g.queue_size, g.batch_size)
        gender = TrackGender.using(gender_worker, g, w.gender_settle_s)
    linker = None
    if w.reid and redis_client is not None:
        encoder = ColorHistogramEncoder()
        linker = TrackLinker(
            encoder, ReidCache(redis_client, spec.channel_id, encoder_name=encoder.name, run_id=run_id)
        )
    file_wall_start = started_wall if spec.is_file else None
    processor = make_processor(
        spec,
        settings,
        run_id,
        detect,
        gender=gender,
        linker=linker,
        file_wall_start=file_wall_start,
        connection=connection,
    )
    frames = FrameMetricsSink(metrics.capture_to_buffered.observe)
    sinks: list[Sink] = [RecordSink(writer.put)] if writer is not None else []
    sinks += [LiveEventSink(live)] if live is not None else []
    store = None
    if redis_client is not None and spec.analytics is not None and spec.analytics.lines:
        zone, hours = ZoneInfo(spec.timezone), spec.opening_hours
        store = LiveStoreOccupancy(
            redis_client,
            spec.store_id,
            spec.channel_id,
            lambda t: business_day(t, zone, hours),
            spec.analytics.partner,
        )
        sinks.append(StoreOccupancySink(store, writer.put if writer is not None else None, run_id))
    return ChannelParts(
        metrics=metrics,
        connection=connection,
        detector=detector,
        triton=triton,
        writer=writer,
        live=live,
        gender_worker=gender_worker,
        processor=processor,
        frames=frames,
        sinks=Sinks([*sinks, frames, *extra_sinks]),
        store=store,
        reader=CameraReader(spec.channel_id, spec.source, settings.reader, fallback=spec.fallback),
    )
