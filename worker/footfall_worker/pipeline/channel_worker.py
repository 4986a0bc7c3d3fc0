"""`ChannelWorker`: one channel's parts (`parts.py`) composed and run, and their lifecycle.

    reader thread --frames--> processing thread: FrameProcessor --FrameResult--> sinks
        sinks: rows --> writer thread --> PostgreSQL (journal while down); events --> Redis; frame metrics
        processing --crops--> gender thread --> Triton
    probe thread: /healthz /readyz /metrics /status, from snapshots only (channel_observer.py)

Nothing here dies silently: the processing loop's crash ends its thread, which fails liveness (Kubernetes
restarts the pod) and ends `wait()` (the local manager restarts the process). A camera, Triton, PostgreSQL
or Redis outage is a state, retried by the part that owns the connection, never a crash.

Shutdown (`stop`, on SIGTERM): stop reading, process the frames already handed off, end every track and wait
briefly for their last gender results, close the run row, flush the writer (whatever PostgreSQL cannot take
in time stays in the journal for the next start), all within the deadline.
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from footfall_contract.counters import ChannelCounters, flat_dict
from footfall_contract.probes import ProbeServer
from footfall_worker.inference import InferenceError
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.channel_observer import ChannelObserver, LoopState
from footfall_worker.pipeline.parts import build_parts
from footfall_worker.pipeline.sinks import Sink
from footfall_worker.settings import Settings
from footfall_worker.storage.records import ChannelRow, RunEnd, RunStart, new_run_id

log = logging.getLogger("footfall.worker")


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    exit_reason: str
    counters: ChannelCounters
    mean_fps: float
    writer_complete: bool  # every row committed (False: some wait in the journal, or were lost: see logs)
    clean: bool  # no thread crashed and the deadline held

    def as_dict(self) -> dict[str, object]:
        """Flat, the counters' fields beside the others (the `stopped` log line)."""
        return flat_dict(self)


class ChannelWorker:
    """Runs one channel until `stop()` (a camera) or the end of the file.

    Args:
        spec: the channel.
        settings: all settings groups.
        extra_sinks: more receivers of every result, after the built-in ones (`process-video --tracks-out`).
    """

    def __init__(self, spec: ChannelSpec, settings: Settings, extra_sinks: Sequence[Sink] = ()) -> None:
        self.spec = spec
        self.settings = settings
        self.channel_id = spec.channel_id
        self.run_id = new_run_id()
        self._extra = {"channel": spec.channel_id}
        self._started_mono = time.monotonic()
        self._started_wall = time.time()
        self._loop = LoopState()
        self._exit_reason = "stopped"
        self._last_live = float("-inf")
        self._last_summary = time.monotonic()
        self._summary: RunSummary | None = None
        w = settings.worker
        parts = build_parts(
            spec, settings, self.run_id, self._started_wall, lambda: self.observer.status(), extra_sinks
        )
        self.observer = ChannelObserver(spec, settings, parts, self._loop, self._started_mono)
        # The observer's views are the worker's: the probes, the tests and `process-video` ask the worker.
        self.counters, self.status = self.observer.counters, self.observer.status
        self.liveness, self.readiness = self.observer.liveness, self.observer.readiness
        self.metrics = parts.metrics
        self.connection = parts.connection
        self.detector = parts.detector
        self.triton = parts.triton
        self.writer = parts.writer
        self.live = parts.live
        self.gender_worker = parts.gender_worker
        self.processor = parts.processor
        self.frames = parts.frames
        self.sinks = parts.sinks
        self.reader = parts.reader
        self.probes = ProbeServer(
            w.http_host,
            w.http_port,
            spec.channel_id,
            liveness=self.liveness,
            readiness=self.readiness,
            metrics=self.metrics.render,
            status=lambda: self.status().as_dict(),
        )
        self._thread = threading.Thread(target=self._run_loop, name=f"process-{spec.channel_id}", daemon=True)
        self._loop.thread = self._thread

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> "ChannelWorker":
        """Start every thread. Raises MigrationError when the database schema disagrees with this build."""
        if self.writer is not None:
            self.writer.start()
            spec = self.spec
            hours = spec.opening_hours.model_dump(mode="json") if spec.opening_hours is not None else None
            self.writer.put(
                ChannelRow(
                    spec.channel_id, spec.store_id, spec.name, spec.source_masked, spec.config, spec.timezone, hours
                )
            )
            self.writer.put(RunStart(self.run_id, self._started_wall))
        self.probes.start()
        if self.gender_worker is not None:
            self.gender_worker.start()
        self.reader.start()
        self._thread.start()
        log.info(
            "worker started",
            extra={
                **self._extra,
                "run_id": self.run_id,
                "source": self.spec.source_masked,
                "triton": self.connection.url,
                "probe_port": self.probes.port,
                "record": self.writer is not None,
                "live_state": self.live is not None,
            },
        )
        return self

    @property
    def processing_ended(self) -> bool:
        return self._loop.done.is_set()

    def stop(self, reason: str = "stopped") -> RunSummary:
        """Shut down within `shutdown_deadline_s`: see the module docstring. Safe to call more than once."""
        if self._summary is not None:
            return self._summary
        deadline = time.monotonic() + self.settings.worker.shutdown_deadline_s
        loop = self._loop
        if not loop.done.is_set():
            self._exit_reason = reason
        loop.stopping.set()
        log.info("stopping", extra={**self._extra, "reason": self._exit_reason})
        # Stopping the reader closes the hand-off: the loop drains what is there, then finishes the tracks.
        self.reader.stop(timeout_s=max(0.5, min(6.0, deadline - time.monotonic() - 4.0)))
        loop.done.wait(max(0.5, deadline - time.monotonic() - 3.0))
        # A camera reader only stops when asked: one that ended by itself died, and the exit code says so.
        clean = loop.done.is_set() and not loop.crashed and self._exit_reason != "reader_stopped"
        if not loop.done.is_set():
            log.error("processing did not finish in time; closing the record anyway", extra=self._extra)
        if self.gender_worker is not None:
            self.gender_worker.stop(timeout_s=1.0)
        counters = self.counters()
        mean_fps = round(counters.frames_processed / max(1e-6, time.monotonic() - self._started_mono), 3)
        complete = True
        if self.writer is not None:
            self.writer.put(RunEnd.of(self.run_id, time.time(), counters, mean_fps, self._exit_reason))
            complete = self.writer.close(max(0.5, deadline - time.monotonic() - 0.5))
        self.observer.publish_live(force=True)
        if self.live is not None:
            self.live.unregister()  # a stopped channel leaves the channel set; its last state expires by itself
            self.live.close()
        self.probes.stop()
        self.detector.close()
        self.connection.close()
        self._summary = RunSummary(
            run_id=self.run_id,
            exit_reason=self._exit_reason,
            counters=counters,
            mean_fps=mean_fps,
            writer_complete=complete,
            clean=clean and time.monotonic() <= deadline + 0.5,
        )
        log.info("stopped", extra={**self._extra, **self._summary.as_dict()})
        return self._summary

    # -- processing thread -------------------------------------------------------------------------------------

    def _run_loop(self) -> None:
        loop = self._loop
        try:
            self._check_triton()
            while True:
                loop.beat = time.monotonic()
                frame = self.reader.get(timeout=0.5)
                if frame is None:
                    if not self.reader.running:
                        break  # stopped, or the file ended: the hand-off is drained
                    self._between_frames()
                    continue
                self._process(frame)
            if not loop.stopping.is_set():
                self._exit_reason = "end_of_file" if self.spec.is_file else "reader_stopped"
            loop.beat = time.monotonic()
            self.sinks.take(self.processor.finish(gender_wait_s=min(2.0, self.settings.worker.gender_settle_s)))
        except Exception:  # noqa: BLE001 - a bug ends the thread loudly: liveness fails and the pod restarts
            loop.crashed = True
            self._exit_reason = "crashed"
            log.exception("processing loop crashed", extra=self._extra)
        finally:
            loop.done.set()

    def _process(self, frame: Frame) -> None:
        # While Triton fails, frames go without detection (counted) and the loop keeps its pace: live state,
        # probes and a shutdown never wait on a dead Triton longer than one bounded retry (see DetectionHealth).
        if not self.triton.may_detect(time.monotonic(), self._triton_problem):
            self.triton.skipped(time.monotonic())
            self._after_frame(time.monotonic())
            return
        try:
            result = self.processor.process(frame)
        except InferenceError as error:
            self.triton.failed(str(error), time.monotonic())
            self._after_frame(time.monotonic())
            return
        self.triton.answered(time.monotonic())
        self.sinks.take(result)
        self._after_frame(time.monotonic())

    def _between_frames(self) -> None:
        self.sinks.take(self.processor.idle())
        if self.triton.probe_due(time.monotonic()):
            self._check_triton()
        self._after_frame(time.monotonic())

    def _after_frame(self, now: float) -> None:
        if now - self._last_live >= self.settings.worker.live_interval_s:
            self._last_live = now
            self.observer.publish_live()
        if now - self._last_summary >= self.settings.worker.summary_interval_s:
            self._last_summary = now
            self.observer.log_summary()

    def _triton_problem(self) -> str | None:
        return self.connection.model_problem(self.settings.triton.detector_model)

    def _check_triton(self) -> None:
        self.triton.checked(self._triton_problem(), time.monotonic())
