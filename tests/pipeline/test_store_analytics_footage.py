"""Store analytics on real footage: the one-by-one clip through the real pipeline (`footfall process-video`:
Triton, ByteTrack, PostgreSQL, Redis), then its real detections re-tracked with jittered boxes.

The scene (checked by eye, frame by frame, and in `tests/tracking`): six visitors, one at a time. Each walks up
from the bottom edge of the picture to the table, stands there with their back to the camera for 9-25 s, and
leaves across the floor to the right. Nobody leaves the way they came, so the counting line is bent around
the spot in front of the table: a bottom leg just below where people stand (crossed upwards on arrival) and
an upright leg between the table and the right-hand side (crossed on the way out). The anchors (bottom
centre of the box, 768x432): arriving at y 0.97-1.0, standing at y 0.85-0.94 and x 0.56-0.64, leaving at x
0.75-0.95.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_contract.config.geometry import AnalyticsConfig
from footfall_worker.analytics.counting import StoreAnalytics
from footfall_worker.detections import Detections
from footfall_worker.events import EventKind
from footfall_worker.inference import PersonDetector, TritonConnection
from footfall_worker.settings import TrackerSettings
from footfall_worker.storage.live_state import LiveState
from footfall_worker.tracking.byte_tracker import ByteTracker
from footfall_worker.tracking.events import TrackEventKind
from tests.conftest import triton_settings
from tests.pipeline.conftest import Backends
from tests.pipeline.test_worker_process import rows
from tests.support.footage import ONE_BY_ONE
from tests.support.paths import REPO_ROOT, footage_path
from tests.support.triton import TritonInstance
from tests.tracking.test_tracking_footage import VISITS

FPS = 10.0  # the clip's frame rate
GEOMETRY = {
    "lines": [
        # from the left edge along the floor below the table, then up between the table and the way out;
        # "left" of that walk is the spot in front of the table
        {"id": "table_side", "points": [[0.0, 0.95], [0.70, 0.95], [0.70, 0.60]], "inSide": "left"}
    ],
    "zones": [{"id": "table", "polygon": [[0.50, 0.82], [0.66, 0.82], [0.66, 0.965], [0.50, 0.965]]}],
    "lineBand": 0.006,  # 5 px here: the arrivals' feet are only ~15 px below where the nearest visitor stands
}


def visit_of(t: float) -> int:
    """Index of the visit (by eye, `VISITS`) whose frames contain time t of the video."""
    for index, (first, last) in enumerate(VISITS):
        if first / FPS - 1.0 <= t <= last / FPS + 1.0:
            return index
    raise AssertionError(f"t={t:.1f}s is in no visit {VISITS}")


@pytest.fixture(scope="module")
def one_by_one_detections(triton: TritonInstance) -> Iterator[list[Detections]]:
    connection = TritonConnection(triton_settings(triton.url))
    detector = PersonDetector(connection)
    capture = cv2.VideoCapture(str(footage_path(ONE_BY_ONE)))
    detections: list[Detections] = []
    batch: list[np.ndarray] = []
    while (frame := capture.read()[1]) is not None:
        batch.append(frame)
        if len(batch) == 8:
            detections += detector.detect(batch)
            batch = []
    if batch:
        detections += detector.detect(batch)
    capture.release()
    yield detections
    detector.close()
    connection.close()


def test_the_pipeline_counts_each_visit_once_in_and_once_out_with_its_dwell(backends: Backends, tmp_path: Path) -> None:
    config = tmp_path / "analytics.json"
    config.write_text(json.dumps(GEOMETRY))
    redis_client = backends.redis.client(timeout_s=2.0)
    store_key = "footfall:store:local:occupancy"  # a file's channel belongs to the store "local"
    before = {k.decode(): v.decode() for k, v in redis_client.hgetall(store_key).items()}
    done = subprocess.run(
        [sys.executable, "-m", "footfall_worker.cli", "process-video", str(footage_path(ONE_BY_ONE)), "--json"]
        + ["--analytics", str(config), "--channel", "obo", "--no-gender"],
        cwd=REPO_ROOT,
        env=backends.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["frames_processed"] == summary["frames_read"] and summary["writer_complete"], summary
    assert (summary["entries"], summary["exits"]) == (len(VISITS), len(VISITS)), summary
    assert summary["lines"] == {"table_side": {"in": 6, "out": 6}}

    started = rows(
        backends.dsn, "SELECT extract(epoch FROM started_at) AS t FROM runs WHERE id = %s", summary["run_id"]
    )
    video_start = float(started[0]["t"])
    events = rows(
        backends.dsn,
        "SELECT kind, track_id, extract(epoch FROM t) AS t, payload FROM events WHERE run_id = %s "
        "AND kind IN ('line_crossing', 'zone_enter', 'zone_exit') ORDER BY t, kind",
        summary["run_id"],
    )
    crossings: dict[int, list[str]] = {}
    dwells: dict[int, list[float]] = {}
    for event in events:
        visit = visit_of(float(event["t"]) - video_start)
        if event["kind"] == EventKind.LINE_CROSSING:
            crossings.setdefault(visit, []).append(event["payload"]["direction"])
        elif event["kind"] == EventKind.ZONE_EXIT:
            dwells.setdefault(visit, []).append(event["payload"]["dwell_s"])
    # every visit: in on arrival, then out on leaving, nothing else
    assert crossings == {visit: ["in", "out"] for visit in range(len(VISITS))}, crossings
    # one table visit each, about as long as the visit less the few seconds of walking to and from the table
    assert sorted(dwells) == list(range(len(VISITS))) and all(len(d) == 1 for d in dwells.values()), dwells
    for visit, ((first, last), (dwell,)) in enumerate(zip(VISITS, dwells.values(), strict=True)):
        seen_s = (last - first) / FPS
        assert seen_s - 4.0 <= dwell <= seen_s, (visit, dwell, seen_s)

    minutes = rows(
        backends.dsn,
        "SELECT sum(entries) AS entries, sum(exits) AS exits, sum(entries_unknown) AS unknown, sum(dwells) AS dwells, "
        "sum(dwell_mean_s * dwells) AS dwell_total FROM channel_stats_minute WHERE channel_id = 'obo'",
    )[0]
    assert (minutes["entries"], minutes["exits"], minutes["dwells"]) == (6, 6, 6), minutes
    assert minutes["unknown"] == 6  # gender was off: every entry is unknown, none is dropped from the split
    assert float(minutes["dwell_total"]) == pytest.approx(sum(d for (d,) in dwells.values()), abs=0.05)

    live = LiveState(backends.redis.client(timeout_s=2.0), "obo")
    state = live.read()
    assert state is not None and (state["entries"], state["exits"]) == (6, 6), state
    assert state["zone_occupancy"] == {"table": 0}
    streamed = [fields for _, fields in live.read_events(count=1000) if fields.get("type") == EventKind.LINE_CROSSING]
    assert sorted(fields["direction"] for fields in streamed) == ["in"] * 6 + ["out"] * 6
    # the store's live count took every crossing (other tests' files count in the same store: the difference)
    after = {k.decode(): v.decode() for k, v in redis_client.hgetall(store_key).items()}
    if before.get("day") != after["day"]:  # the run crossed midnight (UTC): the count started again
        before = {}
    added = [int(after[field]) - int(before.get(field, 0)) for field in ("entries", "exits")]
    assert added == [6, 6], (before, after)


def count(detections: list[Detections], config: AnalyticsConfig) -> tuple[dict[str, dict[str, int]], list[float]]:
    """ByteTrack and the analytics over every frame on the video's clock: line totals and zone dwells."""
    tracker = ByteTracker(TrackerSettings(_env_file=None))  # type: ignore[call-arg]
    analytics = StoreAnalytics(config)
    happened = []
    for index, frame in enumerate(detections):
        result = tracker.update(frame, index / FPS)
        happened += analytics.update(index / FPS, result.tracks.track_id.tolist(), result.tracks.xyxy, (768, 432))
        for event in result.events:
            if event.kind is TrackEventKind.ENDED:
                happened += analytics.end_track(event.track_id)
    for event in tracker.finish(len(detections) / FPS):
        if event.kind is TrackEventKind.ENDED:
            happened += analytics.end_track(event.track_id)
    return analytics.totals(), [event.payload["dwell_s"] for event in happened if event.kind == EventKind.ZONE_EXIT]


def jittered(detections: list[Detections], sigma: float, seed: int) -> list[Detections]:
    """Every box edge moved by Gaussian noise of `sigma` times the box's width (x) or height (y)."""
    rng = np.random.default_rng(seed)
    moved = []
    for frame in detections:
        xyxy = frame.xyxy.astype(np.float64)
        size = np.column_stack((xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]))
        noise = rng.normal(0.0, sigma, xyxy.shape) * np.tile(size, 2)
        moved.append(Detections((xyxy + noise).astype(np.float32), frame.confidence))
    return moved


@pytest.mark.parametrize("sigma", [0.005, 0.01, 0.02])
def test_box_jitter_does_not_change_the_counts(one_by_one_detections: list[Detections], sigma: float) -> None:
    # The detector's own jitter is already in the boxes (a standing visitor's feet wander ~9 px); on top of it,
    # noise up to 2 % of the box (about 6 px on the feet of a standing visitor, more than the line's band).
    config = AnalyticsConfig.model_validate(GEOMETRY)
    clean_totals, clean_dwells = count(one_by_one_detections, config)
    assert clean_totals == {"table_side": {"in": 6, "out": 6}} and len(clean_dwells) == 6
    for seed in range(3):
        totals, dwells = count(jittered(one_by_one_detections, sigma, seed), config)
        assert totals == clean_totals, (seed, totals)
        assert len(dwells) == len(clean_dwells), (seed, dwells)
        assert np.allclose(dwells, clean_dwells, atol=1.0), (seed, dwells, clean_dwells)


def test_visitors_shuffling_on_a_line_count_nothing_unless_the_band_is_gone(
    one_by_one_detections: list[Detections],
) -> None:
    # Only the frames where each visitor stands at the table (their visit less 3 s at each end), with a line
    # through the median of their own feet: all that moves the anchor across it is the shuffling of the
    # person and the jitter of the detector.
    standing = {index for first, last in VISITS for index in range(first + 30, last - 30)}
    lines = []
    for number, (first, last) in enumerate(VISITS):
        feet = [float(one_by_one_detections[i].xyxy[0, 3]) / 432 for i in range(first + 30, last - 30)]
        y = round(float(np.median(feet)), 4)
        lines.append({"id": f"feet_{number}", "points": [[0.40, y], [0.75, y]]})
    frames = [one_by_one_detections[i] if i in standing else _nobody() for i in range(len(one_by_one_detections))]
    banded, _ = count(frames, AnalyticsConfig.model_validate({"lines": lines}))  # the default band
    thin, _ = count(frames, AnalyticsConfig.model_validate({"lines": lines, "lineBand": 0.0005}))
    assert all(line == {"in": 0, "out": 0} for line in banded.values()), banded
    assert sum(line["in"] + line["out"] for line in thin.values()) >= 3, thin


def _nobody() -> Detections:
    return Detections(np.empty((0, 4), np.float32), np.empty((0,), np.float32))
