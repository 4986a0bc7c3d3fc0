"""The live table of `footfall run`: poll each worker's `GET /status`, render one row per channel.

Polling, turning answers into rows, and rendering are separate: the renderers are pure functions of rows.
The `/status` document a worker serves:

    {"channel": str, "state": "connecting|streaming|stalled|backoff|stopped", "fps_read": float,
     "fps_processed": float, "latency_p95_ms": float | null, "people_now": int, "active_tracks": int,
     "reconnects": int, "frames_dropped": int, "skip_every": int, "frames_processed": int, "live": bool,
     "ready": bool, "uptime_s": float}
"""

import http.client
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from footfall_worker.manager.worker_process import WorkerInfo, WorkerState

STATUS_TIMEOUT_S = 0.5
_MAX_STATUS_BYTES = 64 * 1024
# ANSI: cursor home, then clear the screen, so each redraw replaces the last one in place.
CLEAR_SCREEN = "\x1b[H\x1b[2J"

Status = dict[str, Any]


def fetch_status(port: int, host: str = "127.0.0.1", timeout_s: float = STATUS_TIMEOUT_S) -> Status | None:
    """One worker's `/status` document, or None when it does not answer with one within `timeout_s`.

    The HTTP code is not checked: a worker that is not ready may still describe itself.
    """
    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        connection.request("GET", "/status")
        document = json.loads(connection.getresponse().read(_MAX_STATUS_BYTES))
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
    return document if isinstance(document, dict) else None


class StatusPoller:
    """Polls every worker at once, so one that hangs costs the table its timeout, not one timeout per worker.

    Args:
        host: where the workers listen (loopback: they run on this machine).
        timeout_s: per worker.
        fetch: the fetch function; injectable.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        timeout_s: float = STATUS_TIMEOUT_S,
        fetch: Callable[[int, str, float], Status | None] = fetch_status,
        max_parallel: int = 16,
    ) -> None:
        self._host = host
        self._timeout_s = timeout_s
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="status-poll")

    def poll(self, ports: Mapping[str, int]) -> dict[str, Status | None]:
        """Each channel's `/status` document (None when it did not answer)."""
        futures = {
            channel: self._pool.submit(self._fetch, port, self._host, self._timeout_s)
            for channel, port in ports.items()
        }
        # The socket timeout bounds each operation, not a whole exchange with a worker that answers byte by
        # byte: bound the wait too, so the manager's loop is never held up by one worker.
        end = time.monotonic() + 2 * self._timeout_s
        statuses: dict[str, Status | None] = {}
        for channel, future in futures.items():
            try:
                statuses[channel] = future.result(timeout=max(0.0, end - time.monotonic()))
            except TimeoutError:
                statuses[channel] = None
        return statuses

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Row:
    """One channel's line in the table; None where the worker gave no value."""

    channel: str
    state: str
    fps_read: float | None = None
    fps_processed: float | None = None
    latency_p95_ms: float | None = None
    people_now: int | None = None
    active_tracks: int | None = None
    reconnects: int | None = None
    frames_dropped: int | None = None
    skip_every: int | None = None
    restarts: int = 0
    entries: int | None = None  # people counted in and out on the channel's lines since the worker started
    exits: int | None = None


def _number(document: Mapping[str, Any], key: str) -> Any:
    value = document.get(key)
    # bool is an int to Python; a wrong-typed field shows as missing rather than as a misleading number.
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def build_row(info: WorkerInfo, status: Mapping[str, Any] | None, answered_since_start: bool = False) -> Row:
    """A table row from what the supervisor knows and what the worker said (None: no answer).

    A running worker without an answer is `starting` until it has answered once since its (re)start, then
    `no answer`; an exited one waiting for its restart is `down`.
    """
    if status is None:
        if info.state is WorkerState.RUNNING:
            state = "no answer" if answered_since_start else "starting"
        else:
            state = "down" if info.state is WorkerState.BACKOFF else "stopped"
        return Row(info.channel, state, restarts=info.restarts)
    return Row(
        channel=info.channel,
        state=str(status.get("state", "?")),
        fps_read=_number(status, "fps_read"),
        fps_processed=_number(status, "fps_processed"),
        latency_p95_ms=_number(status, "latency_p95_ms"),
        people_now=_number(status, "people_now"),
        active_tracks=_number(status, "active_tracks"),
        reconnects=_number(status, "reconnects"),
        frames_dropped=_number(status, "frames_dropped"),
        skip_every=_number(status, "skip_every"),
        restarts=info.restarts,
        entries=_number(status, "entries"),
        exits=_number(status, "exits"),
    )


def _fmt(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{decimals}f}" if decimals else str(round(value))


# (header, key=value name, how to format a row's value), in table order.
_COLUMNS: tuple[tuple[str, str, Callable[[Row], str]], ...] = (
    ("CHANNEL", "channel", lambda r: r.channel),
    ("STATE", "state", lambda r: r.state),
    ("FPS", "fps", lambda r: _fmt(r.fps_read, 1)),
    ("FPS PROC", "fps_processed", lambda r: _fmt(r.fps_processed, 1)),
    ("P95 MS", "p95_ms", lambda r: _fmt(r.latency_p95_ms)),
    ("PEOPLE", "people", lambda r: _fmt(r.people_now)),
    ("TRACKS", "tracks", lambda r: _fmt(r.active_tracks)),
    ("IN", "in", lambda r: _fmt(r.entries)),
    ("OUT", "out", lambda r: _fmt(r.exits)),
    ("RECONN", "reconnects", lambda r: _fmt(r.reconnects)),
    ("DROPS", "drops", lambda r: _fmt(r.frames_dropped)),
    ("SKIP", "skip", lambda r: _fmt(r.skip_every)),
    ("RESTARTS", "restarts", lambda r: str(r.restarts)),
)


def render_table(rows: Sequence[Row]) -> str:
    """An aligned table with a header line: text left-aligned, numbers right-aligned; `-` for no value."""
    cells = [[cell(row) for _, _, cell in _COLUMNS] for row in rows]
    headers = [header for header, _, _ in _COLUMNS]
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.ljust(width) if index < 2 else value.rjust(width)
            for index, (value, width) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def render_lines(rows: Sequence[Row]) -> list[str]:
    """One `key=value` line per channel, for output that is not a terminal (logs, files, CI)."""
    # A space inside a value ("no answer") would split it in two for `grep`/`awk`.
    return [" ".join(f"{name}={cell(row).replace(' ', '_')}" for _, name, cell in _COLUMNS) for row in rows]


class StatusTable:
    """Polls the workers and shows the table: redrawn in place on a terminal, plain lines otherwise.

    Args:
        out: where the table goes (stdout).
        interactive: redraw in place (a terminal) or print plain lines.
        interval_s: seconds between two showings.
        poller: the `/status` poller.
        title: a line above the table on a terminal.
    """

    def __init__(
        self, out: TextIO, interactive: bool, interval_s: float, poller: StatusPoller, title: str = ""
    ) -> None:
        self._out = out
        self._interactive = interactive
        self._interval_s = interval_s
        self._poller = poller
        self._title = title
        self._next_at = 0.0
        self._answered_seq: dict[str, int] = {}

    def refresh_if_due(self, infos: Sequence[WorkerInfo], now: float) -> bool:
        """Poll and show when the interval is over; True when it did."""
        if now < self._next_at:
            return False
        self._next_at = now + self._interval_s
        self.refresh(infos)
        return True

    def refresh(self, infos: Sequence[WorkerInfo]) -> None:
        statuses = self._poller.poll({info.channel: info.port for info in infos})
        rows = []
        for info in infos:
            status = statuses.get(info.channel)
            if status is not None:
                self._answered_seq[info.channel] = info.started_seq
            answered = self._answered_seq.get(info.channel) == info.started_seq
            rows.append(build_row(info, status, answered))
        if self._interactive:
            header = f"{self._title}\n\n" if self._title else ""
            self._out.write(f"{CLEAR_SCREEN}{header}{render_table(rows)}\n")
        else:
            self._out.write("".join(f"{line}\n" for line in render_lines(rows)))
        self._out.flush()

    def close(self) -> None:
        self._poller.close()
