"""The per-frame work of a channel, free of threads and lifecycles: detect, track, classify, link, record.

    processor = FrameProcessor(...)
    processor.process(frame)                # raises InferenceError when detection fails
    ...
    processor.finish()                      # end every track, write final rows

Time: the tracker runs on the frame's own clock: the capture time for a live stream, the position in the
video for a file (so a file processed faster than real time tracks exactly like its live replay). Rows get
wall-clock times: the capture time live, the run's start plus the video position for a file.
"""

from collections.abc import Callable

from footfall_worker.classify.gender_worker import GenderWorker
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.minute_stats import MinuteStats
from footfall_worker.pipeline.recorder import FinishedTrack, Put, TrackRecorder
from footfall_worker.reid.linker import TrackLinker
from footfall_worker.storage.live_state import EventType, LiveState, track_event
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
        self._record(result.events)
        self.track_ids = tuple(result.tracks.track_id.tolist())
        started = sum(1 for event in result.events if event.kind is TrackEventKind.STARTED)
        done = self._stats.observe(wall, list(self.track_ids), started)
        if done is not None:
            self._put(done)

    def idle(self) -> None:
        """Between frames (camera down, nothing handed off): let finished gender results settle ended tracks."""
        if self._track_gender is not None and self._gender_worker is not None:
            self._track_gender.apply(self._gender_worker.drain())
        self._announce_finished(self.recorder.settle())

    def finish(self, gender_wait_s: float) -> None:
        """End every track, wait up to `gender_wait_s` for the last gender results, write the final rows."""
        events = self.tracker.finish(self._last_t + 1e-3)
        if self._linker is not None and events:
            self._linker.remember_ended(events, self._last_t + self._offset_s)
        self._record(events)
        if self._gender_worker is not None and self._track_gender is not None:
            self._gender_worker.wait_idle(gender_wait_s)
            self._track_gender.apply(self._gender_worker.drain())
        self._announce_finished(self.recorder.settle(force=True))
        self.track_ids = ()
        done = self._stats.flush()
        if done is not None:
            self._put(done)

    def _record(self, events: list[TrackEvent]) -> None:
        if not events:
            self._announce_finished(self.recorder.settle())
            return
        self.recorder.record(events, self._offset_s)
        if self._live is not None:
            for event in events:
                if event.kind is TrackEventKind.STARTED:
                    self._live.emit(track_event(EventType.TRACK_STARTED, event.track_id, event.at_s + self._offset_s))
        self._announce_finished(self.recorder.settle())

    def _announce_finished(self, finished: list[FinishedTrack]) -> None:
        if self._live is None:
            return
        for track in finished:
            self._live.emit(track_event(EventType.TRACK_ENDED, track.track_id, track.ended_wall, track.gender))
