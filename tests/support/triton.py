"""A private Triton server for a test session, started through hack/triton.sh on free loopback ports."""

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import REPO_ROOT, free_port


@dataclass
class TritonInstance:
    """One tritonserver process serving `models/`; `extra_args` go to the server (e.g. explicit model control)."""

    name: str
    run_dir: Path
    extra_args: str = ""
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def _script(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "FOOTFALL_TRITON_NAME": self.name,
            "FOOTFALL_RUN_DIR": str(self.run_dir),
            "FOOTFALL_TRITON_GRPC_PORT": str(self.grpc_port),
            "FOOTFALL_TRITON_HTTP_PORT": str(self.http_port),
            "FOOTFALL_TRITON_METRICS_PORT": str(self.metrics_port),
            "FOOTFALL_TRITON_ARGS": self.extra_args,
        }
        return subprocess.run(
            [str(REPO_ROOT / "hack" / "triton.sh"), command], env=env, capture_output=True, text=True, timeout=300
        )

    def start(self) -> None:
        done = self._script("start")
        if done.returncode != 0:
            # Fail loudly: a test that needs Triton must never skip itself.
            raise RuntimeError(f"Triton {self.name} did not start:\n{done.stderr[-4000:]}")

    def stop(self) -> None:
        self._script("stop")
