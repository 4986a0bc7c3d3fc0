"""The same clip through `footfall process-video` (every frame, video clock) and live through the RTSP
simulator (camera clock, frames may drop) must give the same visits and the same genders."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import Backends
from tests.pipeline.test_worker_process import last_record, rows
from tests.support.camera_sim import CameraSimulator
from tests.support.footage import HEAD_POSE, STORE_AISLE
from tests.support.paths import REPO_ROOT, footage_path
from tests.support.worker import WorkerProcess, write_store


def sim_events(camera: CameraSimulator, event: str) -> list[dict]:
    found = []
    for line in camera.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and json.loads(line).get("event") == event:
            found.append(json.loads(line))
    return found


def first_pass(camera: CameraSimulator, worker: WorkerProcess, timeout_s: float) -> list[dict]:
    """Wait until the camera has sent its clip once (its first "loop" event) while the worker runs."""
    deadline = time.monotonic() + timeout_s
    while not sim_events(camera, "loop") and time.monotonic() < deadline:
        assert worker.running(), worker.log_tail()
        time.sleep(0.05)
    loops = sim_events(camera, "loop")
    assert loops, f"the camera never finished a pass\n{camera.log_tail()}"
    return loops


def tracks_of(dsn: str, run_id: str, before: float | None = None) -> list[dict]:
    tracks = rows(
        dsn,
        "SELECT track_id, gender, extract(epoch FROM first_seen) AS first_seen, frames FROM tracks "
        "WHERE run_id = %s ORDER BY first_seen",
        run_id,
    )
    return [t for t in tracks if before is None or float(t["first_seen"]) < before]


@pytest.mark.parametrize(
    ("clip", "people"),
    [
        (HEAD_POSE, 2),  # a woman and a man facing the camera: both genders decided
        (STORE_AISLE, 3),  # three shoppers, one walking in and occluding another
    ],
)
def test_file_and_live_replay_agree(backends: Backends, tmp_path: Path, clip: str, people: int) -> None:
    env = backends.env()
    done = subprocess.run(
        [sys.executable, "-m", "footfall_worker.cli", "process-video", str(footage_path(clip)), "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    file_run = json.loads(done.stdout)
    assert file_run["frames_processed"] == file_run["frames_read"] and file_run["exit_reason"] == "end_of_file"
    file_tracks = tracks_of(backends.dsn, file_run["run_id"])
    assert len(file_tracks) == people, file_tracks

    # Live: a fresh camera starts the clip at its first frame for its first client; stop after one pass.
    # A deep hand-off and no pacing, so the live run processes every frame the network delivers.
    camera = CameraSimulator(footage_path(clip)).start()
    live_env = backends.env(FOOTFALL_READER_HANDOFF_SIZE="64", FOOTFALL_READER_ON_DEMAND="false")
    try:
        with WorkerProcess.for_store(write_store(tmp_path / "s.json", {"live": camera.port}), "live", live_env) as w:
            loops = first_pass(camera, w, timeout_s=60)
            assert w.terminate() == 0
        run_id = last_record(w, "worker started")["run_id"]
        stopped = last_record(w, "stopped")
    finally:
        camera.close()
    # Tracks that started in the second pass (after the loop) are not part of the comparison.
    live_tracks = tracks_of(backends.dsn, run_id, before=loops[0]["ts"])
    assert stopped["frames_processed"] >= 0.8 * file_run["frames_read"], stopped
    assert len(live_tracks) == len(file_tracks), (live_tracks, file_tracks)
    assert sorted(t["gender"] for t in live_tracks) == sorted(t["gender"] for t in file_tracks)
    if clip == HEAD_POSE:
        assert sorted(t["gender"] for t in file_tracks) == ["female", "male"]
