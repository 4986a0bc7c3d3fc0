"""The per-frame work of a channel, free of threads, lifecycles and connections: detect, track, classify,
link, count, record. Each step returns a `FrameResult`; the sinks (`pipeline/sinks.py`) take it from there.

    processor = FrameProcessor(...)
    result = processor.process(frame)       # raises InferenceError when detection fails
    ...
    result = processor.finish(gender_wait_s)  # end every track, the final rows

Time: the tracker runs on the frame's own clock: the capture time for a live stream, the position in the
video for a file (so a file processed faster than real time tracks exactly like its live replay). Rows get
wall-clock times: the capture time live, the run's start plus the video position for a file.

Exclusion masks (a channel's polygons over a mannequin, a poster) drop the detections whose feet are inside
them before tracking: a masked object is never a track, so it is never counted.

Store analytics (a channel with counting lines or zones) is a stage here, not a sink: after tracking, the
frame's tracks go through `StoreAnalytics` on the tracker's clock, and each crossing, zone entry and zone exit
it finds is itself an `events` row, a live event and a count in the minute's rollup.
"""

from collections.abc import Callable

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import IN, OUT, StoreAnalytics
from footfall_worker.analytics.exclusion import ExclusionMasks
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.inference.errors import InferenceError
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.frame_result import ChannelTally, FrameResult
from footfall_worker.pipeline.heatmap import HeatmapGrid
from footfall_worker.pipeline.minute_stats import MinuteStats
from footfall_worker.pipeline.recorder import TrackRecorder
from footfall_worker.pipeline.stage_clock import StageClock
from footfall_worker.reid.appearance import AppearanceEncoder
from footfall_worker.reid.linker import TrackLinker
from footfall_worker.storage.records import EventRow
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEvent, TrackEventKind

Detect = Callable[[Frame], Detections]


class FrameProcessor:
    """One channel's processing state: the tracker, gender per track, ReID links, the recorder and stats.

    Args:
        detect: the frame's people (Triton's person detector).
        tracker: this channel's ByteTracker.
        recorder: maps tracker events to rows.
        gender: gender per track (`TrackGender.off()` when gender is off).
        linker: ReID of new tracks, or None.
        file_wall_start: wall time of the run's start when the frames come from a file, else None.
        analytics: the channel's counting lines and zones, or None (no store analytics).
        appearance: the tracker's appearance encoder (re-finding lost people), or None.
    """

    def __init__(
        self,
        detect: Detect,
        tracker: ByteTracker,
        recorder: TrackRecorder,
        gender: TrackGender,
        *,
        linker: TrackLinker | None = None,
        file_wall_start: float | None = None,
        analytics: AnalyticsConfig | None = None,
        appearance: AppearanceEncoder | None = None,
    ) -> None:
        self._detect = detect
        self.tracker = tracker
        self.recorder = recorder
        self.gender = gender
        self.linker = linker
        self._file_wall_start = file_wall_start
        self._stats = MinuteStats(recorder.run_id)
        self._heatmap = HeatmapGrid(recorder.run_id)
        self.analytics = StoreAnalytics(analytics) if analytics is not None and not analytics.empty else None
        # masks apply to a channel with nothing to count too: a masked mannequin is not a visitor either
        self._masks = ExclusionMasks(analytics.exclusion_masks if analytics is not None else [])
        self.masked_detections = 0  # detections dropped by the channel's exclusion masks
        zones = {zone.id: 0 for zone in self.analytics.config.zones} if self.analytics is not None else {}
        self.tally = ChannelTally(zone_occupancy=zones)
        self._offset_s = 0.0
        self._last_t = 0.0
        self._appearance = appearance
        self.appearance_failures = 0  # frames whose embeddings failed (tracked by overlap alone)
        self.stages = StageClock()  # where each frame's processing time goes

    @property
    def covered_s(self) -> float:
        """Seconds the channel saw since the start: processed frames at most `MAX_FRAME_GAP_S` apart."""
        return self._stats.covered_total_s

    @property
    def clock_origin(self) -> float:
        """The wall time a file's position counts from (0 for a camera: its events are on the wall clock)."""
        return self._file_wall_start or 0.0

    def clock(self, frame: Frame) -> tuple[float, float]:
        """(tracker time, wall time) of a frame."""
        if self._file_wall_start is not None and frame.media_s is not None:
            return frame.media_s, self._file_wall_start + frame.media_s
        return frame.captured_mono, frame.captured_wall

    def process(self, frame: Frame) -> FrameResult:
        """Run one frame through the pipeline.

        Raises:
            InferenceError: detection failed (the frame is lost; tracking state is untouched).
        """
        clock = self.stages
        with clock.stage("detect"):
            detections = self._detect(frame)
            if self._masks:
                found = len(detections)
                detections = self._masks.keep(detections, (frame.image.shape[1], frame.image.shape[0]))
                self.masked_detections += found - len(detections)
        t, wall = self.clock(frame)
        self._offset_s, self._last_t = wall - t, t
        with clock.stage("track"):
            tracked = self.tracker.update(detections, t, self._probe(frame))
            out = FrameResult(frame, detections, tracked.tracks)
        with clock.stage("gender"):
            self.gender.collect()
            self.gender.observe(frame.image, tracked.tracks, t)
        with clock.stage("track"):  # re-identification across channels belongs with tracking
            if self.linker is not None:
                for link in self.linker.observe(frame.image, tracked.tracks, tracked.events, wall):
                    self.recorder.link(link)
        track_ids = tracked.tracks.track_id.tolist()
        size = (frame.image.shape[1], frame.image.shape[0])
        counted: list[ChannelEvent] = []
        with clock.stage("analytics"):
            if self.analytics is not None:
                # before `_record`: it may settle ended tracks, and that forgets their gender votes
                counted = self.analytics.update(t, track_ids, tracked.tracks.xyxy, size, self._gender_of)
                counted += self._end_analytics(tracked.events)
        with clock.stage("record"):
            self._record(tracked.events, out)
            started = sum(1 for event in tracked.events if event.kind is TrackEventKind.STARTED)
            done = self._stats.observe(wall, track_ids, started)
            hour_done = self._heatmap.observe(wall, tracked.tracks.xyxy, size)
            if hour_done is not None:
                out.records.append(hour_done)
            if done is not None:
                out.records.append(done)
                so_far = self._heatmap.snapshot()  # the hour's grid as it grows, with each closed minute
                if so_far is not None:
                    out.records.append(so_far)
            self._count(counted, out)
            return self._tallied(out, tuple(track_ids))

    def _probe(self, frame: Frame) -> Callable[[np.ndarray], np.ndarray] | None:
        """Embeds boxes of this frame for the tracker. A failed embedding (Triton away) must not lose the frame
        or leave the tracker half-updated: the boxes get no appearance, and the frame is tracked by overlap."""
        encoder = self._appearance
        if encoder is None:
            return None

        def embed(boxes: np.ndarray) -> np.ndarray:
            try:
                return encoder.encode(frame.image, boxes)
            except InferenceError:
                self.appearance_failures += 1
                return np.zeros((len(boxes), encoder.dim), np.float32)

        return embed

    def idle(self) -> FrameResult:
        """Between frames (camera down, nothing handed off): let finished gender results settle ended tracks."""
        out = FrameResult(None, None, None)
        self.gender.collect()
        self._settle(out)
        return self._tallied(out, self.tally.track_ids)

    def finish(self, gender_wait_s: float) -> FrameResult:
        """End every track, wait up to `gender_wait_s` for the last gender results, the final rows."""
        out = FrameResult(None, None, None)
        events = self.tracker.finish(self._last_t + 1e-3)
        if self.linker is not None and events:
            self.linker.remember_ended(events, self._last_t + self._offset_s)
        self._count(self._end_analytics(events), out)
        self._record(events, out)
        self.gender.wait(gender_wait_s)
        self._settle(out, force=True)
        done = self._stats.flush()
        if done is not None:
            out.records.append(done)
        hour = self._heatmap.flush()
        if hour is not None:
            out.records.append(hour)
        return self._tallied(out, ())

    def _tallied(self, out: FrameResult, track_ids: tuple[int, ...]) -> FrameResult:
        tally = self.tally
        entries, exits, zones, genders = tally.entries, tally.exits, tally.zone_occupancy, tally.genders
        if out.events:  # the counts move only with an event
            genders = dict(self.recorder.genders)
            if self.analytics is not None:
                totals = self.analytics.totals().values()
                entries, exits = sum(line[IN] for line in totals), sum(line[OUT] for line in totals)
                zones = self.analytics.occupancy()
        started = self.recorder.tracks_started
        self.tally = out.tally = ChannelTally(track_ids, started, entries, exits, zones, genders)
        return out

    def _gender_of(self, track_id: int) -> str | None:
        """The track's gender as decided so far; None while undecided (or gender is off)."""
        label = self.gender.label(track_id)
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

    def _count(self, events: list[ChannelEvent], out: FrameResult) -> None:
        """Each analytics event: an `events` row, a live event, a count in its minute."""
        run_id = self.recorder.run_id
        for event in events:
            if event.kind == EventKind.STAFF_TAGGED:
                self.recorder.mark_staff(event.track_id)
        walled = [event.at_wall(self._offset_s) for event in events]
        out.records += [EventRow.of(run_id, event) for event in walled]
        out.events += walled
        out.records += self._stats.count(walled)

    def _record(self, events: list[TrackEvent], out: FrameResult) -> None:
        for event in events:
            if event.kind is TrackEventKind.ENDED:
                self.gender.track_ended(event.track_id, event.t)
        self.recorder.record(events, self._offset_s, out)
        self._settle(out)

    def _settle(self, out: FrameResult, force: bool = False) -> None:
        """The final rows of the ended tracks whose gender is final; then their votes are forgotten."""
        settled = self.gender.settled(force)
        self.recorder.finish(settled, out)
        for track_id in settled:
            self.gender.forget(track_id)
