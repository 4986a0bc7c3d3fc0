"""`footfall run` end to end: the real manager process supervising fake workers that serve `/status`."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall_worker.cli import main
from tests.manager.processes import FAKE_WORKER, consecutive_free_ports, pid_alive, wait_for

CHANNELS = ("channel_a", "channel_b")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    config = {
        "store_id": "test_store",
        "store_name": "Test store",
        "source_defaults": {"host": "127.0.0.1"},  # never opened: the fake workers only serve /status
        "channels": [
            {"id": channel, "name": channel, "source": {"port": 8554 + i, "channel": i + 1}}
            for i, channel in enumerate(CHANNELS)
        ],
    }
    path = tmp_path / "store.json"
    path.write_text(json.dumps(config))
    return path


class Manager:
    """`footfall run` as its own process, with stdout and stderr in files the test reads as it goes."""

    def __init__(self, tmp_path: Path, store: Path, *args: str) -> None:
        self.out = tmp_path / "manager.out"
        self.err = tmp_path / "manager.err"
        self.base_port = consecutive_free_ports(len(CHANNELS))
        command = [
            sys.executable, "-m", "footfall_worker.cli", "run", "--cameras", str(store),
            "--base-port", str(self.base_port), "--worker-command", f"{sys.executable} {FAKE_WORKER}",
            "--table-interval", "0.2", "--stop-timeout", "10", *args,
        ]  # fmt: skip
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def stdout_lines(self) -> list[str]:
        return self.out.read_text().splitlines()

    def logs(self) -> list[dict]:
        return [json.loads(line) for line in self.err.read_text().splitlines() if line.startswith("{")]

    def worker_pids(self) -> dict[str, int]:
        return {entry["channel"]: entry["pid"] for entry in self.logs() if entry["msg"] == "worker started"}

    def streaming(self, channel: str) -> bool:
        return any(line.startswith(f"channel={channel} state=streaming") for line in self.stdout_lines())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in self.worker_pids().values():  # never leave a worker behind, whatever the test did
            if pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def manager_factory(tmp_path: Path, store: Path) -> Iterator:
    managers: list[Manager] = []

    def start(*args: str) -> Manager:
        managers.append(Manager(tmp_path, store, *args))
        return managers[-1]

    yield start
    for manager in managers:
        manager.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker_gracefully_and_the_manager_exits_0(
    manager_factory, stop_signal: signal.Signals
) -> None:
    manager = manager_factory()
    wait_for(lambda: all(manager.streaming(c) for c in CHANNELS), what="both workers to show as streaming")
    pids = manager.worker_pids()
    assert set(pids) == set(CHANNELS)
    line = next(line for line in manager.stdout_lines() if line.startswith("channel=channel_b state=streaming"))
    assert line == (
        "channel=channel_b state=streaming fps=25.0 fps_processed=12.5 p95_ms=41 people=2 tracks=3 in=4 out=3 "
        "reconnects=0 drops=7 skip=2 restarts=0"
    )
    manager.process.send_signal(stop_signal)
    assert manager.process.wait(30) == 0
    stopped = {e["channel"]: e["exit_code"] for e in manager.logs() if e["msg"] == "worker stopped"}
    assert stopped == {"channel_a": 0, "channel_b": 0}
    assert all(not pid_alive(pid) for pid in pids.values())
    # The workers' own lines came through the manager's stderr, each naming its channel.
    forwarded = {e["channel"] for e in manager.logs() if e["msg"] == "fake worker serving"}
    assert forwarded == set(CHANNELS)
    assert manager.stdout_lines()[-2:] == ["channel_a: exit 0, restarts 0", "channel_b: exit 0, restarts 0"]
    ports = {e["channel"]: e["port"] for e in manager.logs() if e["msg"] == "worker started"}
    assert ports == {"channel_a": manager.base_port, "channel_b": manager.base_port + 1}


def test_duration_channel_selection_worker_args_and_log_dir(manager_factory, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    # After `--`: passed to every worker. The fake worker then exits 3 when stopped, so the run failed.
    manager = manager_factory(
        "--channels", "channel_b", "--duration", "3", "--log-dir", str(logs), "--", "--term-exit", "3"
    )
    assert manager.process.wait(60) == 1  # stopped by itself when the duration was over
    assert set(manager.worker_pids()) == {"channel_b"}
    table = [line for line in manager.stdout_lines() if line.startswith("channel=")]
    assert table and all(line.startswith("channel=channel_b ") for line in table)
    assert manager.stdout_lines()[-1] == "channel_b: exit 3, restarts 0"
    stopping = next(e for e in manager.logs() if e["msg"] == "stopping")
    assert stopping["reason"] == "duration over" and stopping["store"] == "test_store"
    # The worker's output went to its log file, not to the manager's stderr.
    assert "fake worker serving" in (logs / "channel_b.log").read_text()
    assert not any(e["msg"].startswith("fake worker") for e in manager.logs())


def test_a_killed_manager_takes_its_workers_with_it(manager_factory) -> None:
    manager = manager_factory()
    wait_for(lambda: len(manager.worker_pids()) == len(CHANNELS), what="both workers to start")
    pids = manager.worker_pids()
    manager.process.kill()  # no handler runs: the kernel's parent-death signal is what stops the workers
    manager.process.wait(10)
    wait_for(lambda: not any(pid_alive(pid) for pid in pids.values()), what="the orphaned workers to die")


def test_an_unknown_channel_is_a_config_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--cameras", str(store), "--channels", "channel_a,channel_x"]) == 2
    assert "no channel 'channel_x'" in capsys.readouterr().err


def test_an_unusable_log_dir_is_a_config_error(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["run", "--cameras", str(store), "--log-dir", str(blocker / "logs")]) == 2
    assert "--log-dir" in capsys.readouterr().err
