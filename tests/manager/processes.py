"""Helpers for the manager tests: child programs, waiting on conditions, telling whether a pid is gone."""

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from footfall_worker.manager.supervisor import Supervisor

FAKE_WORKER = Path(__file__).with_name("fake_worker.py")

# Child programs (python -c). Each writes what the test needs to know into files named on its command line.
GRACEFUL = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
open(sys.argv[1], "w").write("ready")
while True:
    time.sleep(0.05)
"""
IGNORES_SIGTERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write("ready")
while True:
    time.sleep(0.05)
"""
# Appends its start time (CLOCK_MONOTONIC is system-wide on Linux, so comparable across processes) and exits.
EXITS_AT_ONCE = """
import sys, time
with open(sys.argv[1], "a") as f:
    f.write(f"{time.monotonic()}\\n")
sys.exit(int(sys.argv[2]))
"""
# Starts a grandchild (in the worker's process group, as any child is) and records its pid; then behaves
# like GRACEFUL (argv[3] == "stay") or exits at once with code 5, leaving the grandchild behind.
LEAVES_A_GRANDCHILD = """
import signal, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(grandchild.pid))
if sys.argv[2] != "stay":
    sys.exit(5)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
open(sys.argv[3], "w").write("ready")
while True:
    time.sleep(0.05)
"""


def python_command(program: str, *args: object) -> list[str]:
    return [sys.executable, "-c", program, *map(str, args)]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; fail the test after `timeout` (generous: a loaded CI machine is slow)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def supervise_until(supervisor: Supervisor, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Drive the supervisor (as the manager's loop does) until `condition` holds."""

    def step() -> bool:
        supervisor.check()
        return condition()

    wait_for(step, timeout, "the supervised workers")


def pid_alive(pid: int) -> bool:
    """True while `pid` is a running process; a zombie (dead, not yet reaped by whoever adopted it) is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def consecutive_free_ports(count: int) -> int:
    """A first port such that it and the next `count - 1` are free on 127.0.0.1 right now."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no run of free ports found")
