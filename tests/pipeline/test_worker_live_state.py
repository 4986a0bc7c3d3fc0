"""A worker's live state in Redis: what it publishes while something it needs is down, and how it leaves."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footfall_contract.config import RtspUrl
from footfall_contract.heartbeat import CHANNELS_KEY, decode_live, live_key
from footfall_operator.live import LiveReader
from footfall_operator.status import Observed, build_status
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
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import STORE_AISLE
from tests.support.paths import footage_path, free_port
from tests.support.postgres import PostgresCluster, pg_cluster  # noqa: F401 - pg_cluster is a fixture
from tests.support.redis_server import RedisServer
from tests.support.triton import TritonInstance
from tests.support.worker import WorkerProcess, worker_env, write_store


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def live_settings(redis_url: str, triton_url: str, **worker: object) -> Settings:
    """An in-process worker with live state only: no record, no gender, no ReID, probes on any port."""
    return Settings(
        WorkerSettings(  # type: ignore[call-arg]
            _env_file=None, http_port=0, database_url="", redis_url=redis_url, gender=False, reid=False, **worker
        ),
        ReaderSettings(  # type: ignore[call-arg]
            _env_file=None, open_timeout_s=1, read_timeout_s=1, backoff_initial_s=0.2, backoff_max_s=0.5
        ),
        triton_settings(triton_url),
        TrackerSettings(_env_file=None),  # type: ignore[call-arg]
        GenderSettings(_env_file=None),  # type: ignore[call-arg]
        StorageSettings(_env_file=None),  # type: ignore[call-arg]
    )


def test_a_stopped_worker_leaves_the_channel_set_and_its_last_state_expires_later(redis_server: RedisServer) -> None:
    # No camera and no Triton answer (closed ports): the worker still publishes, from its idle loop.
    camera = f"rtsp://127.0.0.1:{free_port()}/cam/realmonitor?channel=1&subtype=0"
    spec = ChannelSpec("leaving", "test", "leaving", RtspUrl(camera), camera, is_file=False)
    worker = ChannelWorker(spec, live_settings(redis_server.url, f"127.0.0.1:{free_port()}"))
    client = redis_server.client()
    try:
        worker.start()
        deadline = time.monotonic() + 20
        while not client.sismember(CHANNELS_KEY, "leaving") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.sismember(CHANNELS_KEY, "leaving") and client.exists(live_key("leaving"))
    finally:
        summary = worker.stop()
    assert summary.clean
    assert not client.sismember(CHANNELS_KEY, "leaving")
    assert client.exists(live_key("leaving")) and 0 < client.pttl(live_key("leaving")) <= 30_000


def wait_for(what: str, probe: Any, timeout_s: float, log: WorkerProcess) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{log.log_tail()}")


def test_with_triton_unreachable_the_worker_keeps_publishing_says_why_and_recovers(
    pg_cluster: PostgresCluster,  # noqa: F811
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    # Triton's ports are chosen but nothing listens yet: the worker starts against a closed port.
    triton = TritonInstance(name="triton-late", run_dir=tmp_path / "triton")
    triton.run_dir.mkdir()
    camera = CameraSimulator(footage_path(STORE_AISLE)).start()
    store = write_store(tmp_path / "s.json", {"channel_t": camera.port})
    env = worker_env(
        pg_cluster.create_database("worker"),
        redis_server.url,
        triton.url,
        tmp_path / "journal",
        FOOTFALL_TRITON_CHECK_S="1",
        FOOTFALL_SUMMARY_INTERVAL_S="2",  # the outage reminder's period too
    )
    client = redis_server.client()

    def live() -> dict[str, Any] | None:
        raw = client.hgetall(live_key("channel_t"))
        return decode_live(raw) if raw else None

    try:
        with WorkerProcess.for_store(store, "channel_t", env) as w:
            first = wait_for(
                "live state saying detection fails",
                lambda: (
                    (s := live())
                    and s["state"] == "streaming"
                    and s["triton_ok"] is False
                    and s["frames_failed"] > 5
                    and s
                ),
                60,
                w,
            )
            assert first["triton_url"] == triton.url
            assert triton.url in first["triton_error"] and len(first["triton_error"]) <= 300
            time.sleep(3)
            later = live()
            assert later is not None and later["frames_failed"] > first["frames_failed"] + 10  # every frame counted
            assert time.time() - later["heartbeat_ts"] < 2  # published all along, not only once
            status = w.status()
            assert status is not None and not status["ready"] and "Triton not answering" in status["not_ready_reasons"]
            assert status["frames_failed"] >= later["frames_failed"] and w.get("/healthz")[0] == 200

            # What the operator makes of it, from the very hash the worker wrote.
            reader = LiveReader(redis_server.url)
            try:
                reading = reader.read("channel_t")
            finally:
                reader.close()
            cr = build_status(
                Observed(generation=1, paused=False, problems=(), deployment=None, live=reading), reading.read_at
            )
            conditions = {c["type"]: c for c in cr["conditions"]}
            assert cr["phase"] == "Degraded"
            assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "TritonUnavailable")
            assert (conditions["Degraded"]["status"], conditions["Degraded"]["reason"]) == ("True", "TritonUnavailable")
            assert f"Triton at {triton.url}" in conditions["Degraded"]["message"]

            wait_for("a reminder", lambda: any("still unreachable" in r.get("msg", "") for r in w.log_records()), 10, w)
            records = w.log_records()
            warnings = [r for r in records if r.get("level") == "warning" and "unreachable" in r.get("msg", "")]
            assert warnings[0]["msg"].startswith(f"Triton at {triton.url} unreachable")
            assert warnings[0]["triton"] == triton.url and warnings[0]["channel"] == "channel_t"
            reminders = [r for r in warnings if "still unreachable" in r["msg"]]
            assert reminders[0]["frames_failed"] > 0 and "frames without detection" in reminders[0]["msg"]
            assert len(reminders) <= 3, reminders  # rate-limited: about one per 2 s, not one per frame

            triton.start()
            back = wait_for(
                "detection back",
                lambda: (s := live()) and s["triton_ok"] is True and s["triton_error"] is None and s,
                120,
                w,
            )
            assert back["frames_failed"] >= later["frames_failed"]
            w.wait_until(lambda s: s["ready"] and s["frames_processed"] > 10, timeout_s=60, what="processing")
            again = [r for r in w.log_records() if "answers again" in r.get("msg", "")]
            assert len(again) == 1 and again[0]["level"] == "info" and again[0]["frames_failed"] > 0, again
            assert w.terminate() == 0
        assert not client.sismember(CHANNELS_KEY, "channel_t")
    finally:
        triton.stop()
        camera.close()
