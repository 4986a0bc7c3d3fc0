"""The per-frame work of a channel, free of threads and lifecycles: detect, track, classify, link, record.

    processor = FrameProcessor(...)
    processor.process(frame)                # raises InferenceError when detection fails
    ...
    processor.finish()                      # end every track, write final rows

Time: the tracker runs on the frame's own clock: the capture time for a live stream, the position in the
video for a file (so a file processed faster than real time tracks exactly like its live replay). Rows get
wall-clock times: the capture time live, the run's start plus the video position for a file.

Store analytics (a channel with counting lines or zones): after tracking, the frame's tracks go through
`StoreAnalytics` on the tracker's clock; each crossing, zone entry and zone exit becomes an `events` row, a
live event and a count in the minute's rollup, and the totals feed the live state.
"""

from collections.abc import Callable

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import IN, OUT, StoreAnalytics
from footfall_worker.classify.gender_worker import GenderWorker
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.events import ChannelEvent
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.minute_stats import MinuteStats
from footfall_worker.pipeline.recorder import Put, TrackRecorder
from footfall_worker.reid.linker import TrackLinker
from footfall_worker.storage.live_state import LiveState
from footfall_worker.storage.records import EventRow
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEvent, TrackEventKind

Detect = Callable[[Frame], Detections]


class FrameProcessor:
    """One channel's processing state: the tracker, gender votes, ReID links, the recorder and stats.

    Args:
        detect: the frame's people (Triton's person detector).
        tracker: this channel's ByteTracker.
        recorder: writes rows for tracker events.
        put: the writer's `put`, for the minute stats.
        gender_worker, track_gender: gender per track off the frame path, or None when gender is off.
        linker: ReID of new tracks, or None.
        live: the Redis live state, for track events, or None.
        file_wall_start: wall time of the run's start when the frames come from a file, else None.
        analytics: the channel's counting lines and zones, or None (no store analytics).
    """

    def __init__(
        self,
        detect: Detect,
        tracker: ByteTracker,
        recorder: TrackRecorder,
        put: Put,
        *,
        gender_worker: GenderWorker | None = None,
        track_gender: TrackGender | None = None,
        linker: TrackLinker | None = None,
        live: LiveState | None = None,
        file_wall_start: float | None = None,
        analytics: AnalyticsConfig | None = None,
    ) -> None:
        self._detect = detect
        self.tracker = tracker
        self.recorder = recorder
        self._put = put
        self._gender_worker = gender_worker
        self._track_gender = track_gender
        self._linker = linker
        self._live = live
        self._file_wall_start = file_wall_start
        self._stats = MinuteStats()
        self.analytics = StoreAnalytics(analytics) if analytics is not None and not analytics.empty else None
        # Replaced (never mutated) when they change, so other threads (probes, live state) read them as they are.
        self.entries_exits: tuple[int, int] = (0, 0)  # people counted in / out since the start, over all lines
        self.zone_occupancy: dict[str, int] = (
            {zone.id: 0 for zone in self.analytics.config.zones} if self.analytics is not None else {}
        )
        self._offset_s = 0.0
        self._last_t = 0.0
        self.track_ids: tuple[int, ...] = ()

    def clock(self, frame: Frame) -> tuple[float, float]:
        """(tracker time, wall time) of a frame."""
        if self._file_wall_start is not None and frame.media_s is not None:
            return frame.media_s, self._file_wall_start + frame.media_s
        return frame.captured_mono, frame.captured_wall

    def process(self, frame: Frame) -> None:
        """Run one frame through the pipeline and hand its rows to the writer.

        Raises:
            InferenceError: detection failed (the frame is lost; tracking state is untouched).
        """
        detections = self._detect(frame)
        t, wall = self.clock(frame)
        self._offset_s, self._last_t = wall - t, t
        result = self.tracker.update(detections, t)
        if self._track_gender is not None and self._gender_worker is not None:
            self._track_gender.apply(self._gender_worker.drain())
            self._track_gender.observe(frame.image, result.tracks, t)
        if self._linker is not None:
            for link in self._linker.observe(frame.image, result.tracks, result.events, wall):
                self.recorder.link(link)
        track_ids = result.tracks.track_id.tolist()
        counted: list[ChannelEvent] = []
        if self.analytics is not None:
            # before `_record`: it may settle ended tracks, and that forgets their gender votes
            size = (frame.image.shape[1], frame.image.shape[0])
            counted = self.analytics.update(t, track_ids, result.tracks.xyxy, size, self._gender_of)
            counted += self._end_analytics(result.events)
        self._record(result.events)
        self.track_ids = tuple(track_ids)
        started = sum(1 for event in result.events if event.kind is TrackEventKind.STARTED)
        done = self._stats.observe(wall, track_ids, started)
        if done is not None:
            self._put(done)
        self._analytics_events(counted)

    def idle(self) -> None:
        """Between frames (camera down, nothing handed off): let finished gender results settle ended tracks."""
        if self._track_gender is not None and self._gender_worker is not None:
            self._track_gender.apply(self._gender_worker.drain())
        self._announce(self.recorder.settle())

    def finish(self, gender_wait_s: float) -> None:
        """End every track, wait up to `gender_wait_s` for the last gender results, write the final rows."""
        events = self.tracker.finish(self._last_t + 1e-3)
        if self._linker is not None and events:
            self._linker.remember_ended(events, self._last_t + self._offset_s)
        self._analytics_events(self._end_analytics(events))
        self._record(events)
        if self._gender_worker is not None and self._track_gender is not None:
            self._gender_worker.wait_idle(gender_wait_s)
            self._track_gender.apply(self._gender_worker.drain())
        self._announce(self.recorder.settle(force=True))
        self.track_ids = ()
        done = self._stats.flush()
        if done is not None:
            self._put(done)

    def _gender_of(self, track_id: int) -> str | None:
        """The track's gender as decided so far; None while undecided (or gender is off)."""
        if self._track_gender is None:
            return None
        label = self._track_gender.label(track_id)
        return None if label == "unknown" else label

    def _end_analytics(self, events: list[TrackEvent]) -> list[ChannelEvent]:
        """Close the zone visits of the tracks the tracker ended."""
        if self.analytics is None:
            return []
        ended: list[ChannelEvent] = []
        for event in events:
            if event.kind is TrackEventKind.ENDED:
                ended += self.analytics.end_track(event.track_id)
        return ended

    def _analytics_events(self, events: list[ChannelEvent]) -> None:
        """Each event: an `events` row, a live event, a count in its minute."""
        if not events:
            return
        run_id = self.recorder.run_id
        walled = [event.at_wall(self._offset_s) for event in events]
        for event in walled:
            self._put(EventRow.of(run_id, event))
        self._announce(walled)
        for corrected in self._stats.count(walled):
            self._put(corrected)
        if self.analytics is not None:
            totals = self.analytics.totals().values()
            self.entries_exits = (sum(line[IN] for line in totals), sum(line[OUT] for line in totals))
            self.zone_occupancy = self.analytics.occupancy()

    def _record(self, events: list[TrackEvent]) -> None:
        if not events:
            self._announce(self.recorder.settle())
            return
        self._announce(self.recorder.record(events, self._offset_s))
        self._announce(self.recorder.settle())

    def _announce(self, events: list[ChannelEvent]) -> None:
        """The live stream gets the events the record got, as they are."""
        if self._live is None:
            return
        for event in events:
            self._live.emit(event)
