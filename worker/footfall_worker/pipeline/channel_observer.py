"""What a running channel says about itself: its counters, the probes' verdicts, `/status`, the heartbeat in
Redis and the periodic summary line, all read from its parts' snapshots.

Observation is separate from running (`channel_worker.py`): the probe thread, the metrics scrape and the
processing loop all call it, and it changes nothing but the live state it publishes.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from footfall_contract.counters import ChannelCounters
from footfall_contract.probes import Verdict
from footfall_worker.health.metrics import WorkerStatus
from footfall_worker.health.verdict import WorkerView, liveness, readiness
from footfall_worker.ingest.stream_state import HealthSnapshot, StreamState
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.parts import ChannelParts
from footfall_worker.settings import Settings
from footfall_worker.storage.live_state import snapshot_from_health
from footfall_worker.storage.postgres_writer import WriterStats

log = logging.getLogger("footfall.worker")


@dataclass(slots=True)
class LoopState:
    """The processing thread's state: its owner (`ChannelWorker`) writes it, observation reads it."""

    stopping: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    crashed: bool = False
    beat: float = field(default_factory=time.monotonic)  # the loop's last sign of life (monotonic)
    thread: threading.Thread | None = None

    def alive(self) -> bool:
        running = self.thread is not None and self.thread.is_alive()
        return running or (self.done.is_set() and not self.crashed)

    def idle_s(self) -> float:
        return 0.0 if self.done.is_set() else time.monotonic() - self.beat


class ChannelObserver:
    """Reads one channel's parts into its views.

    Args:
        spec: the channel.
        settings: all settings groups (the probes' thresholds, the Triton model).
        parts: the channel's parts.
        loop: the processing thread's state.
        started_mono: when the worker started (monotonic), for the uptime.
    """

    def __init__(
        self, spec: ChannelSpec, settings: Settings, parts: ChannelParts, loop: LoopState, started_mono: float
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.parts = parts
        self.loop = loop
        self._started_mono = started_mono
        self._extra = {"channel": spec.channel_id}
        self._last_state: StreamState | None = None

    def counters(self, health: HealthSnapshot | None = None) -> ChannelCounters:
        """The channel's counts now, gathered from the parts that own them."""
        p = self.parts
        health = health or p.reader.snapshot()
        tally = p.processor.tally
        return ChannelCounters(
            frames_read=health.frames_read,
            frames_skipped=health.frames_skipped,
            frames_processed=p.frames.processed,
            frames_dropped=health.dropped,
            frames_failed=p.triton.frames_failed,
            reconnects=health.reconnects,
            tracks_started=tally.tracks_started,
            entries=tally.entries,
            exits=tally.exits,
        )

    def view(self, health: HealthSnapshot | None = None, writer: WriterStats | None = None) -> WorkerView:
        p = self.parts
        health = health or p.reader.snapshot()
        writer = writer or (p.writer.stats() if p.writer is not None else None)
        return WorkerView(
            stopping=self.loop.stopping.is_set(),
            loop_alive=self.loop.alive(),
            loop_idle_s=self.loop.idle_s(),
            reader_alive=p.reader.running,
            reader_state=health.state,
            last_frame_age_s=health.last_frame_age_s,
            writer_alive=writer is None or writer.running,
            writer_db_up=writer is None or writer.db_up,
            writer_journal_ok=writer is None or writer.journal_ok,
            gender_alive=p.gender_worker is None or p.gender_worker.alive,
            triton_ok=p.triton.ok is True,
            source_is_file=self.spec.is_file,
        )

    def liveness(self) -> Verdict:
        return liveness(self.view(), self.settings.worker.liveness_timeout_s)

    def readiness(self) -> Verdict:
        return readiness(self.view(), self.settings.worker.ready_frame_age_s)

    def status(self) -> WorkerStatus:
        p = self.parts
        health = p.reader.snapshot()
        writer = p.writer.stats() if p.writer is not None else None
        view = self.view(health, writer)
        alive = liveness(view, self.settings.worker.liveness_timeout_s)
        ready = readiness(view, self.settings.worker.ready_frame_age_s)
        p50, p95, p99 = p.frames.latency.percentiles_ms(50, 95, 99)
        gender = p.gender_worker
        tally = p.processor.tally
        stage_wall_s, stage_cpu_s = p.processor.stages.totals()
        return WorkerStatus(
            channel=self.spec.channel_id,
            state=str(health.state),
            fps_read=health.fps,
            fps_processed=p.frames.rate.rate(),
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            latency_p99_ms=p99,
            people_now=tally.people_now,
            active_tracks=len(p.processor.tracker.active_tracks),
            counters=self.counters(health),
            skip_every=health.skip_every,
            triton_errors=p.triton.errors,
            handoff_depth=len(p.reader.frames),
            gender_queue=gender.pending if gender else 0,
            gender_dropped=gender.dropped if gender else 0,
            gender_failed=gender.failed if gender else 0,
            writer_buffered_rows=writer.buffered_rows if writer else 0,
            writer_journal_rows=writer.journal_rows if writer else 0,
            writer_written_rows=writer.written_rows if writer else 0,
            writer_dropped_rows=writer.dropped_rows if writer else 0,
            writer_rejected_rows=writer.rejected_rows if writer else 0,
            writer_transient_errors=writer.transient_errors if writer else 0,
            writer_db_up=writer.db_up if writer else False,
            live_skipped=p.live.stats.skipped if p.live else 0,
            reid_malformed=p.processor.linker.cache.stats.malformed if p.processor.linker else 0,
            live=alive.ok,
            ready=ready.ok,
            not_ready_reasons=ready.reasons,
            uptime_s=round(time.monotonic() - self._started_mono, 3),
            zone_occupancy=tally.zone_occupancy,
            stream_fallback=health.on_fallback,
            stage_wall_s=stage_wall_s,
            stage_cpu_s=stage_cpu_s,
            covered_s=round(p.processor.covered_s, 3),
            store_id=self.spec.store_id,
            store_people_inside=p.store.inside if p.store is not None else None,
        )

    def publish_live(self, force: bool = False) -> None:
        """The heartbeat to Redis (throttled by LiveState, but always on a stream state change or `force`)."""
        p = self.parts
        if p.live is None:
            return
        health = p.reader.snapshot()
        p50, p95 = p.frames.latency.percentiles_ms(50, 95)
        tally = p.processor.tally
        snapshot = snapshot_from_health(
            health,
            self.counters(health),
            active_track_ids=tally.track_ids,
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            zone_occupancy=tally.zone_occupancy,
            triton_url=p.triton.url,
            triton_ok=p.triton.ok,
            triton_error=p.triton.error,
        )
        changed = health.state is not self._last_state
        self._last_state = health.state
        p.live.publish(snapshot, force=force or changed)

    def log_summary(self) -> None:
        status = self.status()
        log.info(
            "summary",
            extra={
                **self._extra,
                "state": status.state,
                "fps_read": round(status.fps_read, 1),
                "fps_processed": round(status.fps_processed, 1),
                "latency_p50_ms": _rounded(status.latency_p50_ms),
                "latency_p95_ms": _rounded(status.latency_p95_ms),
                **status.counters.as_dict(),
                "skip_every": status.skip_every,
                "people_now": status.people_now,
                "rows_written": status.writer_written_rows,
                "rows_buffered": status.writer_buffered_rows,
                "rows_journaled": status.writer_journal_rows,
                "ready": status.ready,
            },
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
