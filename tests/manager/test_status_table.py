"""The status table: rows from supervisor info + `/status`, rendering, and polling real HTTP servers."""

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from footfall_worker.manager.status_table import (
    CLEAR_SCREEN,
    Row,
    StatusPoller,
    StatusTable,
    build_row,
    fetch_status,
    render_lines,
    render_table,
)
from footfall_worker.manager.worker_process import WorkerInfo, WorkerState
from tests.support.paths import free_port

STREAMING = {
    "channel": "channel_1",
    "state": "streaming",
    "fps_read": 25.04,
    "fps_processed": 12.46,
    "latency_p95_ms": 41.6,
    "people_now": 2,
    "active_tracks": 3,
    "reconnects": 1,
    "frames_dropped": 120,
    "skip_every": 2,
    "entries": 14,
    "exits": 9,
    "frames_processed": 5000,
    "live": True,
    "ready": True,
    "uptime_s": 200.0,
}


def info(channel: str, state: WorkerState = WorkerState.RUNNING, restarts: int = 0, port: int = 9100) -> WorkerInfo:
    return WorkerInfo(channel, port, state, 1234, restarts, None, 1.0, started_seq=1)


@pytest.mark.parametrize(
    ("state", "status", "answered", "expected"),
    [
        (WorkerState.RUNNING, STREAMING, False, "streaming"),
        (WorkerState.RUNNING, {**STREAMING, "state": "stalled"}, True, "stalled"),
        (WorkerState.RUNNING, None, False, "starting"),  # not answered yet since its start
        (WorkerState.RUNNING, None, True, "no answer"),  # answered before, not now
        (WorkerState.BACKOFF, None, True, "down"),  # exited, waiting for its restart
        (WorkerState.STOPPED, None, False, "stopped"),
    ],
)
def test_row_state(state: WorkerState, status: dict | None, answered: bool, expected: str) -> None:
    assert build_row(info("channel_1", state, restarts=2), status, answered).state == expected


def test_row_takes_the_values_and_tolerates_missing_or_wrong_types() -> None:
    row = build_row(info("channel_1", restarts=3), STREAMING)
    assert row == Row("channel_1", "streaming", 25.04, 12.46, 41.6, 2, 3, 1, 120, 2, restarts=3, entries=14, exits=9)
    odd = build_row(info("channel_1"), {"state": "connecting", "latency_p95_ms": None, "people_now": True})
    assert (odd.latency_p95_ms, odd.people_now, odd.fps_read) == (None, None, None)


def test_table_renders_one_aligned_row_per_channel_with_a_down_worker() -> None:
    rows = [
        build_row(info("channel_1"), STREAMING),
        build_row(info("channel_12", WorkerState.BACKOFF, restarts=4), None),
        build_row(info("channel_3"), {**STREAMING, "state": "connecting", "latency_p95_ms": None, "fps_read": 0.0}),
    ]
    assert render_table(rows).splitlines() == [
        "CHANNEL     STATE        FPS  FPS PROC  P95 MS  PEOPLE  TRACKS  IN  OUT  RECONN  DROPS  SKIP  RESTARTS",
        "channel_1   streaming   25.0      12.5      42       2       3  14    9       1    120     2         0",
        "channel_12  down           -         -       -       -       -   -    -       -      -     -         4",
        "channel_3   connecting   0.0      12.5       -       2       3  14    9       1    120     2         0",
    ]


def test_plain_lines_are_key_value_one_per_channel() -> None:
    rows = [build_row(info("channel_1"), STREAMING), build_row(info("channel_2"), None, answered_since_start=True)]
    assert render_lines(rows) == [
        "channel=channel_1 state=streaming fps=25.0 fps_processed=12.5 p95_ms=42 people=2 tracks=3 in=14 out=9 "
        "reconnects=1 drops=120 skip=2 restarts=0",
        "channel=channel_2 state=no_answer fps=- fps_processed=- p95_ms=- people=- tracks=- in=- out=- "
        "reconnects=- drops=- skip=- restarts=0",
    ]


class _StatusHandler(BaseHTTPRequestHandler):
    body = json.dumps(STREAMING).encode()

    def do_GET(self) -> None:
        body = self.body if self.path == "/status" else b"{}"
        self.send_response(200 if self.path == "/status" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class _GarbageHandler(_StatusHandler):
    body = b"<html>not json</html>"


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def status_port() -> Iterator[int]:
    yield from _serve(_StatusHandler)


@pytest.fixture
def garbage_port() -> Iterator[int]:
    yield from _serve(_GarbageHandler)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections and never answers: a hung worker."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_fetch_reads_the_status_document(status_port: int) -> None:
    assert fetch_status(status_port) == STREAMING


def test_fetch_gives_none_for_no_server_a_hung_server_or_garbage(silent_port: int, garbage_port: int) -> None:
    assert fetch_status(free_port()) is None
    assert fetch_status(silent_port, timeout_s=0.2) is None
    assert fetch_status(garbage_port) is None


def test_poller_asks_every_worker(status_port: int, silent_port: int) -> None:
    poller = StatusPoller(timeout_s=0.2)
    try:
        assert poller.poll({"up": status_port, "hung": silent_port, "none": free_port()}) == {
            "up": STREAMING,
            "hung": None,
            "none": None,
        }
    finally:
        poller.close()


def test_table_prints_plain_lines_off_a_terminal_and_redraws_on_one(status_port: int) -> None:
    infos = [info("channel_1", port=status_port), info("channel_2", WorkerState.BACKOFF, restarts=2, port=free_port())]
    plain = io.StringIO()
    table = StatusTable(plain, interactive=False, interval_s=10, poller=StatusPoller())
    assert table.refresh_if_due(infos, now=100.0)
    assert not table.refresh_if_due(infos, now=105.0)  # within the interval
    assert table.refresh_if_due(infos, now=110.0)
    table.close()
    lines = plain.getvalue().splitlines()
    assert len(lines) == 4 and "\x1b" not in plain.getvalue()
    assert lines[0].startswith("channel=channel_1 state=streaming") and "state=down" in lines[1]
    assert lines[1].endswith("restarts=2")

    screen = io.StringIO()
    table = StatusTable(screen, interactive=True, interval_s=1, poller=StatusPoller(), title="footfall run: demo")
    table.refresh(infos)
    table.close()
    assert screen.getvalue().startswith(CLEAR_SCREEN + "footfall run: demo\n\nCHANNEL")
