"""person_detector's runtimes: OpenVINO (selectable in config.pbtxt) agrees with onnxruntime fp32 on real frames.

openvino lives in the Triton server's venv (hack/requirements-triton.txt), not in the project venv, so the
comparison runs there, in a subprocess, on the very modules Triton's python backend imports.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.paths import REPO_ROOT

MODEL_DIR = REPO_ROOT / "models" / "person_detector" / "1"
TRITON_PYTHON = (
    Path(os.environ.get("FOOTFALL_CACHE", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "footfall"))
    / "triton-venv"
    / "bin"
    / "python"
)

# Frames with people: one-by-one (one standing person, 768x432), and the crowded store aisle and walking clips
# (480x270), all upscaled to 720p like a camera's main stream; plus a 2x2 mosaic of one-by-one frames.
COMPARE = r"""
import json, sys
import cv2, numpy as np
sys.path.insert(0, sys.argv[1])
from yolox import PersonDetector
clips = {"one-by-one-person-detection.mp4": [120, 350, 800, 1100, 1300],
         "store-aisle-detection.mp4": [0, 20, 40, 60], "face-demographics-walking.mp4": [4, 16, 28]}
frames = []
for name, wanted in clips.items():
    cap, i = cv2.VideoCapture(sys.argv[2] + "/" + name), 0
    while len(wanted) and i <= max(wanted):
        ok, f = cap.read()
        if not ok:
            break
        if i in wanted:
            frames.append(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR))
        i += 1
frames.append(np.vstack([np.hstack(frames[0:2]), np.hstack(frames[2:4])]))
ort = PersonDetector(sys.argv[1] + "/model.onnx", runtime="onnxruntime")
ov = PersonDetector(sys.argv[1] + "/model.onnx", runtime="openvino")
out = {"precision": ov._runner.precision, "frames": []}
for f in frames:
    (rb, rs), (ob, os_) = ort.detect([f])[0], ov.detect([f])[0]
    out["frames"].append({"ort": [rb.tolist(), rs.tolist()], "ov": [ob.tolist(), os_.tolist()]})
print(json.dumps(out))
"""


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x2, y2 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@pytest.fixture(scope="module")
def both_runtimes() -> dict:
    if not TRITON_PYTHON.is_file():
        pytest.fail(f"{TRITON_PYTHON} missing: run hack/triton.sh install (make test does)")
    done = subprocess.run(
        [str(TRITON_PYTHON), "-c", COMPARE, str(MODEL_DIR), str(REPO_ROOT / "input" / "footage" / "intel")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_openvino_finds_the_same_people_as_onnxruntime_fp32(both_runtimes: dict) -> None:
    confident_total = 0
    for k, frame in enumerate(both_runtimes["frames"]):
        rb, rs = np.asarray(frame["ort"][0]).reshape(-1, 4), np.asarray(frame["ort"][1])
        ob, os_ = np.asarray(frame["ov"][0]).reshape(-1, 4), np.asarray(frame["ov"][1])
        ref, got = rb[rs >= 0.5], ob[os_ >= 0.5]
        confident_total += len(ref)
        # the same people: no confident box lost or added (a box right at 0.5 may cross it)
        assert abs(len(ref) - len(got)) <= int(((rs > 0.45) & (rs < 0.55)).sum()), (k, rs, os_)
        if len(ref):
            ious = _iou(ref, ob)  # against all of openvino's boxes: a score may move across 0.5
            best = ious.argmax(axis=1)
            assert (ious.max(axis=1) >= 0.8).all(), (k, ious.max(axis=1))
            np.testing.assert_allclose(os_[best], rs[rs >= 0.5], atol=0.1)
    assert confident_total >= 20  # the frames do have people: 1 per one-by-one frame, 4 in the mosaic, crowds (24)


def test_choose_runtime_falls_back_to_onnxruntime_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    # model.py by path: gender_classifier has a model.py too
    spec = importlib.util.spec_from_file_location("person_detector_model", MODEL_DIR / "model.py")
    model = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(MODEL_DIR))
    spec.loader.exec_module(model)  # type: ignore[union-attr]
    assert model.choose_runtime("openvino", have_openvino=True) == "openvino"
    assert model.choose_runtime("onnxruntime", have_openvino=True) == "onnxruntime"
    assert model.choose_runtime("openvino", have_openvino=False) == "onnxruntime"
    assert "openvino is not importable; using onnxruntime" in capsys.readouterr().err
    with pytest.raises(ValueError, match="'runtime' must be one of"):
        model.choose_runtime("tensorrt", have_openvino=True)


def test_config_keeps_onnxruntime_at_416() -> None:
    # openvino was faster in-process but not through Triton with 4 clients (config.pbtxt, models/README.md)
    text = (MODEL_DIR.parent / "config.pbtxt").read_text()
    assert 'key: "runtime" value { string_value: "onnxruntime" }' in text
    assert 'key: "input_size" value { string_value: "416" }' in text


def test_onnxruntime_runs_the_shipped_file_at_every_offered_size() -> None:
    from yolox import PersonDetector

    frame = np.zeros((1080, 1920, 3), np.uint8)
    for size in (320, 384, 416, 640):
        detector = PersonDetector(str(MODEL_DIR / "model.onnx"), runtime="onnxruntime", input_size=size)
        assert detector.size == size and detector.detect([frame])[0][1].size == 0  # nobody in a black frame
        assert set(detector._grids) == {(-(-int(1080 * size / 1920) // 32) * 32, size)}  # one rectangular canvas
    with pytest.raises(ValueError, match="multiple of 32"):
        PersonDetector(str(MODEL_DIR / "model.onnx"), input_size=400)


def fixed_shape_copy(tmp_path: Path, side: int) -> Path:
    """model.onnx as YOLOX's exporter writes it: the input declared 1x3xSIDExSIDE."""
    import onnx

    model = onnx.load(str(MODEL_DIR / "model.onnx"))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = side
    path = tmp_path / f"fixed_{side}.onnx"
    onnx.save(model, str(path))
    return path


def test_a_fixed_shape_export_runs_on_square_canvases_at_its_side(tmp_path: Path) -> None:
    from yolox import PersonDetector

    frame = np.random.default_rng(5).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    frame[200:600, 500:700] = 40  # something to find or not; only equality matters here
    fixed = PersonDetector(str(fixed_shape_copy(tmp_path, 416)))
    assert fixed.size == 416 and fixed.square
    reference = PersonDetector(str(MODEL_DIR / "model.onnx"), square=True).detect([frame])[0]
    got = fixed.detect([frame])[0]
    np.testing.assert_array_equal(got[0], reference[0])
    np.testing.assert_array_equal(got[1], reference[1])
    assert set(fixed._grids) == {(416, 416)}
    with pytest.raises(ValueError, match=r"fixed 416x416; onnxruntime cannot run it at 384 \(hack/dynamic-detector"):
        PersonDetector(str(fixed_shape_copy(tmp_path, 416)), input_size=384)
