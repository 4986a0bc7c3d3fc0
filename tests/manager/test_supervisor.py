"""The supervisor with real child processes: restarts on the backoff schedule, graceful stop, no orphans."""

import io
import json
import os
import signal
import time
from pathlib import Path

import pytest

from footfall_worker.manager.log_forward import as_channel_line
from footfall_worker.manager.supervisor import Supervisor, worker_command
from footfall_worker.manager.worker_process import (
    SPAWN_FAILED_CODE,
    RestartPolicy,
    WorkerSpec,
    WorkerState,
    describe_code,
)
from tests.manager.processes import (
    EXITS_AT_ONCE,
    GRACEFUL,
    IGNORES_SIGTERM,
    LEAVES_A_GRANDCHILD,
    pid_alive,
    python_command,
    supervise_until,
    wait_for,
)

# Short delays so restarts happen within a test; the schedule's shape is what is under test.
FAST = RestartPolicy(initial_s=0.05, factor=2.0, max_s=0.2, stable_after_s=60.0)


def spec(channel: str, command: list[str], **kwargs: object) -> WorkerSpec:
    return WorkerSpec(channel=channel, port=0, command=command, **kwargs)  # type: ignore[arg-type]


def test_worker_command_is_the_module_with_the_channel_flags() -> None:
    command = worker_command("store.json", "channel_2", 9101, ["--every", "2"], program=["prog"])
    assert command == [
        "prog",
        "--cameras",
        "store.json",
        "--channel",
        "channel_2",
        "--http-port",
        "9101",
        "--every",
        "2",
    ]
    assert worker_command("s.json", "c", 1)[1:3] == ["-m", "footfall_worker"]


def test_an_exiting_worker_is_restarted_on_the_backoff_schedule(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    with Supervisor([spec("channel_1", python_command(EXITS_AT_ONCE, starts, 3))], FAST) as supervisor:
        worker = supervisor.workers["channel_1"]
        supervise_until(supervisor, lambda: worker.restarts >= 4)
        exits = list(worker.exits[:4])
    assert [e.code for e in exits] == [3, 3, 3, 3]
    assert [e.restart_delay_s for e in exits] == [0.05, 0.1, 0.2, 0.2]  # doubling, capped
    times = [float(line) for line in starts.read_text().split()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # Each restart came no earlier than its delay after the previous start (the run time adds to it).
    assert all(gap >= exit.restart_delay_s - 0.005 for gap, exit in zip(gaps, exits, strict=False)), (gaps, exits)


def test_a_stable_run_resets_the_backoff_and_a_clean_exit_is_restarted_too(tmp_path: Path) -> None:
    policy = RestartPolicy(initial_s=0.05, factor=2.0, max_s=1.0, stable_after_s=0.2)
    program = "import time; time.sleep(0.3)"  # runs longer than stable_after_s, then exits 0
    with Supervisor([spec("channel_1", python_command(program))], policy) as supervisor:
        worker = supervisor.workers["channel_1"]
        supervise_until(supervisor, lambda: worker.restarts >= 3)
        exits = list(worker.exits[:3])
    assert [e.code for e in exits] == [0, 0, 0]
    assert [e.restart_delay_s for e in exits] == [0.05, 0.05, 0.05]


def test_a_worker_killed_with_sigkill_is_restarted_and_counted(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    with Supervisor([spec("channel_1", python_command(GRACEFUL, ready))], FAST) as supervisor:
        worker = supervisor.workers["channel_1"]
        wait_for(ready.exists, what="the worker to start")
        first_pid = worker.pid
        assert first_pid is not None
        ready.unlink()
        os.kill(first_pid, signal.SIGKILL)
        supervise_until(supervisor, lambda: worker.restarts == 1 and worker.running)
        assert worker.pid != first_pid
        assert worker.exits[0].code == -signal.SIGKILL and describe_code(worker.exits[0].code) == "SIGKILL"
        info = supervisor.snapshot()[0]
        assert (info.state, info.restarts, info.last_exit_code) == (WorkerState.RUNNING, 1, -9)
        wait_for(ready.exists, what="the restarted worker to start")
        codes = supervisor.stop(deadline_s=10)
    assert codes == {"channel_1": 0}  # the restarted worker stopped cleanly on SIGTERM
    assert not pid_alive(first_pid)


def test_stop_terminates_then_kills_a_worker_that_ignores_sigterm(tmp_path: Path) -> None:
    specs = [
        spec("polite", python_command(GRACEFUL, tmp_path / "polite")),
        spec("stubborn", python_command(IGNORES_SIGTERM, tmp_path / "stubborn")),
    ]
    supervisor = Supervisor(specs, FAST).start()
    wait_for(lambda: (tmp_path / "polite").exists() and (tmp_path / "stubborn").exists(), what="both workers")
    pids = [w.pid for w in supervisor.workers.values()]
    began = time.monotonic()
    codes = supervisor.stop(deadline_s=0.5)
    assert time.monotonic() - began >= 0.5  # the stubborn one was given its full deadline first
    assert codes == {"polite": 0, "stubborn": -signal.SIGKILL}
    assert not any(pid_alive(pid) for pid in pids if pid is not None)
    assert all(info.state is WorkerState.STOPPED for info in supervisor.snapshot())
    supervisor.check()  # stopped: nothing is restarted
    assert not any(w.running for w in supervisor.workers.values())
    assert supervisor.stop() == codes  # idempotent: a `with` block's exit after an explicit stop


def test_abort_kills_at_once_without_waiting_out_the_deadline(tmp_path: Path) -> None:
    supervisor = Supervisor([spec("stubborn", python_command(IGNORES_SIGTERM, tmp_path / "ready"))], FAST).start()
    wait_for((tmp_path / "ready").exists, what="the worker")
    pid = supervisor.workers["stubborn"].pid
    assert pid is not None
    codes = supervisor.stop(deadline_s=600, should_abort=lambda: True)  # would hang the test if not honoured
    assert codes == {"stubborn": -signal.SIGKILL} and not pid_alive(pid)


@pytest.mark.parametrize("mode", ["stay", "crash"])
def test_no_orphan_is_left_when_a_worker_stops_or_crashes(tmp_path: Path, mode: str) -> None:
    grandchild_file = tmp_path / "grandchild"
    command = python_command(LEAVES_A_GRANDCHILD, grandchild_file, mode, tmp_path / "ready")
    supervisor = Supervisor([spec("channel_1", command)], FAST).start()
    worker = supervisor.workers["channel_1"]
    wait_for(lambda: grandchild_file.exists() and grandchild_file.read_text() != "", what="the grandchild")
    grandchild = int(grandchild_file.read_text())
    worker_pid = worker.pid
    assert worker_pid is not None
    if mode == "crash":  # the worker exits and leaves its grandchild: cleared out when the exit is noticed
        supervise_until(supervisor, lambda: bool(worker.exits))
        assert worker.exits[0].code == 5
        wait_for(lambda: not pid_alive(grandchild), what="the crashed worker's grandchild to be gone")
        codes = supervisor.stop(deadline_s=10)
    else:  # the worker exits cleanly on SIGTERM but forgets its grandchild
        wait_for((tmp_path / "ready").exists, what="the worker")
        codes = supervisor.stop(deadline_s=10)
        assert codes == {"channel_1": 0}
    assert codes["channel_1"] is not None
    assert not pid_alive(worker_pid)
    # SIGKILL takes effect when the kernel next schedules the process: gone within moments, not this instant.
    wait_for(lambda: not pid_alive(grandchild), what="the grandchild to be gone")


def test_a_worker_that_cannot_be_started_is_retried_and_reported(tmp_path: Path) -> None:
    supervisor = Supervisor([spec("channel_1", [str(tmp_path / "no-such-program")])], FAST).start()
    worker = supervisor.workers["channel_1"]
    assert supervisor.snapshot()[0].state is WorkerState.BACKOFF
    supervise_until(supervisor, lambda: worker.restarts >= 2)
    assert supervisor.stop(deadline_s=1) == {"channel_1": SPAWN_FAILED_CODE}


def test_worker_output_is_forwarded_as_json_lines_with_the_channel(tmp_path: Path) -> None:
    program = (
        "import json, sys; print('plain text from a library', file=sys.stderr); "
        "print(json.dumps({'level': 'info', 'msg': 'hello'}), file=sys.stderr); print('on stdout')"
    )
    sink = io.StringIO()
    supervisor = Supervisor([spec("channel_7", python_command(program))], FAST, output=lambda: sink).start()
    supervise_until(supervisor, lambda: bool(supervisor.workers["channel_7"].exits))
    supervisor.stop(deadline_s=1)
    lines = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert {line["channel"] for line in lines} == {"channel_7"}
    assert [line["msg"] for line in lines] == ["plain text from a library", "hello", "on stdout"]


def test_worker_output_goes_to_its_log_file_when_one_is_given(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "channel_1.log"
    sink = io.StringIO()
    command = python_command("import sys; print('to the file', file=sys.stderr)")
    supervisor = Supervisor([spec("channel_1", command, log_file=log_file)], FAST, output=lambda: sink).start()
    supervise_until(supervisor, lambda: len(supervisor.workers["channel_1"].exits) >= 2)  # appended, not replaced
    supervisor.stop(deadline_s=1)
    assert log_file.read_text().count("to the file\n") >= 2
    assert sink.getvalue() == ""


def test_channel_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([spec("a", ["true"]), spec("a", ["true"])])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"msg": "x", "channel": "c1"}\n', {"msg": "x", "channel": "c1"}),
        (b'{"msg": "x"}\n', {"msg": "x", "channel": "c1"}),
        (b"Traceback (most recent call last):\n", {"msg": "Traceback (most recent call last):", "channel": "c1"}),
        (b"[1, 2]\n", {"msg": "[1, 2]", "channel": "c1"}),
    ],
)
def test_output_lines_become_json_with_the_channel(raw: bytes, expected: dict[str, str]) -> None:
    line = as_channel_line(raw, "c1")
    assert line.endswith("\n") and line.count("\n") == 1
    entry = json.loads(line)
    assert {key: entry[key] for key in expected} == expected


class _ClosedStream(io.StringIO):
    def write(self, _text: str) -> int:
        raise OSError("closed")


def test_a_worker_never_blocks_on_its_output_when_the_managers_stderr_is_gone() -> None:
    program = "import sys; [print('x' * 1000, file=sys.stderr) for _ in range(500)]"  # far beyond a pipe's buffer
    sink = _ClosedStream()
    supervisor = Supervisor([spec("channel_1", python_command(program))], FAST, output=lambda: sink).start()
    worker = supervisor.workers["channel_1"]
    supervise_until(supervisor, lambda: bool(worker.exits))
    assert worker.exits[0].code == 0
    supervisor.stop(deadline_s=1)
