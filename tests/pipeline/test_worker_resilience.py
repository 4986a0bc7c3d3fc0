"""The worker under pressure: Triton going away and coming back, and processing slower than the camera."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from footfall_contract.config import RtspUrl
from footfall_worker.detections import Detections
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.channel_worker import ChannelWorker
from footfall_worker.settings import (
    GenderSettings,
    ReaderSettings,
    Settings,
    StorageSettings,
    TrackerSettings,
    WorkerSettings,
)
from tests.conftest import triton_settings
from tests.pipeline.conftest import Backends
from tests.support.camera_sim import DAHUA_QUERY, CameraSimulator
from tests.support.footage import STORE_AISLE
from tests.support.paths import footage_path
from tests.support.postgres import connect
from tests.support.triton import TritonInstance
from tests.support.worker import WorkerProcess, write_store


@pytest.fixture
def own_triton(tmp_path: Path) -> Iterator[TritonInstance]:
    """A Triton this test may stop and start (the session's one is shared)."""
    instance = TritonInstance(name="triton-outage", run_dir=tmp_path / "triton")
    instance.run_dir.mkdir()
    instance.start()
    yield instance
    instance.stop()


def test_triton_outage_fails_readiness_not_liveness_and_processing_resumes(
    backends: Backends, own_triton: TritonInstance, tmp_path: Path
) -> None:
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()
    env = backends.env(FOOTFALL_TRITON_URL=own_triton.url, FOOTFALL_TRITON_CHECK_S="1")
    store = write_store(tmp_path / "s.json", {"channel_3": camera.port}, timezone="Europe/Berlin")
    try:
        with WorkerProcess.for_store(store, "channel_3", env) as w:
            w.wait_until(lambda s: s["ready"] and s["frames_processed"] > 20, timeout_s=60, what="processing")
            down_at = time.monotonic()
            own_triton.stop()
            down = w.wait_until(lambda s: not s["ready"], timeout_s=30, what="not ready without Triton")
            assert "Triton not answering" in down["not_ready_reasons"]
            failing = w.wait_until(lambda s: s["frames_failed"] >= 3, timeout_s=30, what="failed detections counted")
            assert w.get("/healthz")[0] == 200 and failing["state"] == "streaming"
            own_triton.start()
            outage_s = time.monotonic() - down_at  # at least: detection fails until Triton has loaded its models
            processed = failing["frames_processed"]
            back = w.wait_until(
                lambda s: s["ready"] and s["frames_processed"] > processed + 20, timeout_s=60, what="processing again"
            )
            assert back["live"] and back["triton_errors"] >= 3
            assert w.terminate() == 0
    finally:
        camera.close()
    # Coverage: the seconds the worker saw, per minute in the record, leave the outage out.
    with connect(backends.dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM r.ended_at - r.started_at), (SELECT sum(covered_s) FROM channel_stats_minute m"
            " WHERE m.run_id = r.id::text), c.timezone FROM runs r JOIN channels c ON c.id = r.channel_id"
            " WHERE r.channel_id = 'channel_3' ORDER BY r.started_at DESC LIMIT 1"
        )
        run_s, covered_s, timezone = cur.fetchone()
    assert timezone == "Europe/Berlin"  # the store's zone, recorded with its channel
    assert back["covered_s"] <= covered_s <= float(run_s) - outage_s + 1.0, (run_s, outage_s, covered_s)
    assert covered_s > 1.0  # before and after the outage the camera's frames were seen (20 processed each)


def bare_settings(triton_url: str, liveness_timeout_s: float = 30.0, **reader: object) -> Settings:
    """An in-process worker with detection only: no record, no live state, no gender, probes on any port."""
    return Settings(
        WorkerSettings(  # type: ignore[call-arg]
            _env_file=None,
            http_port=0,
            database_url="",
            redis_url="",
            gender=False,
            reid=False,
            liveness_timeout_s=liveness_timeout_s,
        ),
        ReaderSettings(_env_file=None, **reader),  # type: ignore[call-arg]
        triton_settings(triton_url),
        TrackerSettings(_env_file=None),  # type: ignore[call-arg]
        GenderSettings(_env_file=None),  # type: ignore[call-arg]
        StorageSettings(_env_file=None),  # type: ignore[call-arg]
    )


class SlowDetector:
    """The real detector plus a fixed delay: a machine four times too slow for the camera."""

    def __init__(self, detect_one, delay_s: float) -> None:  # type: ignore[no-untyped-def]
        self._detect_one = detect_one
        self._delay_s = delay_s

    def __call__(self, image: np.ndarray) -> Detections:
        time.sleep(self._delay_s)
        return self._detect_one(image)


@pytest.mark.parametrize("pacing", ["on_demand", "adaptive", "drop_oldest"])
def test_latency_stays_bounded_when_processing_is_too_slow(triton: TritonInstance, pacing: str) -> None:
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()  # 15 fps
    reader = {"on_demand": pacing == "on_demand", "adaptive_skip": pacing == "adaptive", "max_skip": 8}
    settings = bare_settings(triton.url, handoff_size=2, **reader)
    spec = ChannelSpec("slow", "test", "slow", RtspUrl(camera.url + DAHUA_QUERY), camera.url, is_file=False)
    worker = ChannelWorker(spec, settings)
    worker.detector.detect_one = SlowDetector(worker.detector.detect_one, 0.25)  # type: ignore[method-assign]
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while worker.status().counters.frames_processed < 40 and time.monotonic() < deadline:
            time.sleep(0.5)
        status = worker.status()
        counts = status.counters
        assert counts.frames_processed >= 40, status
    finally:
        summary = worker.stop()
        camera.close()
    assert summary.clean
    # Every mode keeps latency bounded (newest frames win) instead of queueing the backlog of a too-slow loop;
    # they differ in how much decode work is thrown away.
    assert status.latency_p95_ms is not None and status.latency_p95_ms < 2000, status
    if pacing == "on_demand":  # only frames processing is ready for are converted: nothing overwritten
        assert counts.frames_skipped > 2 * counts.frames_processed and counts.frames_dropped <= 3, status
    elif pacing == "adaptive":  # every N-th frame, N risen to what processing sustains
        assert status.skip_every >= 3, status
        assert counts.frames_skipped > counts.frames_dropped, status
    else:  # every frame converted, most of them overwritten before processing takes them
        assert status.skip_every == 1 and counts.frames_dropped > counts.frames_processed, status


def test_a_wedged_processing_loop_fails_liveness(triton: TritonInstance, tmp_path: Path) -> None:
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()
    settings = bare_settings(triton.url, liveness_timeout_s=2)
    spec = ChannelSpec("wedged", "test", "wedged", RtspUrl(camera.url + DAHUA_QUERY), camera.url, is_file=False)
    worker = ChannelWorker(spec, settings)
    release = threading.Event()
    real_detect = worker.detector.detect_one
    calls = 0

    def detect_then_hang(image: np.ndarray) -> Detections:
        nonlocal calls
        calls += 1
        if calls > 10:
            release.wait(60)  # a call that never returns: what a deadlock in a library looks like
        return real_detect(image)

    worker.detector.detect_one = detect_then_hang  # type: ignore[method-assign]
    probe = WorkerProcess([], {}, port=0)
    try:
        worker.start()
        probe.port = worker.probes.port
        deadline = time.monotonic() + 30
        while calls <= 10 and time.monotonic() < deadline:
            assert probe.get("/healthz")[0] == 200
            time.sleep(0.1)
        assert calls > 10
        deadline = time.monotonic() + 10
        while probe.get("/healthz")[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        code, verdict = probe.get("/healthz")
        assert code == 503 and "processing loop stuck" in verdict["reasons"][0], verdict
        release.set()
        deadline = time.monotonic() + 10
        while probe.get("/healthz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert probe.get("/healthz")[0] == 200  # it was only slow after all: alive again
    finally:
        release.set()
        worker.stop()
        camera.close()
