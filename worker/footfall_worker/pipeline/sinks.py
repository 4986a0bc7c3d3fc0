"""Where a `FrameResult` goes: the record, the live stream, the frame metrics. One small class each.

Each sink owns its failure mode, so none raises for an outage: the writer buffers and journals (its drops are
counted there), the live state counts what Redis did not take. A sink that raises has a bug, and the
processing loop's crash handling makes that loud.

Analytics is not a sink: its events are themselves rows and live events, so it runs inside `FrameProcessor`.
"""

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from footfall_worker.health.latency import LatencyWindow
from footfall_worker.ingest.stream_state import RateMeter
from footfall_worker.pipeline.frame_result import FrameResult
from footfall_worker.storage.live_state import LiveState
from footfall_worker.storage.records import Record


class Sink(Protocol):
    def take(self, result: FrameResult) -> None: ...


class RecordSink:
    """The rows, in order, to the PostgreSQL writer (`PostgresWriter.put`: never blocks)."""

    def __init__(self, put: Callable[[Record], bool]) -> None:
        self._put = put

    def take(self, result: FrameResult) -> None:
        for record in result.records:
            self._put(record)


class LiveEventSink:
    """The channel events, as the record got them, to the channel's Redis stream."""

    def __init__(self, live: LiveState) -> None:
        self._live = live

    def take(self, result: FrameResult) -> None:
        for event in result.events:
            self._live.emit(event)


class FrameMetricsSink:
    """Processed frames: how many, how fast, and how long from capture to here (rows handed to the writer).

    Args:
        observe_latency: the Prometheus histogram's `observe`.
    """

    def __init__(self, observe_latency: Callable[[float], None]) -> None:
        self._observe = observe_latency
        self.processed = 0
        self.rate = RateMeter()
        self.latency = LatencyWindow()

    def take(self, result: FrameResult) -> None:
        if result.frame is None:
            return
        now = time.monotonic()
        self.processed += 1
        self.rate.tick(now)
        latency = now - result.frame.captured_mono
        self.latency.add(latency)
        self._observe(latency)


class Sinks:
    """Fans a result out to every sink, in order (the record first: it is the one that must not miss)."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self._sinks = tuple(sinks)

    def take(self, result: FrameResult) -> None:
        for sink in self._sinks:
            sink.take(result)
