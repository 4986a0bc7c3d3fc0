"""person_detector's per-request input size (request parameter ``input_size``), through a real Triton.

The session server runs the shipped config (onnxruntime, 416): a request for another offered size must run the
network at that size (the same boxes as yolox.py in-process at that size), anything else is refused naming the
sizes. A second private server runs a copy of the repository with runtime openvino, which serves every size too.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from tests.support.footage import ONE_BY_ONE, STORE_AISLE, frames_at
from tests.support.paths import REPO_ROOT
from tests.support.triton import TritonInstance

MODEL = "person_detector"
MODEL_DIR = REPO_ROOT / "models" / MODEL
PERSON = 0.5


@pytest.fixture(scope="module")
def frames() -> dict[str, np.ndarray]:
    """A standing person (768x432) and the crowded store aisle upscaled to 720p, like a camera's main stream."""
    aisle = frames_at(STORE_AISLE, [20])[20]
    return {
        "one-person": frames_at(ONE_BY_ONE, [120])[120],
        "aisle": cv2.resize(aisle, (1280, 720), interpolation=cv2.INTER_LINEAR),
    }


@pytest.fixture(scope="module")
def client(triton: TritonInstance) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(triton.url)
    yield client
    client.close()


def detect(
    client: grpcclient.InferenceServerClient, frame: np.ndarray, input_size: int | str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One request for one frame; ``input_size`` None sends no parameter. Returns (boxes, scores)."""
    tensor = grpcclient.InferInput("IMAGE", [1, *frame.shape], "UINT8")
    tensor.set_data_from_numpy(frame[None])
    parameters = {"input_size": input_size} if input_size is not None else None
    result = client.infer(MODEL, [tensor], parameters=parameters, client_timeout=60)
    count = int(result.as_numpy("COUNT").reshape(-1)[0])
    return result.as_numpy("BOXES")[0, :count], result.as_numpy("SCORES")[0, :count]


def in_process(size: int, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same yolox.py code Triton runs (tests/models/conftest.py puts it on sys.path), at input ``size``."""
    from yolox import PersonDetector

    return PersonDetector(str(MODEL_DIR / "1" / "model.onnx"), input_size=size).detect([frame])[0]


def refused(client: grpcclient.InferenceServerClient, frame: np.ndarray, input_size: int | str) -> str:
    """The error message of a request Triton must refuse as INVALID_ARGUMENT."""
    with pytest.raises(InferenceServerException) as error:
        detect(client, frame, input_size)
    assert "INVALID_ARGUMENT" in str(error.value.status()), error.value
    return error.value.message()


@pytest.mark.parametrize("name", ["one-person", "aisle"])
def test_640_request_runs_the_network_at_640(client: grpcclient.InferenceServerClient, frames: dict, name: str) -> None:
    frame = frames[name]
    boxes, scores = detect(client, frame, 640)
    expected_boxes, expected_scores = in_process(640, frame)
    # the network at 640 in-process, up to the two venvs' OpenCV resampling
    assert len(scores) == len(expected_scores)
    np.testing.assert_allclose(boxes, expected_boxes, atol=1.0)
    np.testing.assert_allclose(scores, expected_scores, atol=0.01)
    # and not the 416 network: another set of boxes, though both see the people
    boxes_416, scores_416 = detect(client, frame)
    assert len(scores) != len(scores_416) or not np.allclose(scores, scores_416, atol=1e-3)
    assert (scores >= PERSON).sum() >= 1 and (scores_416 >= PERSON).sum() >= 1


def test_one_person_is_the_same_box_at_416_and_640(client: grpcclient.InferenceServerClient, frames: dict) -> None:
    boxes_640, scores_640 = detect(client, frames["one-person"], 640)
    boxes_416, scores_416 = detect(client, frames["one-person"], 416)
    (box_640,), (box_416,) = boxes_640[scores_640 >= PERSON], boxes_416[scores_416 >= PERSON]
    np.testing.assert_allclose(box_640, box_416, atol=20)  # the same person, whichever network saw her


def test_no_parameter_is_the_configured_416(client: grpcclient.InferenceServerClient, frames: dict) -> None:
    boxes, scores = detect(client, frames["aisle"])
    boxes_416, scores_416 = detect(client, frames["aisle"], 416)
    np.testing.assert_array_equal(boxes, boxes_416)
    np.testing.assert_array_equal(scores, scores_416)
    np.testing.assert_array_equal(detect(client, frames["aisle"], "640")[1], detect(client, frames["aisle"], 640)[1])


@pytest.mark.parametrize("size", [320, 384])
def test_smaller_sizes_run_on_onnxruntime(client: grpcclient.InferenceServerClient, frames: dict, size: int) -> None:
    frame = frames["one-person"]
    boxes, scores = detect(client, frame, size)
    expected_boxes, expected_scores = in_process(size, frame)
    assert len(scores) == len(expected_scores) and (scores >= PERSON).sum() == 1  # the one standing person
    np.testing.assert_allclose(boxes, expected_boxes, atol=1.0)
    np.testing.assert_allclose(scores, expected_scores, atol=0.01)
    assert not np.allclose(scores[:1], detect(client, frame, 416)[1][:1])  # another network input than 416


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (500, "input_size 500 is not one of 320, 384, 416, 640"),
        ("big", "request parameter 'input_size' must be an integer, got 'big'"),
        (True, "request parameter 'input_size' must be an integer, got True"),
    ],
)
def test_unknown_size_is_refused_naming_the_sizes(
    client: grpcclient.InferenceServerClient, frames: dict, size: object, expected: str
) -> None:
    assert expected in refused(client, frames["one-person"], size)  # type: ignore[arg-type]


def batches_over_one(client: grpcclient.InferenceServerClient) -> int:
    """How many executions so far ran more than one request at once (Triton's dynamic batcher at work)."""
    stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]
    batches = stats.get("batch_stats", [])
    return sum(int(b["compute_infer"].get("count", 0)) for b in batches if int(b["batch_size"]) > 1)


def test_concurrent_requests_of_mixed_sizes_each_get_their_own(triton: TritonInstance, frames: dict) -> None:
    # Concurrent requests of one shape are batched into one execute() (dynamic batching); each must still be
    # answered at its own size, and a refused one must not fail the others.
    frame = frames["aisle"]
    client = grpcclient.InferenceServerClient(triton.url)
    reference = {size: detect(client, frame, size)[1] for size in (416, 640)}
    before = batches_over_one(client)
    sizes = [416, 640, 512, 640, 416, 640, 416, 640]
    failures: list[str] = []
    barrier = threading.Barrier(len(sizes))

    def one(size: int) -> None:
        own = grpcclient.InferenceServerClient(triton.url)
        barrier.wait()
        try:
            for _ in range(4):
                try:
                    scores = detect(own, frame, size)[1]
                except InferenceServerException as error:
                    if size != 512 or "input_size 512" not in error.message():
                        failures.append(f"{size}: {error}")
                    continue
                if size == 512 or not np.allclose(scores, reference[size], atol=1e-5):
                    failures.append(f"{size}: answered with scores {scores[:5]}")
        finally:
            own.close()

    threads = [threading.Thread(target=one, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert batches_over_one(client) > before, "no execute() got more than one request: the mix was not tested"
    client.close()


@pytest.fixture(scope="module")
def openvino_triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpcclient.InferenceServerClient]:
    """A private server on a copy of person_detector whose config says runtime openvino (default size 416)."""
    repository = tmp_path_factory.mktemp("openvino-models")
    shutil.copytree(MODEL_DIR, repository / MODEL, ignore=shutil.ignore_patterns("__pycache__"))
    config = repository / MODEL / "config.pbtxt"
    text, replaced = re.subn(
        r'key: "runtime" value \{ string_value: "onnxruntime" \}',
        'key: "runtime" value { string_value: "openvino" }',
        config.read_text(),
    )
    assert replaced == 1
    config.write_text(text)
    server = TritonInstance("triton-openvino", tmp_path_factory.mktemp("triton-openvino"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FOOTFALL_MODEL_REPOSITORY", str(repository))  # read by hack/triton.sh
        server.start()
    client = grpcclient.InferenceServerClient(server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def test_openvino_serves_every_size_per_request(
    openvino_triton: grpcclient.InferenceServerClient, frames: dict
) -> None:
    frame = frames["one-person"]
    box_416 = detect(openvino_triton, frame)[0][0]
    for size in (320, 384, 416, 640):
        boxes, scores = detect(openvino_triton, frame, size)
        assert (scores >= PERSON).sum() == 1, (size, scores)  # the one standing person, at every size
        np.testing.assert_allclose(boxes[0], box_416, atol=25, err_msg=str(size))
    # 320 really is another network input than 416: not the same scores
    assert not np.allclose(detect(openvino_triton, frame, 320)[1][:1], detect(openvino_triton, frame, 416)[1][:1])


def test_openvino_refuses_an_unknown_size(openvino_triton: grpcclient.InferenceServerClient, frames: dict) -> None:
    assert "input_size 512 is not one of 320, 384, 416, 640" in refused(openvino_triton, frames["one-person"], 512)


def test_the_worker_knows_the_sizes_the_model_knows() -> None:
    # the worker validates FOOTFALL_TRITON_DETECTOR_INPUT_SIZE against these sizes before any request
    from footfall_worker.settings import DETECTOR_INPUT_SIZES

    # model.py by path: gender_classifier has a model.py too
    spec = importlib.util.spec_from_file_location("person_detector_model", MODEL_DIR / "1" / "model.py")
    model = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.path.insert(0, str(MODEL_DIR / "1"))
    spec.loader.exec_module(model)  # type: ignore[union-attr]
    assert list(model.INPUT_SIZES) == list(DETECTOR_INPUT_SIZES)
