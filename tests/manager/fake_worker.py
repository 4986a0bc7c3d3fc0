"""A stand-in for the channel worker: serves a `/status` document on --http-port until SIGTERM, then exits.

python tests/manager/fake_worker.py --cameras store.json --channel channel_1 --http-port 9100 [--term-exit 0]
"""

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def status_document(channel: str, started: float) -> dict[str, object]:
    return {
        "channel": channel,
        "state": "streaming",
        "fps_read": 25.0,
        "fps_processed": 12.5,
        "latency_p95_ms": 41.0,
        "people_now": 2,
        "active_tracks": 3,
        "reconnects": 0,
        "frames_dropped": 7,
        "skip_every": 2,
        "entries": 4,
        "exits": 3,
        "frames_processed": 100,
        "live": True,
        "ready": True,
        "uptime_s": time.monotonic() - started,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--term-exit", type=int, default=0, help="exit code after SIGTERM")
    args = parser.parse_args()
    started = time.monotonic()
    terms: list[int] = []
    # The handler only records the signal; the loop below does the stopping, outside signal context.
    signal.signal(signal.SIGTERM, lambda signum, _frame: terms.append(signum))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(status_document(args.channel, started)).encode()
            self.send_response(200 if self.path == "/status" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.http_port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(json.dumps({"level": "info", "msg": "fake worker serving", "port": args.http_port}), file=sys.stderr)
    while not terms:
        time.sleep(0.05)
    server.shutdown()
    print(json.dumps({"level": "info", "msg": "fake worker stopped", "channel": args.channel}), file=sys.stderr)
    return args.term_exit


if __name__ == "__main__":
    sys.exit(main())
