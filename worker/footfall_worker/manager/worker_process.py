"""One channel's worker process: started in its own process group, watched without blocking, restarted on the
shared Backoff, signalled as a group, reaped. `Supervisor` (supervisor.py) runs one per channel."""

import ctypes
import enum
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from footfall_worker.manager.log_forward import LineForwarder
from footfall_worker.retry import Backoff

log = logging.getLogger("footfall.manager")

# What a shell reports for a command it cannot run; the exit code of a worker whose last start failed.
SPAWN_FAILED_CODE = 127
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart a worker that exited: exponential backoff, reset by a stable run.

    Args:
        initial_s: delay before the first restart (1 s: a crash loop costs little, a one-off blip recovers fast).
        factor: growth per consecutive restart (1, 2, 4, ... s).
        max_s: cap of the delay (30 s).
        stable_after_s: a worker that ran this long before exiting starts the schedule over (60 s).
    """

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    stable_after_s: float = 60.0

    def backoff(self) -> Backoff:
        # No jitter: the channels of one store do not share a failure that makes them retry in lockstep
        # against one server, and exact delays keep the schedule predictable in logs and tests.
        return Backoff(initial=self.initial_s, factor=self.factor, maximum=self.max_s, jitter=0.0)


@dataclass(frozen=True)
class WorkerSpec:
    """How to run one channel's worker.

    Args:
        channel: the channel id; on every log line about this worker.
        port: the worker's HTTP port (`/status`).
        command: the full command line (see `worker_command`).
        env: variables added to the manager's environment for this worker.
        log_file: append the worker's output to this file instead of forwarding it to the manager's stderr.
    """

    channel: str
    port: int
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    log_file: Path | None = None


class WorkerState(enum.StrEnum):
    RUNNING = "running"
    BACKOFF = "backoff"  # exited; restarts when its delay is over
    STOPPED = "stopped"


@dataclass(frozen=True)
class WorkerExit:
    """One exit of a worker: its code (negative: killed by that signal), how long it ran, the delay before the
    restart that followed (None when the manager was stopping)."""

    code: int
    ran_s: float
    restart_delay_s: float | None


@dataclass(frozen=True)
class WorkerInfo:
    """What the supervisor knows about a worker, for the status table."""

    channel: str
    port: int
    state: WorkerState
    pid: int | None
    restarts: int
    last_exit_code: int | None
    uptime_s: float | None
    started_seq: int  # increases with every start, so a poller can tell a fresh process from an old one


def describe_code(code: int) -> str:
    """`0`, `3`, or `SIGKILL` for a process killed by a signal."""
    if code >= 0:
        return str(code)
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _die_with_manager_hook() -> Callable[[], None] | None:
    """A pre-exec hook making the kernel SIGKILL the worker when the manager dies without stopping it.

    This covers what no handler can: the manager killed with SIGKILL or crashing. The kernel ties it to the
    thread that forked, so workers must be started from a thread that lives as long as the manager.
    Linux only; None elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved here, in the manager: the child between fork and exec should do as little as possible.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    kill = int(signal.SIGKILL)
    manager = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != manager:  # the manager died before the hook ran: nobody would signal us
            os._exit(1)

    return hook


class WorkerProcess:
    """One channel's worker across its restarts.

    Args:
        spec: how to run it.
        policy: when to restart it.
        output: the manager's text stream that forwarded output goes to (looked up per line).
        die_with_manager: see `_die_with_manager_hook`.
        clock: monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        spec: WorkerSpec,
        policy: RestartPolicy,
        output: Callable[[], IO[str]],
        die_with_manager: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.policy = policy
        self.restarts = 0
        self.exits: list[WorkerExit] = []
        self._output = output
        self._pre_exec = _die_with_manager_hook() if die_with_manager else None
        self._clock = clock
        self._backoff = policy.backoff()
        self._popen: subprocess.Popen[bytes] | None = None
        self._forwarders: list[LineForwarder] = []
        self._started_at = 0.0
        self._started_seq = 0
        self._restart_at: float | None = None
        self._spawn_failed = False

    @property
    def channel(self) -> str:
        return self.spec.channel

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None

    @property
    def exit_code(self) -> int | None:
        """The last exit code; `SPAWN_FAILED_CODE` when the last start failed; None while it never exited."""
        if self._spawn_failed:
            return SPAWN_FAILED_CODE
        return self.exits[-1].code if self.exits else None

    def info(self) -> WorkerInfo:
        if self._popen is not None:
            state, uptime = WorkerState.RUNNING, self._clock() - self._started_at
        else:
            state, uptime = (WorkerState.BACKOFF if self._restart_at is not None else WorkerState.STOPPED), None
        return WorkerInfo(
            self.channel, self.spec.port, state, self.pid, self.restarts, self.exit_code, uptime, self._started_seq
        )

    def start(self) -> None:
        """Start the worker; a start that fails is retried on the backoff schedule like an exit."""
        try:
            output = self._open_output()
            try:
                self._popen = subprocess.Popen(
                    list(self.spec.command),
                    env={**os.environ, **self.spec.env},
                    stdin=subprocess.DEVNULL,  # in its own group, a worker reading the terminal would be stopped
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    process_group=0,
                    preexec_fn=self._pre_exec,
                )
            finally:
                if not isinstance(output, int):
                    output.close()  # the worker holds its own descriptor of the file
        except OSError as error:
            self._spawn_failed = True
            self._schedule_restart(ran_s=0.0)
            log.error(
                "worker could not be started",
                extra={"channel": self.channel, "error": str(error), "restart_in_s": self._delay_left()},
            )
            return
        self._spawn_failed = False
        self._started_at = self._clock()
        self._started_seq += 1
        self._restart_at = None
        if self._popen.stdout is not None:
            self._forwarders.append(LineForwarder(self._popen.stdout, self.channel, self._output).start())
        log.info(
            "worker started",
            extra={
                "channel": self.channel,
                "pid": self._popen.pid,
                "port": self.spec.port,
                "restarts": self.restarts,
            },
        )

    def _open_output(self) -> IO[bytes] | int:
        if self.spec.log_file is None:
            return subprocess.PIPE
        self.spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        return self.spec.log_file.open("ab")

    def check(self) -> None:
        """Notice an exit and schedule the restart, or restart when the delay is over. Never blocks."""
        if self._popen is not None:
            code = self.collect_exit()
            if code is not None:
                ran_s = self.exits[-1].ran_s
                self.exits[-1] = WorkerExit(code, ran_s, self._schedule_restart(ran_s))
                log.warning(
                    "worker exited; restarting after a delay",
                    extra={
                        "channel": self.channel,
                        "exit_code": code,
                        "exit": describe_code(code),
                        "ran_s": round(ran_s, 3),
                        "restart_in_s": self._delay_left(),
                        "restarts": self.restarts,
                    },
                )
        elif self._restart_at is not None and self._clock() >= self._restart_at:
            self.restarts += 1
            log.info("restarting worker", extra={"channel": self.channel, "restarts": self.restarts})
            self.start()

    def collect_exit(self) -> int | None:
        """If the worker has exited: clear out its process group, reap it, record the exit; else None."""
        if self._popen is None or not self._has_exited(self._popen.pid):
            return None
        # The exited worker is a zombie until reaped, so its pid (= its group id) cannot have been reused yet:
        # killing the group now reaches only what the worker left behind, never an unrelated process.
        self._signal_group(signal.SIGKILL)
        code = self._popen.wait()
        ran_s = self._clock() - self._started_at
        self.exits.append(WorkerExit(code, ran_s, None))
        self._popen = None
        return code

    def terminate(self) -> None:
        """Ask the worker to stop (SIGTERM to the worker itself, which stops what it started)."""
        if self._popen is not None:
            self._send(self._popen.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the worker and everything in its process group."""
        self._signal_group(signal.SIGKILL)

    def cancel_restart(self) -> None:
        self._restart_at = None

    def join_output(self, timeout: float) -> None:
        """Wait up to `timeout` seconds in all for the forwarded output to be drained."""
        end = self._clock() + timeout
        for forwarder in self._forwarders:
            forwarder.join(max(0.0, end - self._clock()))
        self._forwarders = [f for f in self._forwarders if not f.join(0)]

    def _schedule_restart(self, ran_s: float) -> float:
        """Set the restart time on the backoff schedule; returns the delay."""
        if ran_s >= self.policy.stable_after_s:
            self._backoff.reset()
        delay = self._backoff.next_delay()
        self._restart_at = self._clock() + delay
        return delay

    def _delay_left(self) -> float | None:
        if self._restart_at is None:
            return None
        return round(max(0.0, self._restart_at - self._clock()), 3)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._popen is not None:
            try:
                os.killpg(self._popen.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass  # the group is already empty

    @staticmethod
    def _send(pid: int, sig: signal.Signals) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def _has_exited(pid: int) -> bool:
        # WNOWAIT: look without reaping, so the pid stays reserved until the group has been cleared out.
        try:
            return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True
