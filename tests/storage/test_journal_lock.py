"""The journal lock between real processes: one holder, a waiter that gets it when the holder dies, a clear error."""

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from footfall_worker.storage.journal_lock import JournalLock, JournalLocked, journal_directory

HOLD = """
import sys, time
from pathlib import Path
from footfall_worker.storage.journal_lock import JournalLock
lock = JournalLock(Path(sys.argv[1]))
assert lock.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


def _holder(directory: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_waits_then_fails_naming_the_holder(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    try:
        lock = JournalLock(tmp_path)
        assert not lock.try_acquire()
        started = time.monotonic()
        with pytest.raises(JournalLocked, match=rf"locked by pid {holder.pid} on "):
            lock.acquire(wait_s=1.5)
        assert time.monotonic() - started >= 1.4  # it waited, it did not give up at once
        assert not lock.held
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_passes_to_the_waiter_when_the_holder_is_killed(tmp_path: Path) -> None:
    """SIGKILL (the kubelet after the grace period, the OOM killer): the kernel drops the flock."""
    holder = _holder(tmp_path)
    lock = JournalLock(tmp_path)
    threading.Timer(1.0, lambda: holder.send_signal(signal.SIGKILL)).start()
    started = time.monotonic()
    lock.acquire(wait_s=20)
    holder.wait()
    assert lock.held and time.monotonic() - started < 10
    assert "pid" in lock.holder() and str(holder.pid) not in lock.holder()  # it names us now
    lock.release()
    again = JournalLock(tmp_path)
    assert again.try_acquire()  # released: the next one gets it at once
    again.release()


def test_a_stop_ends_the_wait(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    try:
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        with pytest.raises(JournalLocked, match="stopped while waiting"):
            JournalLock(tmp_path).acquire(wait_s=60, stop=stop)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_one_directory_per_channel(tmp_path: Path) -> None:
    assert journal_directory(tmp_path, "channel_1") == tmp_path / "channel_1"
    first, second = JournalLock(journal_directory(tmp_path, "a")), JournalLock(journal_directory(tmp_path, "b"))
    assert first.try_acquire() and second.try_acquire()  # channels never wait for each other
    first.release()
    second.release()
