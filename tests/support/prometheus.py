"""A real Prometheus (Debian's `prometheus` package, hack/install-prometheus.sh) for tests: it scrapes targets on
127.0.0.1 every second and evaluates rule files every second, its data in a folder of the test's.

with PrometheusServer(tmp_path, targets=["127.0.0.1:9100"], rule_files=[rules]) as prometheus:
    prometheus.wait_until(lambda: prometheus.firing("FootfallCameraDown"), timeout_s=60, what="the alert")
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from tests.support.kube import wait_until
from tests.support.paths import free_port


class PrometheusError(RuntimeError):
    pass


class PrometheusServer:
    def __init__(self, folder: Path, targets: list[str], rule_files: list[Path]) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusError("prometheus missing: run hack/install-prometheus.sh (make test does)")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.config = folder / "prometheus.yml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
                    "rule_files": [str(path) for path in rule_files],
                    "scrape_configs": [{"job_name": "footfall-worker", "static_configs": [{"targets": targets}]}],
                }
            )
        )
        self.log = folder / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_until(lambda: self._get("/-/ready") is not None, timeout_s=30, what="Prometheus ready")
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                return response.read()
        except (urllib.error.URLError, OSError):
            return None

    def api(self, path: str, **query: str) -> Any:
        body = self._get(f"/api/v1/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else ""))
        if body is None:
            raise PrometheusError(f"/api/v1/{path} did not answer\n{self.log_tail()}")
        return json.loads(body)["data"]

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """The alerts named `name` Prometheus holds now (state "pending" or "firing")."""
        return [alert for alert in self.api("alerts")["alerts"] if alert["labels"].get("alertname") == name]

    def firing(self, name: str) -> list[dict[str, Any]]:
        return [alert for alert in self.alerts(name) if alert["state"] == "firing"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def wait_until(self, check: Callable[[], Any], timeout_s: float, what: str) -> Any:
        """`tests.support.kube.wait_until`, failing at once if Prometheus exits, with its log on a timeout."""

        def probe() -> Any:
            if self._process is not None and self._process.poll() is not None:
                raise PrometheusError(f"Prometheus exited with {self._process.returncode}\n{self.log_tail()}")
            return check()

        try:
            return wait_until(what, probe, timeout_s, interval_s=0.5)
        except AssertionError as error:
            raise PrometheusError(f"{error}\n{self.log_tail()}") from error

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""
