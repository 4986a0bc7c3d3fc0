"""CameraReader against the real GStreamer camera simulator on 127.0.0.1: rates, drops, outages, health."""

import logging
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from footfall_contract.config import ChannelConfig, CredentialsRef, RtspUrl
from footfall_contract.config.cameras import CameraSource
from footfall_worker.ingest.capture import diagnose_open_failure, open_capture
from footfall_worker.ingest.rtsp_reader import CameraReader, StateChange
from footfall_worker.ingest.stream_state import ErrorKind, StreamState
from footfall_worker.settings import ReaderSettings
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import FACE_WALKING, STORE_AISLE
from tests.support.paths import footage_path, free_port

# Short delays so outages play out in seconds: backoff 0.4, 0.8, 1.6, 1.6 ...
FAST = {
    "open_timeout_s": 2.0,
    "read_timeout_s": 1.0,
    "stall_timeout_s": 2.0,
    "backoff_initial_s": 0.4,
    "backoff_factor": 2.0,
    "backoff_max_s": 1.6,
    "backoff_jitter": 0.0,
}
STORE_AISLE_FPS = 15.0


def settings(**overrides: object) -> ReaderSettings:
    return ReaderSettings(_env_file=None, **{**FAST, **overrides})  # type: ignore[arg-type]


class Transitions:
    """Collects a reader's state changes with their times."""

    def __init__(self) -> None:
        self.changes: list[StateChange] = []
        self._lock = threading.Lock()

    def __call__(self, change: StateChange) -> None:
        with self._lock:
            self.changes.append(change)

    def times_entering(self, state: StreamState, after: float = 0.0) -> list[float]:
        with self._lock:
            return [c.at_mono for c in self.changes if c.new is state and c.at_mono >= after]


def wait_for(predicate, timeout_s: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Poll `predicate` until true; returns when it became true. Fails the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")


def drain(reader: CameraReader, seconds: float, per_frame_s: float = 0.0) -> list:  # type: ignore[type-arg]
    """Consume frames for `seconds`, taking `per_frame_s` per frame; returns (frame, age at hand-off)."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = reader.get(timeout=0.1)
        if frame is not None:
            got.append((frame, frame.age_s()))
            if per_frame_s:
                time.sleep(per_frame_s)
    return got


@pytest.fixture
def camera() -> Iterator[CameraSimulator]:
    # the same clip as the sub-stream too, so a channel on either stream reads it
    with CameraSimulator(footage_path(STORE_AISLE), sub_file=footage_path(STORE_AISLE)) as sim:
        yield sim


def dahua_url(port: int, subtype: int = 0) -> RtspUrl:
    return CameraSource(host="127.0.0.1", port=port, channel=1, subtype=subtype).url()


@pytest.mark.parametrize("subtype", [0, 1])
def test_frames_flow_at_the_source_rate_with_monotonic_sequence(camera: CameraSimulator, subtype: int) -> None:
    reader = CameraReader("channel_1", dahua_url(camera.port, subtype), settings()).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        drain(reader, 1.5)  # the first second holds what FFmpeg buffered while probing the stream
        dropped_in_burst = reader.snapshot().dropped
        started = time.monotonic()
        got = drain(reader, 3.0)
        elapsed = time.monotonic() - started
        snapshot = reader.snapshot()
    finally:
        assert reader.stop()
    frames = [frame for frame, _ in got]
    seqs = [frame.seq for frame in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a fast consumer gets every frame, in order"
    assert len(frames) / elapsed == pytest.approx(STORE_AISLE_FPS, rel=0.2)
    assert snapshot.fps == pytest.approx(STORE_AISLE_FPS, rel=0.2)
    assert {f.shape for f in frames} == {(270, 480, 3)} and {f.channel_id for f in frames} == {"channel_1"}
    assert all(b.captured_mono > a.captured_mono and b.captured_wall >= a.captured_wall for a, b in pairwise(frames))
    assert (snapshot.width, snapshot.height, snapshot.reconnects) == (480, 270, 0)
    assert snapshot.dropped == dropped_in_burst  # a consumer that keeps up loses nothing


def test_a_slow_consumer_loses_the_oldest_frames_counted_and_latency_stays_bounded(camera: CameraSimulator) -> None:
    reader = CameraReader("channel_1", dahua_url(camera.port), settings(handoff_size=2)).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        got = drain(reader, 4.0, per_frame_s=0.2)  # 5 frames/s against a 15 fps camera
        snapshot = reader.snapshot()
    finally:
        reader.stop()
    assert snapshot.dropped > 10
    assert snapshot.frames_handed_off == len(got) + snapshot.dropped + len(reader.frames)
    seqs = [frame.seq for frame, _ in got]
    assert all(b > a for a, b in pairwise(seqs)) and max(b - a for a, b in pairwise(seqs)) >= 2
    # Two frames of a 15 fps camera wait at most: the age never builds up, however long this runs.
    ages = [age for _, age in got[5:]]
    assert max(ages) < 0.35, ages


def test_adaptive_skipping_rises_with_a_slow_consumer(camera: CameraSimulator) -> None:
    reader = CameraReader(
        "channel_1", dahua_url(camera.port), settings(adaptive_skip=True, max_skip=4, handoff_size=1)
    ).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        drain(reader, 5.0, per_frame_s=0.25)
        raised = reader.snapshot()
        # a fast consumer again: the skip factor comes back down, one step per 3 calm windows of 10 hand-offs
        # (30 frames: 8 s at every 4th of 15 fps), so 12 s
        drain(reader, 12.0)
        calm = reader.snapshot()
    finally:
        reader.stop()
    assert raised.skip_every >= 3 and raised.frames_skipped > 0
    assert calm.skip_every < raised.skip_every


def test_server_killed_mid_stream_backs_off_on_schedule_and_recovers(camera: CameraSimulator) -> None:
    transitions = Transitions()
    reader = CameraReader("channel_1", dahua_url(camera.port), settings(), on_state_change=transitions).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        drain(reader, 1.0)
        killed = time.monotonic()
        camera.stop()
        left = wait_for(lambda: reader.state is not StreamState.STREAMING, 5, "leaving STREAMING")
        assert left - killed < FAST["read_timeout_s"]
        time.sleep(4.0)  # connect attempts after 0.4, 0.8, 1.6 s gaps while the camera is down
        assert reader.snapshot().last_error.kind is ErrorKind.REFUSED  # type: ignore[union-attr]
        camera.start()
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming again")
        assert len(drain(reader, 1.0)) > 5
        snapshot = reader.snapshot()
    finally:
        reader.stop()
    # From the loss to each connect attempt: 0.4, 0.8, 1.6 and then 1.6 s again (the cap).
    lost = transitions.times_entering(StreamState.BACKOFF, after=killed)[0]
    attempts = [lost, *transitions.times_entering(StreamState.CONNECTING, after=killed)]
    gaps = [b - a for a, b in pairwise(attempts)]
    expected = [0.4, 0.8, 1.6, 1.6]
    assert len(gaps) >= 3, gaps
    for gap, delay in zip(gaps, expected, strict=False):
        assert delay - 0.05 <= gap <= delay + 0.4, (gaps, expected)
    assert snapshot.reconnects == 1
    assert snapshot.connect_attempts >= 4


def test_a_frozen_server_is_a_stall_and_streaming_resumes_after_it_thaws(camera: CameraSimulator) -> None:
    transitions = Transitions()
    reader = CameraReader("channel_1", dahua_url(camera.port), settings(), on_state_change=transitions).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        drain(reader, 1.0)
        camera.freeze()
        wait_for(lambda: reader.state is not StreamState.STREAMING, 15, "a stall")
        snapshot = reader.snapshot()
        camera.resume()
        wait_for(lambda: reader.state is StreamState.STREAMING, 15, "streaming after the thaw")
        assert len(drain(reader, 1.0)) > 5
    finally:
        reader.stop()
    assert snapshot.last_error is not None and snapshot.last_error.kind is ErrorKind.STALLED
    assert [c.new for c in transitions.changes].count(StreamState.STALLED) == 1
    # Noticed within stall_timeout + read_timeout of the last frame (plus this test's polling).
    assert snapshot.last_frame_age_s is not None
    assert snapshot.last_frame_age_s < FAST["stall_timeout_s"] + FAST["read_timeout_s"] + 0.2


def test_wrong_password_is_an_auth_error_retried_until_the_right_one_arrives() -> None:
    with CameraSimulator(footage_path(FACE_WALKING), user="admin", password="right-pw") as cam:
        password = {"value": "wrong-pw"}

        def source() -> RtspUrl:
            return RtspUrl(f"rtsp://admin:{password['value']}@127.0.0.1:{cam.port}/cam/realmonitor?channel=1&subtype=0")

        reader = CameraReader("channel_3", source, settings()).start()
        try:
            wait_for(lambda: reader.snapshot().connect_attempts >= 2, 10, "two attempts")
            snapshot = reader.snapshot()
            assert snapshot.last_error is not None and snapshot.last_error.kind is ErrorKind.AUTH_FAILED
            assert "401" in snapshot.last_error.message and "wrong-pw" not in snapshot.last_error.message
            assert snapshot.state in (StreamState.BACKOFF, StreamState.CONNECTING)
            password["value"] = "right-pw"  # as if the Secret was fixed
            wait_for(lambda: reader.state is StreamState.STREAMING, 15, "streaming with the right password")
            assert reader.get(timeout=2) is not None
        finally:
            reader.stop()


def write_secret_volume(directory: Path, username: str, password: str, generation: int) -> None:
    """The files as the kubelet keeps a Secret volume: a timestamped folder, `..data` pointing at it (swapped
    atomically on an update), and each key a link through `..data`."""
    version = directory / f"..2026_12_04_{generation:02d}"
    version.mkdir()
    (version / "username").write_text(username)
    (version / "password").write_text(password)
    (directory / "..data_tmp").symlink_to(version.name)
    (directory / "..data_tmp").rename(directory / "..data")
    for key in ("username", "password"):
        if not (directory / key).is_symlink():
            (directory / key).symlink_to(f"..data/{key}")


def test_a_rotated_secret_volume_reaches_the_running_reader_and_a_bad_value_is_a_config_error(tmp_path: Path) -> None:
    with CameraSimulator(footage_path(FACE_WALKING), user="admin", password="new-pw") as cam:
        channel = ChannelConfig(
            id="channel_3", name="door", source=CameraSource(host="127.0.0.1", port=cam.port, channel=1),
            credentials=CredentialsRef(directory=str(tmp_path)),
        )  # fmt: skip
        write_secret_volume(tmp_path, "admin", "pw-with-newline\n", generation=1)
        reader = CameraReader("channel_3", channel.url, settings()).start()
        try:
            wait_for(lambda: reader.snapshot().last_error is not None, 10, "a first attempt")
            error = reader.snapshot().last_error
            assert error is not None and error.kind is ErrorKind.CONFIG
            assert "password contains the control character U+000A at the end" in error.message
            write_secret_volume(tmp_path, "admin", "old-pw", generation=2)
            wait_for(
                lambda: (e := reader.snapshot().last_error) is not None and e.kind is ErrorKind.AUTH_FAILED,
                15,
                "the camera refusing the old password",
            )
            write_secret_volume(tmp_path, "admin", "new-pw", generation=3)  # rotated: no restart
            wait_for(lambda: reader.state is StreamState.STREAMING, 20, "streaming with the rotated password")
            assert reader.get(timeout=2) is not None
        finally:
            reader.stop()


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (lambda tmp: RtspUrl(f"rtsp://127.0.0.1:{free_port()}/cam/realmonitor"), ErrorKind.REFUSED),
        (lambda tmp: RtspUrl("rtsp://127.0.0.1:99999/cam/realmonitor"), ErrorKind.MALFORMED_URL),
        (lambda tmp: RtspUrl("http://127.0.0.1:8554/cam/realmonitor"), ErrorKind.MALFORMED_URL),
        (lambda tmp: RtspUrl("rtsp:///cam/realmonitor"), ErrorKind.MALFORMED_URL),
        (lambda tmp: tmp / "missing.mp4", ErrorKind.FILE_NOT_FOUND),
        (lambda tmp: (tmp / "notes.mp4", (tmp / "notes.mp4").write_text("not a video"))[0], ErrorKind.NOT_VIDEO),
    ],
    ids=["refused", "bad-port", "not-rtsp", "no-host", "missing-file", "not-video"],
)
def test_sources_that_cannot_work_give_specific_errors_and_keep_retrying(
    tmp_path: Path, source, kind: ErrorKind
) -> None:  # type: ignore[no-untyped-def]
    reader = CameraReader("channel_x", source(tmp_path), settings(backoff_initial_s=0.2, backoff_max_s=0.2)).start()
    try:
        wait_for(lambda: reader.snapshot().connect_attempts >= 2, 10, "a retry")
        snapshot = reader.snapshot()
        assert snapshot.last_error is not None and snapshot.last_error.kind is kind, snapshot.last_error
        assert reader.running and snapshot.state in (StreamState.BACKOFF, StreamState.CONNECTING)
    finally:
        started = time.monotonic()
        assert reader.stop()
        assert time.monotonic() - started < 3
    assert reader.snapshot().state is StreamState.STOPPED


def test_an_open_cut_off_by_its_timeout_from_a_camera_that_answers_is_a_timeout(camera: CameraSimulator) -> None:
    """OpenCV only says "not opened". The camera answers the probe: an open that ran into its timeout is a slow
    camera to retry soon, one that failed at once is a stream FFmpeg cannot decode (a configuration matter).
    The open's duration is given, as no real camera here is slow on demand. A viewer keeps the stream up, as
    a store's NVR would: the simulator tears an unwatched stream down, and a probe arriving meanwhile is
    answered 503."""
    source = dahua_url(camera.port)
    viewer = open_capture(source)
    slow = diagnose_open_failure(source, timeout_s=5.0, blocked_s=4.9)
    assert slow.kind is ErrorKind.TIMEOUT and "answers" in str(slow) and "5 s open timeout" in str(slow), slow
    undecodable = diagnose_open_failure(source, timeout_s=5.0, blocked_s=0.3)
    assert undecodable.kind is ErrorKind.NOT_VIDEO, undecodable
    viewer.release()


def test_stop_returns_within_the_read_timeout_even_from_a_frozen_camera(camera: CameraSimulator) -> None:
    reader = CameraReader("channel_1", dahua_url(camera.port), settings(read_timeout_s=2.0)).start()
    wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
    drain(reader, 0.5)
    camera.freeze()
    time.sleep(1.0)
    started = time.monotonic()
    assert reader.stop()
    assert time.monotonic() - started < 2.0 + 0.5
    assert reader.snapshot().state is StreamState.STOPPED and not reader.running


def test_stop_never_waits_out_a_backoff() -> None:
    reader = CameraReader(
        "channel_1", RtspUrl(f"rtsp://127.0.0.1:{free_port()}/x"), settings(backoff_initial_s=60)
    ).start()
    wait_for(lambda: reader.state is StreamState.BACKOFF, 10, "backoff")
    started = time.monotonic()
    assert reader.stop()
    assert time.monotonic() - started < 1.0


def test_no_credential_appears_in_any_log_line_or_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with CameraSimulator(footage_path(FACE_WALKING), user="camuser", password="Sup3rSecret") as cam:
        url = f"rtsp://camuser:Sup3rSecret@127.0.0.1:{cam.port}/cam/realmonitor"
        wrong = RtspUrl(url.replace("Sup3rSecret", "Wr0ngSecret"))
        readers = [CameraReader("ok", RtspUrl(url), settings()).start(), CameraReader("bad", wrong, settings()).start()]
        try:
            wait_for(lambda: readers[0].state is StreamState.STREAMING, 10, "streaming")
            wait_for(lambda: readers[1].snapshot().connect_attempts >= 2, 10, "auth retries")
            cam.stop()
            wait_for(lambda: readers[0].snapshot().connect_attempts >= 3, 10, "reconnect attempts")
            snapshots = [repr(r.snapshot()) for r in readers]
        finally:
            for reader in readers:
                reader.stop()
    text = "\n".join([r.getMessage() + " " + repr(r.__dict__) for r in caplog.records] + snapshots)
    assert "footfall.ingest" in {r.name for r in caplog.records}
    for secret in ("Sup3rSecret", "Wr0ngSecret", "camuser"):
        assert secret not in text


def test_four_channels_are_independent_when_one_camera_dies() -> None:
    clips = [STORE_AISLE] * 4
    cameras = [CameraSimulator(footage_path(clip)).start() for clip in clips]
    readers = [
        CameraReader(f"channel_{i + 1}", dahua_url(cam.port), settings()).start() for i, cam in enumerate(cameras)
    ]
    counts = [0] * 4
    stop = threading.Event()

    def consume(index: int) -> None:
        while not stop.is_set():
            if readers[index].get(timeout=0.1) is not None:
                counts[index] += 1

    consumers = [threading.Thread(target=consume, args=(i,)) for i in range(4)]
    try:
        for consumer in consumers:
            consumer.start()
        for reader in readers:
            wait_for(lambda r=reader: r.state is StreamState.STREAMING, 15, f"{reader.channel_id} streaming")
        time.sleep(1.5)  # past FFmpeg's probe burst
        before = list(counts)
        time.sleep(3.0)
        rates_before = [(c - b) / 3.0 for c, b in zip(counts, before, strict=True)]
        cameras[0].stop()
        wait_for(lambda: readers[0].state is not StreamState.STREAMING, 5, "channel_1 down")
        before = list(counts)
        time.sleep(3.0)
        rates_after = [(c - b) / 3.0 for c, b in zip(counts, before, strict=True)]
    finally:
        stop.set()
        for reader in readers:
            reader.stop()
        for consumer in consumers:
            consumer.join(2)
        for cam in cameras:
            cam.close()
    assert all(rate == pytest.approx(STORE_AISLE_FPS, rel=0.2) for rate in rates_before), rates_before
    assert rates_after[0] == 0
    for before_rate, after_rate in zip(rates_before[1:], rates_after[1:], strict=True):
        assert after_rate == pytest.approx(before_rate, rel=0.15), (rates_before, rates_after)


def test_a_file_replays_every_frame_when_exhaustive_then_ends(tmp_path: Path) -> None:
    reader = CameraReader(
        "file", footage_path(STORE_AISLE), settings(replay_realtime=False, replay_exhaustive=True, handoff_size=1)
    ).start()
    frames = []
    while (frame := reader.get(timeout=5)) is not None:
        frames.append(frame)
        time.sleep(0.005)  # slower than decoding: a dropping hand-off would lose frames here
    reader.stop()
    snapshot = reader.snapshot()
    assert [f.seq for f in frames] == list(range(1, 68))  # store-aisle has 67 frames
    assert snapshot.dropped == 0 and snapshot.state is StreamState.STOPPED
    assert snapshot.last_error is not None and snapshot.last_error.kind is ErrorKind.END_OF_FILE


def test_a_file_replays_in_real_time_and_loops() -> None:
    reader = CameraReader("file", footage_path(FACE_WALKING), settings(replay_loop=True)).start()
    try:
        started = time.monotonic()
        got = drain(reader, 4.0)
        elapsed = time.monotonic() - started
    finally:
        reader.stop()
    assert len(got) / elapsed == pytest.approx(12.0, rel=0.15)  # face-demographics: 12 fps, 35 frames
    assert len(got) > 35 and reader.snapshot().reconnects == 0


def test_a_read_blocked_past_the_stall_timeout_is_reported_before_it_gives_up(camera: CameraSimulator) -> None:
    # read timeout 4 s > stall timeout 1 s: the probe-facing snapshot must not wait for the read.
    reader = CameraReader(
        "channel_1", dahua_url(camera.port), settings(read_timeout_s=4.0, stall_timeout_s=1.0)
    ).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        drain(reader, 1.0)
        camera.freeze()
        wait_for(lambda: reader.state is StreamState.STALLED, 10, "stalled")
        snapshot = reader.snapshot()
        assert snapshot.last_frame_age_s is not None and 1.0 < snapshot.last_frame_age_s < 2.0
        assert reader.running  # the read is still blocked; the state says what is happening meanwhile
        # FFmpeg may still hand out a frame or two it had buffered (back to STREAMING for a moment), then
        # the read runs into its timeout and the reader reconnects.
        wait_for(lambda: reader.state is StreamState.BACKOFF, 25, "the read giving up")
        camera.resume()
        wait_for(lambda: reader.state is StreamState.STREAMING, 15, "streaming again")
    finally:
        reader.stop()


def test_the_backoff_starts_over_after_a_stable_period(camera: CameraSimulator) -> None:
    transitions = Transitions()
    reader = CameraReader(
        "channel_1", dahua_url(camera.port), settings(stable_after_s=1.5), on_state_change=transitions
    ).start()
    try:
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming")
        camera.stop()
        wait_for(lambda: reader.snapshot().connect_attempts >= 4, 10, "the backoff growing to its cap")
        camera.start()
        wait_for(lambda: reader.state is StreamState.STREAMING, 10, "streaming again")
        drain(reader, 2.5)  # longer than stable_after_s
        second_loss = time.monotonic()
        camera.stop()
        wait_for(lambda: len(transitions.times_entering(StreamState.CONNECTING, after=second_loss)) >= 1, 10, "retry")
    finally:
        reader.stop()
    lost = transitions.times_entering(StreamState.BACKOFF, after=second_loss)[0]
    first_retry = transitions.times_entering(StreamState.CONNECTING, after=second_loss)[0]
    assert first_retry - lost == pytest.approx(0.4, abs=0.3)  # back to the first delay, not the 1.6 s cap
