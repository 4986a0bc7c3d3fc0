"""Run `footfall-worker` as a real process against the test's servers, and talk to its probes.

with WorkerProcess.for_store(store_json, "channel_1", env) as worker:
    worker.wait_until(lambda s: s["frames_processed"] > 10)
    code = worker.terminate()        # SIGTERM, as Kubernetes does
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.support.paths import REPO_ROOT, free_port


def worker_env(dsn: str, redis_url: str, triton_url: str, journal_dir: Path, **extra: str) -> dict[str, str]:
    """The worker's environment for tests: our servers, short timeouts so outages show within seconds."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FOOTFALL_") and key not in ("OPENCV_FFMPEG_CAPTURE_OPTIONS",)
    }
    env.update(
        FOOTFALL_DATABASE_URL=dsn,
        FOOTFALL_REDIS_URL=redis_url,
        FOOTFALL_TRITON_URL=triton_url,
        FOOTFALL_JOURNAL_DIR=str(journal_dir),
        FOOTFALL_READER_OPEN_TIMEOUT_S="2",
        FOOTFALL_READER_READ_TIMEOUT_S="2",
        FOOTFALL_READER_STALL_TIMEOUT_S="2",
        FOOTFALL_READER_BACKOFF_INITIAL_S="0.5",
        FOOTFALL_READER_BACKOFF_MAX_S="1",
        FOOTFALL_STORAGE_FLUSH_INTERVAL_S="0.2",
        FOOTFALL_SUMMARY_INTERVAL_S="2",
        FOOTFALL_READY_FRAME_AGE_S="2",
        FOOTFALL_SHUTDOWN_DEADLINE_S="15",
    )
    env.update(extra)
    return env


def write_store(path: Path, ports: dict[str, int], store_id: str = "test_store", timezone: str = "UTC") -> Path:
    """A store config whose channels are simulated cameras on 127.0.0.1 (no credentials)."""
    channels = [
        {"id": channel, "name": f"simulated {channel}", "source": {"port": port, "channel": i + 1}}
        for i, (channel, port) in enumerate(ports.items())
    ]
    document = {
        "store_id": store_id,
        "store_name": "Test store",
        "timezone": timezone,
        "source_defaults": {"host": "127.0.0.1"},
    }
    path.write_text(json.dumps({**document, "channels": channels}))
    return path


class WorkerProcess:
    """One `footfall-worker` process; stderr (its JSON log) goes to a file the test can read."""

    def __init__(self, args: list[str], env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.args = [sys.executable, "-m", "footfall_worker", *args, "--http-port", str(self.port)]
        self.env = env
        fd, name = tempfile.mkstemp(prefix="worker-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_store(cls, store: Path, channel: str, env: dict[str, str]) -> WorkerProcess:
        return cls(["--cameras", str(store), "--channel", channel], env)

    def start(self) -> Self:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.kill()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()
            self.process.wait(10)

    # -- probes ---------------------------------------------------------------------------------------------
    def get(self, path: str, timeout_s: float = 2.0) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or text); (0, None) while nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout_s) as response:
                code, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            code, body = error.code, error.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, None
        text = body.decode()
        return code, (json.loads(text) if text.startswith(("{", "[")) else text)

    def status(self) -> dict[str, Any] | None:
        code, document = self.get("/status")
        return document if code == 200 else None

    def wait_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0, what: str = "condition"
    ) -> dict[str, Any]:
        """Poll /status until `predicate` holds; fails with the last status and the log tail."""
        deadline = time.monotonic() + timeout_s
        status: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"worker exited ({self.process.returncode}) waiting for {what}\n{self.log_tail()}")  # type: ignore[union-attr]
            status = self.status()
            if status is not None and predicate(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last status {status}\n{self.log_tail()}")

    # -- log ------------------------------------------------------------------------------------------------
    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append({"msg": line, "not_json": True})
        return records

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
