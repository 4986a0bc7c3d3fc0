"""One process per journal directory: an exclusive `flock` held for the worker's whole life.

Two processes on one journal would interleave segments and replay each other's batches; two pods of one channel
(a deleted pod's replacement starts while the old one still flushes) would also both read the camera. The lock
is taken before anything else starts, so the second one waits for the first to finish, and gives up with a
clear error naming the holder if it never does. The kernel drops the lock when its holder dies (SIGKILL, OOM),
so a crashed worker never blocks its successor. The journal's volume is ReadWriteOnce: a second pod can only share
it on the same node, where `flock` works.
"""

import fcntl
import logging
import os
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger("footfall.storage")

LOCK_FILE = ".lock"


class JournalLocked(Exception):
    """Another process held the journal directory for longer than we would wait."""


def journal_directory(journal_dir: str | Path, channel_id: str) -> Path:
    """A channel's journal directory under the worker's `journal_dir` setting."""
    return Path(journal_dir).expanduser() / channel_id


class JournalLock:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._path = directory / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never blocks."""
        if self._fd is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # who holds it, for the error a waiting process shows (the pod name is the hostname)
        os.ftruncate(fd, 0)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self._path.read_text(errors="replace").strip()[:200] or "unknown"
        except OSError:
            return "unknown"

    def acquire(self, wait_s: float, stop: threading.Event | None = None, channel_id: str = "-") -> None:
        """Wait up to `wait_s` for the lock (polling once a second; `stop` ends the wait early).

        Raises:
            JournalLocked: still held after `wait_s` (or `stop` was set), naming the holder.
        """
        stop = stop or threading.Event()
        deadline = time.monotonic() + wait_s
        announced = False
        while not self.try_acquire():
            if not announced:
                log.warning(
                    f"journal {self.directory} is locked by {self.holder()}; waiting up to {wait_s:.0f} s for it to "
                    "finish (a replaced pod flushing its rows)",
                    extra={"channel": channel_id},
                )
                announced = True
            if stop.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                raise JournalLocked(f"stopped while waiting for the journal {self.directory} ({self.holder()})")
            if time.monotonic() >= deadline:
                raise JournalLocked(
                    f"journal {self.directory} is locked by {self.holder()}: another worker of this channel is "
                    f"running (waited {wait_s:.0f} s); one channel has one worker"
                )
        if announced:
            log.info(f"journal {self.directory} lock acquired", extra={"channel": channel_id})

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
