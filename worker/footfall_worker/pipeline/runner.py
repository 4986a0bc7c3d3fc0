"""Run a `ChannelWorker` in the foreground until SIGTERM/SIGINT, the end of its file, or a duration."""

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from footfall_worker.pipeline.channel_worker import ChannelWorker, RunSummary
from footfall_worker.storage.journal_lock import JournalLock, journal_directory

log = logging.getLogger("footfall.worker")

EXIT_OK = 0
EXIT_FAILED = 1  # a thread crashed, or shutdown overran its deadline


@contextmanager
def stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (Kubernetes) and SIGINT (Ctrl+C) set `stop` instead of raising; the previous handlers return after."""
    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in handled}

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    for sig in handled:
        signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_until_stopped(worker: ChannelWorker, duration_s: float = 0.0) -> RunSummary:
    """Start `worker`, wait for a stop signal, the end of processing or `duration_s` (0 = none), stop it.

    A worker with a record first takes its channel's journal lock (journal_lock.py): nothing, the camera included,
    starts while another worker of the channel still runs.

    Raises:
        JournalLocked: the journal stayed locked by another process (or a stop came while waiting for it).
    """
    stop = threading.Event()
    settings = worker.settings.worker
    lock = JournalLock(journal_directory(settings.journal_dir, worker.channel_id)) if worker.writer else None
    with stop_signals(stop):
        if lock is not None:
            lock.acquire(settings.journal_lock_wait_s, stop, worker.channel_id)
        deadline = time.monotonic() + duration_s if duration_s > 0 else float("inf")
        try:
            worker.start()
            while not stop.is_set() and not worker.processing_ended and time.monotonic() < deadline:
                stop.wait(min(0.25, max(0.0, deadline - time.monotonic())))
            reason = "signal" if stop.is_set() else ("duration" if not worker.processing_ended else "")
            return worker.stop(reason or "stopped")
        finally:
            if lock is not None:
                lock.release()


def exit_code(summary: RunSummary) -> int:
    return EXIT_OK if summary.clean else EXIT_FAILED
