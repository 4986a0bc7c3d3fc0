"""Run hack/camera_sim.py (a simulated RTSP IP camera) from tests.

The simulator needs Debian's /usr/bin/python3 (GStreamer bindings), so it always runs as a subprocess; this
module itself only needs the standard library and works from the project's venv.

    from tests.support.camera_sim import CameraSimulator, footage_path

    with CameraSimulator(footage_path("store-aisle-detection.mp4")) as cam:
        capture = open_capture(cam.url + "?channel=1&subtype=0")
        cam.freeze(); cam.resume(); cam.restart(); cam.stop(); cam.start()

    # Credentials: Basic by default; auth="digest" offers only Digest (MD5, no qop), as Dahua cameras do.
    CameraSimulator(clip, user="admin", password="s3cret", auth="digest")

    # A real camera's load: its main stream and sub-stream (subtype=1), made once by hack/camera-streams.sh.
    streams = camera_streams()
    CameraSimulator(streams / "main-4mp25-h265.mp4", sub_file=streams / "sub-d1-h264.mp4")

A simulator that does not come up raises CameraSimulatorError with its log tail: a missing GStreamer is a
broken environment (run hack/install-gstreamer.sh), never a reason to skip.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self
from urllib.parse import quote

from tests.support.paths import REPO_ROOT, footage_path, free_port

__all__ = [
    "CameraSimulator",
    "CameraSimulatorError",
    "DAHUA_QUERY",
    "SUB_STREAM_QUERY",
    "camera_streams",
    "footage_path",
    "open_capture",
    "open_ok",
]

SYSTEM_PYTHON = "/usr/bin/python3"
MOUNT = "/cam/realmonitor"
# Extra query a Dahua client sends; the simulator ignores it, as one camera serves one channel here.
DAHUA_QUERY = "?channel=1&subtype=0"
SUB_STREAM_QUERY = "?channel=1&subtype=1"


def camera_streams() -> Path:
    """The directory of a real camera's streams (1080p H.264, 4 MP H.265, the D1 sub-stream), encoded from our
    footage on first use and cached (hack/camera-streams.sh says what each is)."""
    done = subprocess.run(
        [str(REPO_ROOT / "hack" / "camera-streams.sh")], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise CameraSimulatorError(f"hack/camera-streams.sh failed ({done.returncode}): {done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def open_capture(url: str, timeout_ms: int = 3000) -> Any:
    """cv2.VideoCapture over RTSP/TCP with open and read timeouts: without them a frozen camera (socket open,
    nothing sent) blocks read() for OpenCV's default 30 s. cv2 and the worker are imported here, so this module
    loads without them."""
    import cv2

    from footfall_worker.ingest.capture import FFMPEG_CAPTURE_OPTIONS

    # Read by OpenCV's FFmpeg backend at each open: the worker's options (TCP, no frame-rate probing).
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = FFMPEG_CAPTURE_OPTIONS
    return cv2.VideoCapture(
        url,
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms],
    )


def open_ok(url: str, captures: list[Any], timeout_ms: int = 3000) -> Any:
    """`open_capture`, kept in `captures` for release, failing the test when the stream does not open."""
    capture = open_capture(url, timeout_ms)
    captures.append(capture)
    assert capture.isOpened(), f"could not open {url}"
    return capture


class CameraSimulatorError(RuntimeError):
    pass


_live: set[CameraSimulator] = set()


@atexit.register
def _stop_leftovers() -> None:
    # A test that forgot close() must not leave a camera running after pytest exits.
    for sim in list(_live):
        sim.close()


class CameraSimulator:
    """One simulated camera (one subprocess, one port). The port is kept across stop()/start()/restart(), so
    .url stays valid, as a real camera's would across a reboot."""

    def __init__(
        self,
        file: str | os.PathLike[str],
        *,
        sub_file: str | os.PathLike[str] | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        auth: Literal["basic", "digest"] = "basic",
        host: str = "127.0.0.1",
        ready_timeout_s: float = 15.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        if auth not in ("basic", "digest"):
            raise ValueError(f"auth must be 'basic' or 'digest', not {auth!r}")
        self.file = Path(file)
        self.sub_file = Path(sub_file) if sub_file is not None else None
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.user = user
        self.password = password
        self.auth = auth
        self.ready_timeout_s = ready_timeout_s
        self._own_log = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"camera-sim-{self.port}-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.frozen = False
        self.startup_s: float | None = None  # spawn -> READY of the last start()
        # Set when the process was found exited without being asked to: close() then fails with the log,
        # because a test that saw "connection refused" should say why the camera went away.
        self.died: str | None = None

    # -- URLs -------------------------------------------------------------------------------------------
    @property
    def url_without_credentials(self) -> str:
        return f"rtsp://{self.host}:{self.port}{MOUNT}"

    @property
    def url(self) -> str:
        if self.user is None or self.password is None:
            return self.url_without_credentials
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
        return f"rtsp://{credentials}{self.host}:{self.port}{MOUNT}"

    # -- lifecycle --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def start(self) -> Self:
        """Start and wait for READY. No-op if running."""
        if self.running:
            return self
        env = dict(os.environ)
        env.pop("CAMERA_SIM_USER", None)
        env.pop("CAMERA_SIM_PASSWORD", None)
        if self.user is not None and self.password is not None:
            # Through the environment, not argv: keeps the password out of ps.
            env["CAMERA_SIM_USER"] = self.user
            env["CAMERA_SIM_PASSWORD"] = self.password
        command = [
            SYSTEM_PYTHON,
            str(REPO_ROOT / "hack" / "camera_sim.py"),
            "--file",
            str(self.file),
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--auth",
            self.auth,
        ]
        if self.sub_file is not None:
            command += ["--sub-file", str(self.sub_file)]
        if not self.host.startswith("127."):
            # an address the test made itself (the test node's pod bridge): pods reach the camera there
            command.append("--allow-non-loopback")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        offset = self._log.tell()
        began = time.monotonic()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                env=env,
                # Own session: a Ctrl-C in the terminal reaches pytest, which then stops us cleanly.
                start_new_session=True,
            )
        except OSError as error:
            raise CameraSimulatorError(
                f"cannot run {SYSTEM_PYTHON} (run hack/install-gstreamer.sh): {error}"
            ) from error
        _live.add(self)
        self.frozen = False
        self._wait_ready(offset, began)
        self.startup_s = time.monotonic() - began
        return self

    def _wait_ready(self, offset: int, began: float) -> None:
        deadline = began + self.ready_timeout_s
        while True:
            if self._ready_line(offset):
                return
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                self._cleanup()
                raise CameraSimulatorError(
                    f"camera simulator exited with status {code} before READY\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise CameraSimulatorError(
                    f"camera simulator not READY within {self.ready_timeout_s:.0f} s\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def _ready_line(self, offset: int) -> bool:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return any(line.startswith(b"READY ") for line in log)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "--- camera simulator log tail ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self, *, hard: bool = False, timeout_s: float = 5.0) -> None:
        """SIGTERM (clean shutdown, connections closed) or, with hard=True, SIGKILL (a power cut: the kernel
        still resets the connections)."""
        process = self._process
        if process is None:
            return
        code = process.poll()
        if code is not None:
            self.died = f"camera simulator on port {self.port} exited on its own with status {code}\n{self.log_tail()}"
        else:
            process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            if self.frozen:
                process.send_signal(signal.SIGCONT)  # a stopped process handles SIGTERM only once continued
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)
        self._cleanup()

    def _cleanup(self) -> None:
        self._process = None
        self.frozen = False
        if self._log is not None:
            self._log.close()
            self._log = None
        _live.discard(self)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """SIGSTOP: the port stays open and connections stay up, but nothing is sent or answered, like a
        hung camera. Clients only notice through their read timeouts."""
        if not self.running or self._process is None:
            raise CameraSimulatorError("freeze(): simulator is not running")
        self._process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def resume(self) -> None:
        if not self.running or self._process is None:
            raise CameraSimulatorError("resume(): simulator is not running")
        self._process.send_signal(signal.SIGCONT)
        self.frozen = False

    def close(self) -> None:
        """Stop and remove the log. A simulator that had died on its own raises CameraSimulatorError with its log
        (kept on disk), after cleaning up."""
        self.stop()
        if self.died is not None:
            raise CameraSimulatorError(f"{self.died}\n(log kept at {self.log_path})")
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running" if self.running else "stopped"
        return f"CameraSimulator({self.file.name!r}, {self.url_without_credentials}, {state})"
