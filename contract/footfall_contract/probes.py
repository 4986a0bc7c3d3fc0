"""One HTTP port for Kubernetes and people: /healthz, /readyz, /metrics, /status, served alike by a channel's
worker and by the operator (each decides its own verdicts).

Handlers only read snapshots the process hands them (callables), so a wedged processing loop can never
wedge its own liveness probe: the probe keeps answering, and says 503.

Any client that reaches the port is assumed hostile: a connection gets `REQUEST_TIMEOUT_S` per read and write
(a slow client cannot hold a thread), at most `MAX_REQUEST_BYTES` of request line and headers are read, and at
most `MAX_CONNECTIONS` are served at once (more are closed at accept and counted in `refused`).
"""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("footfall.probes")

REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 16 * 1024
MAX_CONNECTIONS = 16


@dataclass(frozen=True, slots=True)
class Verdict:
    """A probe's answer: 200 when ok, 503 with the reasons otherwise; `degraded` names what works only in part
    without failing the probe (e.g. rows waiting in the journal while PostgreSQL is away)."""

    ok: bool
    reasons: tuple[str, ...]  # why not ok; empty when ok
    degraded: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "reasons": list(self.reasons), "degraded": list(self.degraded)}


class ProbeServer:
    """Serves the probes on a daemon thread.

    Args:
        host, port: listen address; port 0 picks a free one (see `port`).
        channel_id: on the log lines.
        liveness, readiness: the current verdicts.
        metrics: the Prometheus exposition.
        status: the /status document (JSON-serialisable).
        request_timeout_s, max_connections: the limits above (tests shorten them).
    """

    def __init__(
        self,
        host: str,
        port: int,
        channel_id: str,
        *,
        liveness: Callable[[], Verdict],
        readiness: Callable[[], Verdict],
        metrics: Callable[[], bytes],
        status: Callable[[], dict[str, object]],
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/healthz": lambda: _verdict_response(liveness()),
            "/readyz": lambda: _verdict_response(readiness()),
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, metrics()),
            "/status": lambda: (200, "application/json", json.dumps(status()).encode()),
        }
        extra = {"channel": channel_id}

        class Handler(BaseHTTPRequestHandler):
            timeout = request_timeout_s  # StreamRequestHandler sets it on the connection's socket

            def setup(self) -> None:
                super().setup()
                self.rfile = BoundedReader(self.rfile, MAX_REQUEST_BYTES)  # type: ignore[assignment]

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    code, content_type, body = 404, "text/plain", b"not found: try /healthz /readyz /metrics /status\n"
                else:
                    try:
                        code, content_type, body = route()
                    except Exception:  # noqa: BLE001 - a probe bug answers 500 and is logged, never kills the server
                        log.exception("probe %s failed", self.path, extra=extra)
                        code, content_type, body = 500, "text/plain", b"probe failed\n"
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server API
                pass  # kubelet probes every few seconds: not worth a line each

        self._server = BoundedThreadingServer((host, port), Handler, max_connections)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"probes-{channel_id}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def refused(self) -> int:
        """Connections closed at accept because `MAX_CONNECTIONS` were being served."""
        return self._server.refused

    def start(self) -> "ProbeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _verdict_response(verdict: Verdict) -> tuple[int, str, bytes]:
    return (200 if verdict.ok else 503), "application/json", json.dumps(verdict.as_dict()).encode()


class BoundedThreadingServer(ThreadingHTTPServer):
    """A thread per connection, at most `max_connections` of them; a connection over the cap is closed at once."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)
        self.refused = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class BoundedReader:
    """The connection's input, cut off after `budget` bytes: what is past it reads as the end of the request."""

    def __init__(self, raw: BinaryIO, budget: int) -> None:
        self._raw = raw
        self._left = budget

    def readline(self, limit: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        line = self._raw.readline(self._left if limit < 0 else min(limit, self._left))
        self._left -= len(line)
        return line

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._raw.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._raw.close()
