"""A worker's live state in Redis: what it publishes while something it needs is down, and how it leaves."""

import time
from collections.abc import Iterator

import pytest

from footfall_worker.config import RtspUrl
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.pipeline.channel_worker import ChannelWorker, Settings
from footfall_worker.settings import GenderSettings, ReaderSettings, StorageSettings, TrackerSettings, WorkerSettings
from footfall_worker.storage.live_state import CHANNELS_KEY, live_key
from tests.conftest import triton_settings
from tests.support.paths import free_port
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


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
