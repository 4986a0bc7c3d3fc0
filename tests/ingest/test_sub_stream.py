"""A channel on a camera's sub-stream (`subtype: 1`), read from the real camera simulator on 127.0.0.1: the
sub-stream when the camera has one, its main stream when it answers 404 for it (a sub-stream switched off)."""

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall_contract.config import ChannelConfig, StoreConfig
from footfall_contract.config.cameras import CameraSource
from footfall_worker.ingest.rtsp_reader import CameraReader
from footfall_worker.ingest.stream_state import StreamState
from footfall_worker.pipeline.channel import ChannelSpec
from footfall_worker.settings import ReaderSettings
from tests.support.camera_sim import CameraSimulator, camera_streams

pytestmark = pytest.mark.camera


@pytest.fixture(scope="module")
def streams() -> Path:
    return camera_streams()


def spec_on_sub_stream(port: int) -> ChannelSpec:
    channel = ChannelConfig(
        id="entrance", name="Entrance", source=CameraSource(host="127.0.0.1", port=port, channel=1, subtype=1)
    )
    store = StoreConfig(store_id="store", store_name="Store", channels=[channel])
    return ChannelSpec.from_store(store, channel)


@pytest.fixture
def reader_of() -> Iterator[list[CameraReader]]:
    readers: list[CameraReader] = []
    yield readers
    for reader in readers:
        reader.stop()


def first_frames(spec: ChannelSpec, readers: list[CameraReader], count: int = 3) -> list[tuple[int, ...]]:
    settings = ReaderSettings(_env_file=None, open_timeout_s=10.0, read_timeout_s=5.0)  # type: ignore[call-arg]
    reader = CameraReader(spec.channel_id, spec.source, settings, fallback=spec.fallback).start()
    readers.append(reader)
    shapes: list[tuple[int, ...]] = []
    deadline = time.monotonic() + 30
    while len(shapes) < count and time.monotonic() < deadline:
        frame = reader.get(timeout=0.5)
        if frame is not None:
            shapes.append(frame.image.shape)
    assert len(shapes) == count, f"{len(shapes)} frames in 30 s; state {reader.state}"
    return shapes


def test_a_channel_on_the_sub_stream_reads_the_sub_stream(streams: Path, reader_of: list[CameraReader]) -> None:
    with CameraSimulator(streams / "main-4mp25-h265.mp4", sub_file=streams / "sub-d1-h264.mp4") as cam:
        spec = spec_on_sub_stream(cam.port)
        assert set(first_frames(spec, reader_of)) == {(576, 704, 3)}
        snapshot = reader_of[0].snapshot()
        assert (snapshot.state, snapshot.on_fallback, snapshot.width) == (StreamState.STREAMING, False, 704)
        assert "subtype=1" in snapshot.source


def test_a_camera_without_sub_stream_is_read_on_its_main_stream(
    streams: Path, reader_of: list[CameraReader], caplog: pytest.LogCaptureFixture
) -> None:
    with CameraSimulator(streams / "main-1080p25-h264.mp4") as cam, caplog.at_level(logging.WARNING):
        spec = spec_on_sub_stream(cam.port)
        assert set(first_frames(spec, reader_of)) == {(1080, 1920, 3)}
        snapshot = reader_of[0].snapshot()
        assert (snapshot.state, snapshot.on_fallback, snapshot.width) == (StreamState.STREAMING, True, 1920)
        assert "subtype=0" in snapshot.source
    said = [record for record in caplog.records if getattr(record, "fallback", False)]
    assert said, "the switch to the main stream is logged"
    assert "404" in said[0].getMessage() and "fallback" in said[0].getMessage(), said[0].getMessage()
    assert said[0].channel == "entrance"  # type: ignore[attr-defined]


def test_only_a_dahua_sub_stream_has_a_main_stream_to_fall_back_to() -> None:
    sub = CameraSource(host="192.0.2.10", channel=3, subtype=1)
    assert sub.main_stream() == CameraSource(host="192.0.2.10", channel=3, subtype=0)
    assert CameraSource(host="192.0.2.10", channel=3).main_stream() is None
    assert CameraSource(host="192.0.2.10", path="/live/sub?x=1").main_stream() is None
    channel = ChannelConfig(id="door", name="Door", source=CameraSource(host="192.0.2.10", channel=3))
    spec = ChannelSpec.from_store(StoreConfig(store_id="s", store_name="S", channels=[channel]), channel)
    assert spec.fallback is None
