"""Supervise one worker process per channel: start, restart with backoff, stop gracefully, leave no orphans.

Everything here runs on the caller's thread: `Supervisor.check()` is called from the manager's loop and never
blocks (exits are noticed with a non-blocking wait, restarts are due times, not sleeps), so there is no
supervision thread that could freeze. Each worker runs in its own process group, which keeps a terminal's
Ctrl+C for the manager alone (it then stops the workers in order) and lets one signal reach everything a
worker started.
"""

import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Self

from footfall_worker.manager.worker_process import (
    RestartPolicy,
    WorkerInfo,
    WorkerProcess,
    WorkerSpec,
    describe_code,
)

log = logging.getLogger("footfall.manager")

DEFAULT_PROGRAM: tuple[str, ...] = (sys.executable, "-m", "footfall_worker")
_POLL_S = 0.05
# After SIGKILL only an unkillable process (stuck in the kernel) can take longer; do not wait for it forever.
_KILL_WAIT_S = 5.0


def worker_command(
    cameras: Path | str,
    channel: str,
    port: int,
    extra_args: Sequence[str] = (),
    program: Sequence[str] = DEFAULT_PROGRAM,
) -> list[str]:
    """The command line of one channel's worker.

    Args:
        cameras: the store config JSON.
        channel: the channel id the worker reads.
        port: where the worker serves `/status` (and its probes).
        extra_args: appended as given (e.g. `--every 2`).
        program: the worker program; tests run a fake worker through it.
    """
    return [*program, "--cameras", str(cameras), "--channel", channel, "--http-port", str(port), *extra_args]


class Supervisor:
    """Runs one `WorkerProcess` per spec; restarts any that exits while running; stops them all in order.

    Drive it from one long-lived thread: `start()`, then `check()` every fraction of a second, then `stop()`.
    Also a context manager (`with Supervisor(...) as s:`) that always stops, so no worker outlives it.

    Args:
        specs: one per channel; channel ids must be unique.
        policy: restart schedule.
        die_with_manager: have the kernel kill the workers if this process dies without stopping them.
        output: the text stream that forwarded worker output goes to; default: the current `sys.stderr`.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        specs: Sequence[WorkerSpec],
        policy: RestartPolicy | None = None,
        die_with_manager: bool = False,
        output: Callable[[], IO[str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        channels = [spec.channel for spec in specs]
        if len(set(channels)) != len(channels):
            raise ValueError(f"channel ids must be unique, got {channels}")
        sink = output or (lambda: sys.stderr)
        policy = policy or RestartPolicy()
        self.workers: dict[str, WorkerProcess] = {
            spec.channel: WorkerProcess(spec, policy, sink, die_with_manager, clock) for spec in specs
        }
        self._clock = clock
        self._stopping = False
        self._codes: dict[str, int | None] | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> Self:
        for worker in self.workers.values():
            worker.start()
        return self

    def check(self) -> None:
        """Restart what exited and is due; call often (every 0.1-0.5 s). Does nothing once stopping."""
        if self._stopping:
            return
        for worker in self.workers.values():
            worker.check()

    def snapshot(self) -> list[WorkerInfo]:
        return [worker.info() for worker in self.workers.values()]

    def stop(self, deadline_s: float = 25.0, should_abort: Callable[[], bool] = lambda: False) -> dict[str, int | None]:
        """Stop every worker: SIGTERM, up to `deadline_s` to exit, then SIGKILL for the stragglers.

        Args:
            deadline_s: how long workers get to finish (flush their records) after SIGTERM.
            should_abort: polled while waiting; True kills the rest at once (a second Ctrl+C).

        Returns:
            Each channel's exit code: the code of its last exit (negative: killed by that signal),
            `SPAWN_FAILED_CODE` when it could not be started, None when it could not be reaped (stuck in the kernel).
            A second call returns the same.
        """
        if self._codes is not None:
            return dict(self._codes)
        self._stopping = True
        workers = list(self.workers.values())
        for worker in workers:
            worker.cancel_restart()
            worker.terminate()
        running = [w for w in workers if w.running]
        if running:
            log.info("stopping workers", extra={"workers": len(running), "deadline_s": deadline_s})
        end = self._clock() + deadline_s
        while running and self._clock() < end and not should_abort():
            time.sleep(_POLL_S)
            running = [w for w in running if w.collect_exit() is None]
        for worker in running:
            log.warning("worker did not stop in time; killing it", extra={"channel": worker.channel, "pid": worker.pid})
            worker.kill()
        end = self._clock() + _KILL_WAIT_S
        while running and self._clock() < end:
            time.sleep(_POLL_S)
            running = [w for w in running if w.collect_exit() is None]
        codes: dict[str, int | None] = {}
        for worker in workers:
            worker.join_output(timeout=1.0)
            if worker.running:
                codes[worker.channel] = None
                log.error("worker could not be reaped", extra={"channel": worker.channel, "pid": worker.pid})
                continue
            code = worker.exit_code
            codes[worker.channel] = code
            log.info(
                "worker stopped",
                extra={
                    "channel": worker.channel,
                    "exit_code": code,
                    "exit": describe_code(code) if code is not None else "never started",
                    "restarts": worker.restarts,
                },
            )
        self._codes = codes
        return dict(codes)
