"""The in-pod measurement (footfall_worker.inference.transport_bench): imports only what the worker image has,
times each mode against the real Triton, and reports what each request carries."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall_worker.inference.transport_bench import MODES, load_frames, measure, synthetic_frames
from tests.support.footage import STORE_AISLE, frames_at
from tests.support.paths import REPO_ROOT
from tests.support.triton import TritonInstance

# What the worker image lacks: the bench folder, the models' modules, onnxruntime, the tests.
NOT_IN_THE_IMAGE = ("onnxruntime", "yolox", "face_gender", "inference_bench", "tests", "openvino")


def test_it_imports_only_what_the_worker_image_has() -> None:
    code = (
        "import sys, footfall_worker.inference.transport_bench\n"
        f"print([name for name in {NOT_IN_THE_IMAGE!r} if any(m.split('.')[0] == name for m in sys.modules)])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_every_mode_finds_the_same_people_and_sends_what_it_says(triton: TritonInstance) -> None:
    frames = [cv2.resize(f, (1920, 1080)) for f in frames_at(STORE_AISLE, [0, 30, 60]).values()]
    stats = {s.mode: s for s in measure(triton.url, frames, MODES, rounds=1, warmup=1)}
    assert list(stats) == list(MODES)
    assert stats["full_grpc"].tensor_bytes == 1920 * 1080 * 3
    assert stats["letterbox_grpc"].tensor_bytes == stats["letterbox_shm"].tensor_bytes == 256 * 416 * 3  # 16:9
    assert [s.transport for s in stats.values()] == ["grpc", "grpc", "shm"]
    people = {s.people for s in stats.values()}
    assert len(people) == 1 and people.pop() >= 3, stats
    for s in stats.values():
        assert s.frames == 3 and 0 < s.p50_ms <= s.p95_ms and s.mean_ms > 0


def test_the_command_line_prints_json_from_a_npy(triton: TritonInstance, tmp_path: Path) -> None:
    path = tmp_path / "frames.npy"
    np.save(path, synthetic_frames(2, 270, 480))
    done = subprocess.run(
        [sys.executable, "-m", "footfall_worker.inference.transport_bench", "--url", triton.url, "--npy", str(path)]
        + ["--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [m["mode"] for m in report["modes"]] == ["full_grpc", "letterbox_grpc"]
    assert report["baseline"] == "full_grpc" and report["ratios_p50"]["full_grpc"] == 1.0
    assert [m["tensor_bytes"] for m in report["modes"]] == [480 * 270 * 3, 256 * 416 * 3]
    assert all(m["frames"] == 2 for m in report["modes"])


@pytest.mark.parametrize("array", [np.zeros((2, 8, 8), np.uint8), np.zeros((1, 8, 8, 3), np.float32)])
def test_a_bad_npy_is_refused_naming_the_file(tmp_path: Path, array: np.ndarray) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ValueError, match=r"bad\.npy: expected uint8 frames \[N, H, W, 3\]"):
        load_frames(path)
