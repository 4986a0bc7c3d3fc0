"""A private, throwaway redis-server on a free loopback port, so tests can stop and restart it at will without
disturbing the shared Redis on 127.0.0.1:6379 that other tests use."""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from footfall_contract.redis_client import connect
from tests.support.paths import free_port

HOST = "127.0.0.1"


def _ping(port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """`redis-server` as a child process: no persistence, loopback only, same port across restarts.

    Args:
        port: the port; a free one when None.
        extra_args: more `redis-server` options, e.g. `["--stream-node-max-entries", "10"]`.
        start_timeout_s: how long `start` waits for the server to answer PING.

    Raises:
        RuntimeError: (on construction) when `redis-server` is not installed.
    """

    def __init__(self, port: int | None = None, extra_args: list[str] | None = None, start_timeout_s: float = 5.0):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server); these tests need it")
        self._binary = binary
        self.port = port if port is not None else free_port(HOST)
        self._extra_args = list(extra_args or [])
        self._start_timeout_s = start_timeout_s
        self._dir = Path(tempfile.mkdtemp(prefix=f"redis-{self.port}-"))
        self._log = self._dir / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, timeout_s: float = 0.25) -> redis.Redis:
        """A client of this server made by the worker's own `connect`."""
        return connect(HOST, self.port, timeout_s=timeout_s)

    def start(self) -> None:
        """Start the server (again, on the same port, empty) and wait until it answers PING.

        Raises:
            RuntimeError: when it exits early (e.g. the port was taken meanwhile) or does not answer in time.
        """
        if self.running:
            return
        command = [
            self._binary,
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self._dir),
            *self._extra_args,
        ]
        # a log file, not a pipe: nobody reads a pipe while the server runs, and a full one would block it
        with self._log.open("ab") as log_file:
            self._process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited at start:\n{self._log_tail()}")
            if _ping(self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {self._start_timeout_s} s")

    def stop(self) -> None:
        """Shut the server down without saving; the port stays reserved for `start`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        cli = shutil.which("redis-cli")
        if cli is not None:
            subprocess.run(
                [cli, "-h", HOST, "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=5
            )
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
