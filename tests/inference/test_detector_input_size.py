"""The worker's detector input size (FOOTFALL_TRITON_DETECTOR_INPUT_SIZE): validated at start-up, sent with every
detection request, over gRPC and over shared memory, to the real Triton (which runs onnxruntime, 416 by default)."""

from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from pydantic import ValidationError

from footfall_worker.inference import PersonDetector, TritonConnection
from footfall_worker.settings import TritonSettings
from tests.conftest import triton_settings
from tests.inference.test_worker_letterbox import RequestSpy
from tests.support.footage import ONE_BY_ONE, frames_at
from tests.support.triton import TritonInstance

ENV = "FOOTFALL_TRITON_DETECTOR_INPUT_SIZE"


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return frames_at(ONE_BY_ONE, [120])[120]  # one standing person


def detector_with(triton: TritonInstance, shared_memory: str, size: int | None) -> Iterator[PersonDetector]:
    connection = TritonConnection(triton_settings(triton.url, shared_memory=shared_memory, detector_input_size=size))
    detector = PersonDetector(connection)
    yield detector
    detector.close()
    connection.close()


@pytest.fixture(params=["off", "on"], ids=["grpc", "shared-memory"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def default_detector(triton: TritonInstance, transport: str) -> Iterator[PersonDetector]:
    yield from detector_with(triton, transport, None)


@pytest.fixture
def detector_640(triton: TritonInstance, transport: str) -> Iterator[PersonDetector]:
    yield from detector_with(triton, transport, 640)


def test_settings_reject_an_unknown_size_naming_the_field() -> None:
    with pytest.raises(ValidationError) as error:
        triton_settings("127.0.0.1:8001", detector_input_size=500)
    text = str(error.value)
    assert "detector_input_size" in text
    assert f"{ENV} must be one of 320, 384, 416, 640, got 500" in text


def test_settings_read_the_size_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert TritonSettings(_env_file=None).detector_input_size is None  # type: ignore[call-arg]
    monkeypatch.setenv(ENV, "")  # an empty variable (a Deployment with the field unset) is unset too
    assert TritonSettings(_env_file=None).detector_input_size is None  # type: ignore[call-arg]
    monkeypatch.setenv(ENV, "640")
    assert TritonSettings(_env_file=None).detector_input_size == 640  # type: ignore[call-arg]
    monkeypatch.setenv(ENV, "500")
    with pytest.raises(ValidationError, match=f"{ENV} must be one of 320, 384, 416, 640, got 500"):
        TritonSettings(_env_file=None)  # type: ignore[call-arg]


def test_the_size_goes_with_every_request(
    connection: TritonConnection, default_detector: PersonDetector, detector_640: PersonDetector, frame: np.ndarray
) -> None:
    # The reference: the same frame with the parameter set by hand on a raw request.
    tensor = grpcclient.InferInput("IMAGE", [1, *frame.shape], "UINT8")
    tensor.set_data_from_numpy(frame[None])
    raw = connection.client.infer("person_detector", [tensor], parameters={"input_size": 640})
    count = int(raw.as_numpy("COUNT").reshape(-1)[0])
    at_640, at_416 = detector_640.detect_one(frame), default_detector.detect_one(frame)
    np.testing.assert_array_equal(at_640.xyxy, raw.as_numpy("BOXES")[0, :count])
    np.testing.assert_array_equal(at_640.confidence, raw.as_numpy("SCORES")[0, :count])
    # the 416 default is another network: other scores, the same one person above 0.5
    assert len(at_640) != len(at_416) or not np.allclose(at_640.confidence, at_416.confidence, atol=1e-3)
    assert len(at_640.above(0.5)) == len(at_416.above(0.5)) == 1
    # a batch of frames carries it too
    for detections in detector_640.detect([frame, frame]):
        np.testing.assert_allclose(detections.confidence, at_640.confidence, atol=1e-5)


def test_the_smallest_size_runs_on_the_default_server(
    triton: TritonInstance, transport: str, frame: np.ndarray
) -> None:
    # onnxruntime runs model.onnx at every offered size (its height and width are free): 320 sends a 320 x 192
    # canvas for this 768 x 432 frame (180 rows of picture, padded to a multiple of 32) and finds the one person.
    detectors = detector_with(triton, transport, 320)
    detector = next(detectors)
    spy = RequestSpy(detector._connection)
    assert len(detector.detect_one(frame).above(0.5)) == 1
    assert [request["shape"] for request in spy.requests] == [[1, 192, 320, 3]]
    next(detectors, None)  # closes the detector and its connection
