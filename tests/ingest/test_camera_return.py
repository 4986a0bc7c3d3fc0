"""A camera's return is noticed within seconds, not after the backoff step (issue 15, F6).

Everything is real: the GStreamer camera simulator, closed ports, a listener that never answers (a hung camera's
kernel still accepts) and a scripted RTSP server on 127.0.0.1. Times are printed; the bounds only prove the
behaviour (a return within a fraction of a 30 s step), they are no performance claim.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from footfall_contract.config import RtspUrl
from footfall_worker.ingest.rtsp_probe import ProbeOutcome, ping_rtsp
from footfall_worker.ingest.rtsp_reader import CameraReader
from footfall_worker.ingest.stream_state import ErrorKind, StreamState
from footfall_worker.retry import wait_for_return
from footfall_worker.settings import ReaderSettings
from tests.ingest.test_rtsp_reader import Transitions, wait_for
from tests.support.camera_sim import DAHUA_QUERY, CameraSimulator
from tests.support.footage import STORE_AISLE
from tests.support.paths import footage_path, free_port

pytestmark = pytest.mark.camera

USER, PASSWORD = "returnuser", "R3turn-s3cret"
# A 30 s step: without the probe a return is only seen when it runs out.
LONG_STEP = {
    "open_timeout_s": 2.0,
    "read_timeout_s": 1.0,
    "stall_timeout_s": 2.0,
    "backoff_initial_s": 30.0,
    "backoff_max_s": 60.0,
    "backoff_jitter": 0.0,
    "return_probe_interval_s": 2.0,
}
RETURN_BOUND_S = 8.0  # well under the 30 s step: probe interval + an open, with room for a busy machine


def settings(**overrides: object) -> ReaderSettings:
    return ReaderSettings(_env_file=None, **{**LONG_STEP, **overrides})  # type: ignore[arg-type]


class AnsweringServer:
    """Answers every connection's first request with `reply` and records what it was sent."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.requests: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and (chunk := connection.recv(4096)):
                        data += chunk
                    self.requests.append(data.decode("latin-1"))
                    connection.sendall(self.reply)
                except OSError:
                    pass  # the client hung up

    def url(self, credentials: str = "") -> str:
        return f"rtsp://{credentials}127.0.0.1:{self.port}/cam/realmonitor{DAHUA_QUERY}"

    def __enter__(self) -> AnsweringServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(5)
        self.listener.close()


OPTIONS_OK = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
OPTIONS_401 = (
    b'RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm="cam"\r\nContent-Length: 0\r\n\r\n'
)


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """listen() without accept(): connections complete in the kernel, nothing is ever answered (a hung camera)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


# -- the reader, against the simulator ---------------------------------------------------------------------------
def test_a_camera_that_comes_back_streams_again_within_seconds_not_after_the_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="footfall.ingest")
    with CameraSimulator(footage_path(STORE_AISLE), user=USER, password=PASSWORD) as cam:
        transitions = Transitions()
        reader = CameraReader("channel_1", RtspUrl(cam.url + DAHUA_QUERY), settings(), transitions).start()
        try:
            wait_for(lambda: reader.state is StreamState.STREAMING, 15, "streaming")
            cam.stop()
            wait_for(lambda: reader.state is StreamState.BACKOFF, 5, "backoff after the loss")
            time.sleep(2.5)  # a probe sees the camera gone
            cam.start()
            returned = time.monotonic()
            streaming = wait_for(lambda: reader.state is StreamState.STREAMING, RETURN_BOUND_S, "streaming again")
            print(f"\ncamera back (READY) -> STREAMING: {streaming - returned:.2f} s (backoff step 30 s)")
            assert reader.get(timeout=2) is not None
            snapshot = reader.snapshot()
        finally:
            reader.stop()
    assert (snapshot.early_reconnects, snapshot.reconnects) == (1, 1)
    lost = transitions.times_entering(StreamState.BACKOFF)[0]
    assert len(transitions.times_entering(StreamState.CONNECTING, after=lost)) == 1  # one full attempt, at once
    early = [r for r in caplog.records if r.getMessage().startswith("camera answers again")]
    assert len(early) == 1, [r.getMessage() for r in caplog.records]
    assert early[0].channel == "channel_1"  # type: ignore[attr-defined]
    assert early[0].source.startswith("rtsp://***@127.0.0.1:")  # type: ignore[attr-defined]
    text = "\n".join(r.getMessage() + " " + repr(r.__dict__) for r in caplog.records)
    assert PASSWORD not in text and USER not in text


def test_a_hung_camera_keeps_the_step_while_hung_and_streams_again_soon_after_it_thaws() -> None:
    with CameraSimulator(footage_path(STORE_AISLE)) as cam:
        transitions = Transitions()
        reader = CameraReader("channel_1", RtspUrl(cam.url + DAHUA_QUERY), settings(), transitions).start()
        try:
            wait_for(lambda: reader.state is StreamState.STREAMING, 15, "streaming")
            cam.freeze()
            wait_for(lambda: reader.state is StreamState.BACKOFF, 10, "backoff after the read timeout")
            backoff = time.monotonic()
            time.sleep(4.5)  # two probes: the kernel accepts, the camera never answers
            assert reader.state is StreamState.BACKOFF
            assert transitions.times_entering(StreamState.CONNECTING, after=backoff) == []
            assert reader.snapshot().last_error.kind is ErrorKind.STALLED  # type: ignore[union-attr]
            cam.resume()
            thawed = time.monotonic()
            streaming = wait_for(lambda: reader.state is StreamState.STREAMING, RETURN_BOUND_S, "streaming again")
            print(f"\ncamera thawed -> STREAMING: {streaming - thawed:.2f} s (backoff step 30 s)")
            snapshot = reader.snapshot()
        finally:
            reader.stop()
    assert snapshot.early_reconnects == 1


# -- the reader: a stop, and probes that must not end the wait ---------------------------------------------------
def test_stop_during_a_probing_backoff_returns_at_once_and_a_closed_port_never_ends_it() -> None:
    reader = CameraReader(
        "channel_1", RtspUrl(f"rtsp://127.0.0.1:{free_port()}/x"), settings(return_probe_interval_s=0.2)
    ).start()
    wait_for(lambda: reader.state is StreamState.BACKOFF, 10, "backoff")
    time.sleep(1.5)  # about seven probes, each refused
    snapshot = reader.snapshot()
    started = time.monotonic()
    assert reader.stop()
    print(f"\nstop() during a probing backoff: {time.monotonic() - started:.3f} s")
    assert time.monotonic() - started < 1.0
    assert snapshot.last_error is not None and snapshot.last_error.kind is ErrorKind.REFUSED
    assert (snapshot.state, snapshot.connect_attempts, snapshot.early_reconnects) == (StreamState.BACKOFF, 1, 0)


def test_a_closed_port_keeps_the_schedule_exactly() -> None:
    transitions = Transitions()
    reader = CameraReader(
        "channel_1",
        RtspUrl(f"rtsp://127.0.0.1:{free_port()}/x"),
        settings(backoff_initial_s=2.0, backoff_factor=1.0, return_probe_interval_s=0.2),
        on_state_change=transitions,
    ).start()
    try:
        wait_for(lambda: len(transitions.times_entering(StreamState.CONNECTING)) >= 2, 10, "two retries")
    finally:
        reader.stop()
    # The reader starts in CONNECTING: each entry into it is a retry, after the BACKOFF before it.
    backoffs = transitions.times_entering(StreamState.BACKOFF)
    connects = transitions.times_entering(StreamState.CONNECTING)[:2]
    gaps = [connect - backoff for backoff, connect in zip(backoffs, connects, strict=False)]
    assert len(gaps) == 2 and all(1.95 <= gap <= 2.5 for gap in gaps), gaps
    assert reader.snapshot().early_reconnects == 0


def test_a_stop_during_a_probe_of_a_silent_camera_waits_for_the_probe_timeout_at_most(
    silent_listener: socket.socket,
) -> None:
    port = silent_listener.getsockname()[1]
    reader = CameraReader(
        "channel_1",
        RtspUrl(f"rtsp://127.0.0.1:{port}/x"),
        settings(open_timeout_s=1.0, return_probe_interval_s=1.0),  # probes block their full 1 s timeout
    ).start()
    wait_for(lambda: reader.state is StreamState.BACKOFF, 10, "backoff")
    time.sleep(1.5)  # inside the first probe (1 s after the wait began, 1 s long)
    snapshot = reader.snapshot()
    started = time.monotonic()
    assert reader.stop()
    print(f"\nstop() during a probe of a silent camera: {time.monotonic() - started:.3f} s")
    assert time.monotonic() - started < 1.0 + 0.5
    assert snapshot.last_error is not None and snapshot.last_error.kind is ErrorKind.TIMEOUT
    assert (snapshot.state, snapshot.connect_attempts, snapshot.early_reconnects) == (StreamState.BACKOFF, 1, 0)


def test_a_video_file_never_probes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    transitions = Transitions()
    reader = CameraReader(
        "file",
        tmp_path / "missing.mp4",
        settings(backoff_initial_s=1.0, backoff_factor=1.0, return_probe_interval_s=0.1),
        on_state_change=transitions,
    ).start()
    try:
        wait_for(lambda: len(transitions.times_entering(StreamState.CONNECTING)) >= 1, 5, "a retry")
    finally:
        reader.stop()
    backoff = transitions.times_entering(StreamState.BACKOFF)[0]
    retry = transitions.times_entering(StreamState.CONNECTING)[0]
    assert retry - backoff >= 0.95 and reader.snapshot().early_reconnects == 0


# -- the wait itself, with real probes ---------------------------------------------------------------------------
def test_the_wait_ends_only_on_an_answer_after_nothing_answered() -> None:
    stop = threading.Event()
    with AnsweringServer(OPTIONS_OK) as server:
        began = time.monotonic()
        # Answering throughout (a wrong password, a wrong path): not a return, the step is waited out.
        assert not wait_for_return(stop, 1.0, lambda: ping_rtsp(server.url()).outcome is ProbeOutcome.OK, 0.2)
        assert 0.95 <= time.monotonic() - began < 1.6
        assert len(server.requests) >= 3
        began = time.monotonic()
        # Known gone, then answering: back, at the first probe.
        assert wait_for_return(
            stop, 30.0, lambda: ping_rtsp(server.url()).outcome is ProbeOutcome.OK, 0.2, seen_down=True
        )
        assert time.monotonic() - began < 1.0
    closed = f"rtsp://127.0.0.1:{free_port()}/x"
    began = time.monotonic()
    assert not wait_for_return(stop, 1.0, lambda: ping_rtsp(closed).outcome is ProbeOutcome.OK, 0.2, seen_down=True)
    assert time.monotonic() - began >= 0.95


def test_the_wait_ends_at_once_on_stop_and_ignores_a_probe_that_cannot_tell() -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    began = time.monotonic()
    assert not wait_for_return(stop, 30.0, lambda: None, 0.1, seen_down=True)
    assert time.monotonic() - began < 0.8


# -- ping_rtsp ---------------------------------------------------------------------------------------------------
def test_ping_answers_from_the_simulator_with_and_without_auth() -> None:
    with CameraSimulator(footage_path(STORE_AISLE)) as open_cam:
        result = ping_rtsp(open_cam.url + DAHUA_QUERY)
        assert (result.outcome, result.status_code) == (ProbeOutcome.OK, 200), result
    with CameraSimulator(footage_path(STORE_AISLE), user=USER, password=PASSWORD, auth="digest") as cam:
        result = ping_rtsp(cam.url + DAHUA_QUERY)
        assert result.outcome is ProbeOutcome.OK and result.status_code in (200, 401), result
        assert PASSWORD not in repr(result)


def test_ping_sends_one_options_without_credentials_and_a_401_still_answers() -> None:
    with AnsweringServer(OPTIONS_401) as server:
        result = ping_rtsp(server.url(f"{USER}:{PASSWORD}@"))
    assert (result.outcome, result.status_code) == (ProbeOutcome.OK, 401), result
    [request] = server.requests
    assert request.startswith(f"OPTIONS rtsp://127.0.0.1:{server.port}/cam/realmonitor{DAHUA_QUERY} RTSP/1.0\r\n")
    assert "Authorization" not in request and USER not in request and PASSWORD not in request


def test_ping_of_nothing_or_a_silent_listener_is_not_an_answer_and_keeps_its_timeout(
    silent_listener: socket.socket,
) -> None:
    began = time.monotonic()
    result = ping_rtsp(f"rtsp://localhost:{free_port()}/x", timeout_s=0.5)  # a name: resolved within the deadline
    assert result.outcome is ProbeOutcome.REFUSED and time.monotonic() - began < 0.5, result
    began = time.monotonic()
    result = ping_rtsp(f"rtsp://127.0.0.1:{silent_listener.getsockname()[1]}/x", timeout_s=0.5)
    assert result.outcome is ProbeOutcome.TIMEOUT, result
    assert 0.45 <= time.monotonic() - began < 0.8
    with AnsweringServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as server:
        assert ping_rtsp(server.url()).outcome is ProbeOutcome.PROTOCOL_ERROR
