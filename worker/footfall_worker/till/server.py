"""`footfall till-webhook`: the endpoint a store's till posts its transactions to.

footfall till-webhook --port 8090 --secrets /etc/footfall/till --dsn postgresql://...

POST /till/v1/transactions, signed (`signature.py`) with the store's secret: the file named by the store id in
--secrets (a Kubernetes Secret mounted as a directory: one key per store; read at every request, so a rotated
secret needs no restart). Answers: 200 {"recorded": n} (or {"duplicate": true} for a delivery already
recorded), 401 signature refused, 403 a delivery for another store, 411/413 no or too long a body, 422 the body
is not a delivery (each field named), 503 the database is away (retry: nothing was recorded). GET /healthz.

Every connection is assumed hostile: request heads and bodies are bounded, each read and write times out, at
most a few connections are served at once.
"""

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psycopg2

from footfall_contract.config.geometry import IDENTIFIER_PATTERN
from footfall_contract.config.masking import mask_credentials
from footfall_contract.probes import MAX_REQUEST_BYTES, REQUEST_TIMEOUT_S, BoundedReader, BoundedThreadingServer
from footfall_worker.till.delivery import MAX_BODY_BYTES, parse_delivery
from footfall_worker.till.record import record
from footfall_worker.till.signature import MIN_SECRET_BYTES, SignatureError, verify

log = logging.getLogger("footfall.till")

PATH = "/till/v1/transactions"
MAX_CONNECTIONS = 8
MAX_SECRET_BYTES = 1024
_STORE = re.compile(IDENTIFIER_PATTERN)


def store_secret(secrets: Path, store: str) -> bytes | None:
    """The store's secret from its file, or None (no such store, or a secret too short or too long to trust)."""
    if not _STORE.fullmatch(store):
        return None
    path = secrets / store
    try:
        if not path.is_file() or path.stat().st_size > MAX_SECRET_BYTES:
            return None
        secret = path.read_bytes().strip()
    except OSError:
        return None
    return secret if len(secret) >= MIN_SECRET_BYTES else None


class TillServer:
    def __init__(self, host: str, port: int, dsn: str, secrets: Path) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT_S

            def setup(self) -> None:
                super().setup()
                self.rfile = BoundedReader(self.rfile, MAX_REQUEST_BYTES + MAX_BODY_BYTES)  # type: ignore[assignment]

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path == "/healthz":
                    self._answer(200, {"ok": True})
                else:
                    self._answer(404, {"error": f"not found: POST {PATH}"})

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                code, answer = server.handle(self.path, self.headers, self._body)
                self._answer(code, answer)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def _answer(self, code: int, answer: dict[str, object]) -> None:
                body = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server API
                pass  # one structured line per delivery instead (handle)

        self._dsn = dsn
        self._secrets = secrets
        self._server = BoundedThreadingServer((host, port), Handler, MAX_CONNECTIONS)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def handle(self, path: str, headers: Message, read_body: Callable[[], bytes]) -> tuple[int, dict[str, object]]:
        """One POST: (status, JSON answer)."""
        get = headers.get
        if path != PATH:
            return 404, {"error": f"not found: POST {PATH}"}
        length = get("Content-Length")
        if length is None or not str(length).isdigit():
            return 411, {"error": "expected a Content-Length"}
        if int(length) > MAX_BODY_BYTES:
            return 413, {"error": f"a delivery is at most {MAX_BODY_BYTES} bytes"}
        body = read_body()
        store = str(get("X-Footfall-Store") or "")
        secret = store_secret(self._secrets, store)
        if secret is None:
            return 401, {"error": "signature refused"}  # an unknown store is not told apart from a bad signature
        try:
            verify(secret, get("X-Footfall-Timestamp"), get("X-Footfall-Signature"), body, time.time())
            delivery = parse_delivery(body)
        except SignatureError as error:
            return 401, {"error": f"signature refused: {error}"}
        except ValueError as error:
            return 422, {"error": str(error)[:2000]}
        if delivery.store != store:
            return 403, {"error": f"store {delivery.store!r} in the body is not the signing store {store!r}"}
        extra = {"store": store, "delivery": delivery.id, "hours": len(delivery.hours)}
        try:
            conn = psycopg2.connect(
                self._dsn, connect_timeout=5, application_name="footfall-till", options="-c statement_timeout=5000"
            )
            try:
                fresh = record(conn, delivery)
            finally:
                conn.close()
        except psycopg2.Error as error:
            log.warning("till delivery not recorded: %s", mask_credentials(str(error).strip()), extra=extra)
            return 503, {"error": "the database is not reachable: nothing was recorded, retry"}
        log.info("till delivery %s", "recorded" if fresh else "already recorded", extra=extra)
        return 200, ({"recorded": len(delivery.hours)} if fresh else {"duplicate": True, "recorded": 0})

    def serve(self) -> None:
        self._server.serve_forever()

    def start(self) -> "TillServer":
        threading.Thread(target=self.serve, name="till-webhook", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall till-webhook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server for the cluster's network
    parser.add_argument("--port", type=int, default=int(env("FOOTFALL_TILL_PORT") or 8090))
    parser.add_argument("--dsn", default=env("FOOTFALL_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--secrets", type=Path, default=Path(env("FOOTFALL_TILL_SECRETS") or "/etc/footfall/till"))
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.secrets.is_dir():
        print(
            f"footfall till-webhook: error: --secrets {args.secrets}: not a directory of store secrets", file=sys.stderr
        )
        return 2
    server = TillServer(args.host, args.port, args.dsn, args.secrets)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.stop, daemon=True).start())
    print(f"footfall till-webhook: listening on {args.host}:{server.port}{PATH}", flush=True)
    server.serve()
    return 0
