"""FrameProcessor returns what a frame produced and writes nothing; the sinks route it.

The detector here is a function returning planned boxes (the processor takes any `Detect`): what is under test is
the frame path after detection, which needs no model. Detection itself is tested against Triton elsewhere.
"""

import time

import numpy as np

from footfall_contract.config.geometry import AnalyticsConfig, CountingLine
from footfall_worker.classify.track_gender import TrackGender
from footfall_worker.detections import Detections
from footfall_worker.events import EventKind
from footfall_worker.ingest.frames import Frame
from footfall_worker.pipeline.frame_processor import FrameProcessor
from footfall_worker.pipeline.frame_result import FrameResult
from footfall_worker.pipeline.heatmap import HeatmapGrid
from footfall_worker.pipeline.recorder import TrackRecorder
from footfall_worker.pipeline.sinks import FrameMetricsSink, RecordSink, Sinks
from footfall_worker.settings import TrackerSettings
from footfall_worker.storage.records import ChannelStatMinute, EventRow, HeatmapHour, Record, TrackPoint, TrackRow
from footfall_worker.tracking.byte_tracker import ByteTracker

WALL0 = 1_800_000_000.0
IMAGE = np.zeros((480, 640, 3), np.uint8)
FRAMES = 30  # one person walking left to right across a vertical line at x = 320, 10 fps


def walker(frame: Frame) -> Detections:
    x = 100 + 15 * frame.seq
    if frame.seq >= FRAMES:
        return Detections.empty()
    return Detections(np.array([[x, 200, x + 60, 400]], np.float32), np.array([0.9], np.float32))


def processor() -> FrameProcessor:
    recorder = TrackRecorder("run-1", TrackGender.off())
    # walking down the line from its first point, the image's right half (x > 0.5) is on the left hand
    door = CountingLine(id="door", points=[[0.5, 0.0], [0.5, 1.0]], in_side="left")
    return FrameProcessor(
        walker,
        ByteTracker(TrackerSettings(_env_file=None)),  # type: ignore[call-arg]
        recorder,
        TrackGender.off(),
        analytics=AnalyticsConfig(lines=[door]),
    )


def frame(seq: int) -> Frame:
    return Frame("channel_1", seq, IMAGE, captured_mono=1000.0 + seq / 10, captured_wall=WALL0 + seq / 10)


def test_each_frame_returns_its_rows_events_and_tally_and_finish_closes_the_tracks() -> None:
    p = processor()
    results = [p.process(frame(seq)) for seq in range(FRAMES + 5)]
    assert all(r.frame is not None and r.detections is not None and r.tracks is not None for r in results)
    first = next(r for r in results if r.events)
    assert [e.kind for e in first.events] == [EventKind.TRACK_STARTED]
    assert first.events[0].t >= WALL0 and first.tally.track_ids == (1,) and first.tally.tracks_started == 1
    crossings = [e for r in results for e in r.events if e.kind is EventKind.LINE_CROSSING]
    assert [(c.payload["line"], c.payload["direction"]) for c in crossings] == [("door", "in")]
    assert results[-1].tally.entries == 1 and results[-1].tally.exits == 0
    # each event the live stream gets is also a row, in the same result
    for result in results:
        rows = [(r.kind, r.track_id) for r in result.records if isinstance(r, EventRow)]
        assert rows == [(str(e.kind), e.track_id) for e in result.events]

    done = p.finish(gender_wait_s=0.0)
    assert done.frame is None and done.tally.track_ids == ()
    assert [e.kind for e in done.events] == [EventKind.TRACK_ENDED] and done.events[0].payload["gender"] == "unknown"
    assert any(isinstance(r, ChannelStatMinute) for r in done.records)
    assert done.tally.genders == {"unknown": 1}


def test_the_sinks_take_every_row_in_order_and_count_only_frames() -> None:
    p = processor()
    written: list[Record] = []
    latencies: list[float] = []
    frames = FrameMetricsSink(latencies.append)
    sinks = Sinks([RecordSink(lambda r: written.append(r) or True), frames])
    produced: list[Record] = []
    for seq in range(FRAMES + 5):
        result = p.process(frame(seq))
        produced += result.records
        sinks.take(result)
    idle = p.idle()
    finished = p.finish(gender_wait_s=0.0)
    for result in (idle, finished):
        produced += result.records
        sinks.take(result)
    assert written == produced  # rows produced = rows handed to the writer, in order
    assert frames.processed == len(latencies) == FRAMES + 5  # the idle tick and the finish are not frames
    kinds = {type(r) for r in written}
    assert {TrackRow, TrackPoint, EventRow, ChannelStatMinute} <= kinds
    empty = FrameResult(None, None, None)
    sinks.take(empty)
    assert frames.processed == FRAMES + 5


def test_an_exclusion_mask_keeps_a_mannequin_out_of_tracks_and_counts() -> None:
    mannequin = np.array([[500, 100, 560, 300]], np.float32)  # feet at (530, 300): inside the mask

    def detect(frame: Frame) -> Detections:
        walking = walker(frame)
        return Detections(
            np.concatenate([walking.xyxy, mannequin]), np.concatenate([walking.confidence, [0.95]]).astype(np.float32)
        )

    door = CountingLine(id="door", points=[[0.5, 0.0], [0.5, 1.0]], in_side="left")
    analytics = AnalyticsConfig.model_validate(
        {
            "lines": [door.model_dump()],
            "exclusionMasks": [{"id": "mannequin", "polygon": [[0.75, 0.5], [0.95, 0.5], [0.95, 0.8], [0.75, 0.8]]}],
        }
    )
    p = FrameProcessor(
        detect,
        ByteTracker(TrackerSettings(_env_file=None)),  # type: ignore[call-arg]
        TrackRecorder("run-1", TrackGender.off()),
        TrackGender.off(),
        analytics=analytics,
    )
    results = [p.process(frame(seq)) for seq in range(FRAMES + 5)]
    assert {i for r in results for i in r.tally.track_ids} == {1}  # only the walker was ever tracked
    assert p.masked_detections == FRAMES + 5
    assert results[-1].tally.entries == 1


def test_the_stage_clock_says_where_a_frame_waits_and_where_it_spends() -> None:
    def slow_detector(frame: Frame) -> Detections:
        time.sleep(0.004)  # a round trip to Triton: waiting, not the worker's CPU
        return walker(frame)

    p = processor()
    p._detect = slow_detector  # noqa: SLF001 - the same processor, a detector that takes its time
    for seq in range(FRAMES):
        p.process(frame(seq))
    wall, cpu = p.stages.totals()
    assert set(wall) == set(cpu) == {"detect", "track", "gender", "analytics", "record"}
    assert wall["detect"] >= FRAMES * 0.004
    assert cpu["detect"] < wall["detect"] / 2  # asleep, not computing
    assert all(seconds > 0 for seconds in wall.values())  # every stage ran and was timed
    assert wall["track"] < wall["detect"]


def test_a_walker_who_appears_in_a_staff_zone_is_staff_in_every_row_event_and_minute() -> None:
    # the walker's first box (feet at x 130, y 400) is inside the staff zone: they came out of the stock room
    door = CountingLine(id="door", points=[[0.5, 0.0], [0.5, 1.0]], in_side="left")
    stock_room = {"id": "stock_room", "polygon": [[0.1, 0.7], [0.3, 0.7], [0.3, 0.95], [0.1, 0.95]], "staff": True}
    analytics = AnalyticsConfig.model_validate({"lines": [door.model_dump()], "zones": [stock_room]})
    p = FrameProcessor(
        walker,
        ByteTracker(TrackerSettings(_env_file=None)),  # type: ignore[call-arg]
        TrackRecorder("run-1", TrackGender.off()),
        TrackGender.off(),
        analytics=analytics,
    )
    results = [p.process(frame(seq)) for seq in range(FRAMES + 5)] + [p.finish(gender_wait_s=0.0)]
    events = [e for r in results for e in r.events]
    assert [e.kind for e in events if e.kind in (EventKind.STAFF_TAGGED, EventKind.LINE_CROSSING)] == [
        EventKind.STAFF_TAGGED,
        EventKind.LINE_CROSSING,
    ]
    assert [e.payload["staff"] for e in events if e.kind in (EventKind.LINE_CROSSING, EventKind.TRACK_ENDED)] == [
        True,
        True,
    ]
    rows = [r for result in results for r in result.records if isinstance(r, TrackRow)]
    # the rows of the frame that tagged it left before the tag (analytics counts after recording); every later says so
    assert [r.staff for r in rows] == [False, False] + [True] * (len(rows) - 2) and len(rows) > 4
    minutes = [r for result in results for r in result.records if isinstance(r, ChannelStatMinute)]
    assert sum(m.entries_staff for m in minutes) == sum(m.entries for m in minutes) == 1


def test_the_hour_heatmap_counts_each_tracked_persons_feet_in_its_cell() -> None:
    p = processor()
    results = [p.process(frame(seq)) for seq in range(FRAMES + 5)] + [p.finish(gender_wait_s=0.0)]
    (hour,) = [r for result in results for r in result.records if isinstance(r, HeatmapHour)]  # one hour, at finish
    assert (hour.cols, hour.rows, hour.frames, hour.run_id) == (32, 18, FRAMES + 5, "run-1")
    tracked = sum(len(r.tracks) for r in results if r.tracks is not None)
    assert sum(hour.counts) == tracked > FRAMES - 5
    # the walker's feet stay at y = 400 of 480 (row 15 of 18) while x goes from 130 to 565 (cols 6 to 28)
    cells = {(i % 32, i // 32) for i, count in enumerate(hour.counts) if count}
    assert {row for _, row in cells} == {15} and min(c for c, _ in cells) >= 6 and max(c for c, _ in cells) <= 28


def test_feet_on_or_past_the_frames_edge_count_in_the_edge_cell() -> None:
    grid = HeatmapGrid("run-1")
    # float32 boxes as the tracker gives them: feet exactly on the bottom edge (the cast to float32 once made
    # 1 - 1e-9 into 1.0, a row past the grid), past the right edge, above the top, and one not finite
    boxes = np.array(
        [[100, 200, 160, 480], [600, 100, 700, 300], [10, -50, 40, -5], [np.nan, 1, 2, 3]], dtype=np.float32
    )
    grid.observe(WALL0, boxes, (640, 480))
    hour = grid.flush()
    assert hour is not None and sum(hour.counts) == 3
    cells = {(i % 32, i // 32) for i, count in enumerate(hour.counts) if count}
    assert cells == {(6, 17), (31, 11), (1, 0)}
