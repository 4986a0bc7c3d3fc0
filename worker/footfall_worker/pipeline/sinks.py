"""Where a `FrameResult` goes: the record, the live stream, the frame metrics. One small class each.

Each sink owns its failure mode, so none raises for an outage: the writer buffers and journals (its drops are
counted there), the live state counts what Redis did not take. A sink that raises has a bug, and the
processing loop's crash handling makes that loud.

Analytics is not a sink: its events are themselves rows and live events, so it runs inside `FrameProcessor`.
"""

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from footfall_worker.analytics.line_state import IN, OUT
from footfall_worker.events import EventKind
from footfall_worker.health.latency import LatencyWindow
from footfall_worker.ingest.stream_state import RateMeter
from footfall_worker.pipeline.frame_result import FrameResult
from footfall_worker.storage.live_state import LiveState
from footfall_worker.storage.records import EventRow, Record
from footfall_worker.storage.store_occupancy_live import ClosedDay, LiveStoreOccupancy


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


class StoreOccupancySink:
    """An entrance camera's crossings to its store's live count in Redis, and every business day the count
    closes to the record (an `occupancy_day` event: that day's corrections, once per store and day).

    Args:
        store: this worker's share of the store's count.
        put: the PostgreSQL writer's `put` (None: no record).
        run_id: the run the `occupancy_day` rows belong to.
        tick_s: how often the business day is checked for its end when nobody crosses.
    """

    def __init__(
        self,
        store: LiveStoreOccupancy,
        put: Callable[[Record], bool] | None,
        run_id: str,
        *,
        tick_s: float = 5.0,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._put = put
        self._run_id = run_id
        self._tick_s = tick_s
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._last_tick: float | None = None

    def take(self, result: FrameResult) -> None:
        for event in result.events:
            direction = event.payload.get("direction")
            if event.kind == EventKind.LINE_CROSSING and direction in (IN, OUT):
                self._recorded(self.store.crossing(event.t, str(direction)), event.t)
        now = self._monotonic()
        if self._last_tick is None or now - self._last_tick >= self._tick_s:
            self._last_tick = now
            wall = self._wall_clock()
            self._recorded(self.store.tick(wall), wall)

    def _recorded(self, closed: ClosedDay | None, t: float) -> None:
        if closed is not None and self._put is not None:
            self._put(
                EventRow.new(self._run_id, t, EventKind.OCCUPANCY_DAY, payload=closed.payload(self.store.store_id))
            )


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
