"""One HTTP port for Kubernetes and people: /healthz, /readyz, /metrics, /status, served alike by a channel's
worker and by the operator (each decides its own verdicts).

Handlers only read snapshots the process hands them (callables), so a wedged processing loop can never
wedge its own liveness probe: the probe keeps answering, and says 503.
"""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("footfall.probes")


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
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/healthz": lambda: _verdict_response(liveness()),
            "/readyz": lambda: _verdict_response(readiness()),
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, metrics()),
            "/status": lambda: (200, "application/json", json.dumps(status()).encode()),
        }
        extra = {"channel": channel_id}

        class Handler(BaseHTTPRequestHandler):
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

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"probes-{channel_id}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> "ProbeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _verdict_response(verdict: Verdict) -> tuple[int, str, bytes]:
    return (200 if verdict.ok else 503), "application/json", json.dumps(verdict.as_dict()).encode()
