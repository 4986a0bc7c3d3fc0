"""Person detection and gender through a real Triton (python backend, onnxruntime) on loopback."""

import threading
import time
from collections import Counter

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from footfall_worker.inference import (
    GenderClassifier,
    InvalidInputError,
    ModelNotReadyError,
    PersonDetector,
    TritonConnection,
    TritonUnavailableError,
)
from tests.conftest import triton_settings
from tests.support.footage import EMPTY_FRAMES, HEAD_POSE, ONE_BY_ONE, ONE_PERSON_FRAMES, frames_at
from tests.support.paths import free_port
from tests.support.triton import TritonInstance

PERSON = 0.5


@pytest.fixture(scope="module")
def one_by_one() -> dict[int, np.ndarray]:
    return frames_at(ONE_BY_ONE, EMPTY_FRAMES + ONE_PERSON_FRAMES)


@pytest.fixture(params=["off", "on"], ids=["grpc", "shared-memory"])
def detector(request: pytest.FixtureRequest, triton: TritonInstance):  # type: ignore[no-untyped-def]
    connection = TritonConnection(triton_settings(triton.url, shared_memory=request.param))
    detector = PersonDetector(connection)
    yield detector
    detector.close()
    connection.close()


def test_one_standing_person_and_nobody_in_empty_frames(detector: PersonDetector, one_by_one: dict) -> None:
    for index in EMPTY_FRAMES:
        assert len(detector.detect_one(one_by_one[index]).above(PERSON)) == 0, f"frame {index}"
    for index in ONE_PERSON_FRAMES:
        people = detector.detect_one(one_by_one[index]).above(PERSON)
        assert len(people) == 1, f"frame {index}: {people.xyxy}"
        x1, y1, x2, y2 = people.xyxy[0]
        # A standing adult seen whole: tall, narrower than tall, inside the 768x432 frame.
        assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 432
        assert y2 - y1 > 250 and (x2 - x1) < (y2 - y1)
        assert people.confidence[0] > 0.7


def test_batched_frames_give_the_same_boxes_as_single_frames(detector: PersonDetector, one_by_one: dict) -> None:
    frames = [one_by_one[i] for i in (30, 120, 350, 800)]
    batched = detector.detect(frames)
    for frame, from_batch in zip(frames, batched, strict=True):
        alone = detector.detect_one(frame)
        np.testing.assert_allclose(from_batch.xyxy, alone.xyxy, atol=1e-3)
        np.testing.assert_allclose(from_batch.confidence, alone.confidence, atol=1e-5)


def test_mosaic_of_four_one_person_frames_has_four_people(detector: PersonDetector, one_by_one: dict) -> None:
    a, b, c, d = (one_by_one[i] for i in (120, 350, 800, 1300))
    mosaic = np.vstack([np.hstack([a, b]), np.hstack([c, d])])
    people = detector.detect_one(mosaic).above(PERSON)
    assert len(people) == 4, people.xyxy
    centres = (people.xyxy[:, :2] + people.xyxy[:, 2:]) / 2
    quadrants = {(int(x >= 768), int(y >= 432)) for x, y in centres}
    assert quadrants == {(0, 0), (1, 0), (0, 1), (1, 1)}


def test_boxes_are_in_source_pixels(detector: PersonDetector, one_by_one: dict) -> None:
    frame = one_by_one[120]
    small = detector.detect_one(frame).above(PERSON)
    large = detector.detect_one(cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)).above(PERSON)
    assert len(small) == len(large) == 1
    # Same letterboxed network input, so twice the box up to resampling noise.
    np.testing.assert_allclose(large.xyxy[0], 2 * small.xyxy[0], atol=8)


def test_responses_carry_data_not_just_shapes(connection: TritonConnection, one_by_one: dict) -> None:
    # numpy 2 in the server's venv makes the python backend return right-shaped tensors with no bytes.
    frame = one_by_one[120][None]
    tensor = grpcclient.InferInput("IMAGE", list(frame.shape), "UINT8")
    tensor.set_data_from_numpy(frame)
    result = connection.client.infer("person_detector", [tensor])
    raw = result.get_response()
    assert all(len(blob) > 0 for blob in raw.raw_output_contents)
    assert result.as_numpy("COUNT").reshape(-1)[0] >= 1


def test_gender_of_the_woman_and_the_man(connection: TritonConnection) -> None:
    frames = frames_at(HEAD_POSE, range(56))
    detector, classifier = PersonDetector(connection), GenderClassifier(connection)
    labels: dict[str, Counter[str]] = {"left": Counter(), "right": Counter()}
    for frame in frames.values():
        people = detector.detect_one(frame).above(PERSON)
        assert len(people) == 2
        order = np.argsort(people.xyxy[:, 0])
        estimates = classifier.classify_people(frame, people.xyxy[order])
        for side, estimate in zip(("left", "right"), estimates, strict=True):
            labels[side][estimate.label()] += 1
    # The woman stands on the left, the man on the right, both facing the camera throughout.
    assert labels["left"]["male"] == 0 and labels["left"]["female"] >= 0.85 * len(frames), labels
    assert labels["right"]["female"] == 0 and labels["right"]["male"] >= 0.85 * len(frames), labels


def test_a_crop_without_a_face_has_quality_zero_and_no_guess(connection: TritonConnection, one_by_one: dict) -> None:
    classifier = GenderClassifier(connection)
    empty = one_by_one[30]
    crops = [empty[100:400, 300:420], empty[:200, :100], np.full((300, 120, 3), 127, np.uint8)]
    for estimate in classifier.classify(crops):
        assert estimate.face_quality == 0.0
        assert (estimate.p_female, estimate.p_male) == (0.0, 0.0)
        assert estimate.label() == "unknown"
    assert classifier.classify([None])[0].label() == "unknown"


def test_face_box_is_in_crop_pixels(connection: TritonConnection) -> None:
    frame = frames_at(HEAD_POSE, [20])[20]
    people = PersonDetector(connection).detect_one(frame).above(PERSON)
    crop_box = people.xyxy[np.argmax(people.xyxy[:, 0])]  # the man
    x1, y1, x2, y2 = crop_box.astype(int)
    crop = frame[y1:y2, x1:x2]
    small = GenderClassifier(connection).classify([crop])[0]
    big = GenderClassifier(connection).classify([cv2.resize(crop, None, fx=2, fy=2)])[0]
    fx1, fy1, fx2, fy2 = small.face_box
    assert 0 <= fx1 < fx2 <= crop.shape[1] and 0 <= fy1 < fy2 <= crop.shape[0] / 2  # a face in the upper half
    np.testing.assert_allclose(np.array(big.face_box), 2 * np.array(small.face_box), atol=6)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (np.zeros((64, 64, 3), np.float32), r"IMAGE\[0\]: expected dtype uint8 \(BGR bytes\), got float32"),
        (np.zeros((64, 64), np.uint8), r"IMAGE\[0\]: expected shape \(H, W, 3\)"),
        (np.zeros((64, 64, 4), np.uint8), r"IMAGE\[0\]: expected shape \(H, W, 3\)"),
        (np.zeros((0, 64, 3), np.uint8), r"IMAGE\[0\]: expected shape \(H, W, 3\) with H, W > 0"),
    ],
)
def test_client_rejects_bad_frames_naming_the_input(
    connection: TritonConnection, frame: np.ndarray, expected: str
) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        PersonDetector(connection).detect([frame])


@pytest.mark.parametrize(
    ("array", "datatype"),
    [
        (np.zeros((1, 64, 64, 3), np.float32), "FP32"),
        (np.zeros((1, 64, 64, 4), np.uint8), "UINT8"),
        (np.zeros((1, 64, 3), np.uint8), "UINT8"),
    ],
)
def test_server_rejects_bad_tensors_naming_the_input(
    connection: TritonConnection, array: np.ndarray, datatype: str
) -> None:
    tensor = grpcclient.InferInput("IMAGE", list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    with pytest.raises(InferenceServerException) as error:
        connection.client.infer("person_detector", [tensor], client_timeout=10)
    assert "IMAGE" in error.value.message()


def test_triton_down_is_a_specific_error_within_the_timeout() -> None:
    connection = TritonConnection(triton_settings(f"127.0.0.1:{free_port()}", retries=2, retry_backoff_s=0.1))
    started = time.monotonic()
    assert not connection.is_model_ready("person_detector")
    with pytest.raises(TritonUnavailableError, match="unreachable"):
        PersonDetector(connection).detect_one(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(TritonUnavailableError):
        connection.wait_until_ready(["person_detector"], timeout_s=0.5)
    # No hang: refused connections fail fast; the bound is generous, the default gRPC wait is unbounded.
    assert time.monotonic() - started < 15


def test_model_not_loaded_is_not_ready(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A server in explicit model-control mode with nothing loaded: live and ready, but no model is.
    server = TritonInstance("triton-empty", tmp_path_factory.mktemp("triton-empty"), "--model-control-mode=explicit")
    server.start()
    try:
        connection = TritonConnection(triton_settings(server.url, shared_memory="off"))
        assert not connection.is_model_ready("person_detector")
        with pytest.raises(ModelNotReadyError, match="person_detector"):
            connection.wait_until_ready(["person_detector"], timeout_s=0.5)
        with pytest.raises(ModelNotReadyError, match="person_detector"):
            PersonDetector(connection).detect_one(np.zeros((64, 64, 3), np.uint8))
        connection.client.load_model("person_detector")
        connection.wait_until_ready(["person_detector"], timeout_s=60)
        assert len(PersonDetector(connection).detect_one(np.zeros((64, 64, 3), np.uint8))) == 0
    finally:
        server.stop()


def test_shared_memory_survives_a_server_restart(tmp_path_factory: pytest.TempPathFactory, one_by_one: dict) -> None:
    server = TritonInstance("triton-restart", tmp_path_factory.mktemp("triton-restart"))
    server.start()
    try:
        connection = TritonConnection(triton_settings(server.url, shared_memory="on"))
        detector = PersonDetector(connection)
        before = detector.detect_one(one_by_one[120])
        server.stop()
        with pytest.raises(TritonUnavailableError):
            detector.detect_one(one_by_one[120])
        server.start()
        connection.wait_until_ready(["person_detector"], timeout_s=30)
        after = detector.detect_one(one_by_one[120])  # the region is registered again transparently
        np.testing.assert_allclose(after.xyxy, before.xyxy, atol=1e-3)
        detector.close()
    finally:
        server.stop()


def test_four_concurrent_clients_are_batched(triton: TritonInstance, one_by_one: dict) -> None:
    frame = one_by_one[120]
    stats_connection = TritonConnection(triton_settings(triton.url))

    def batches_over_one() -> int:
        stats = stats_connection.inference_statistics("person_detector")["model_stats"][0]
        return sum(
            int(b["compute_infer"].get("count", 0)) for b in stats.get("batch_stats", []) if int(b["batch_size"]) > 1
        )

    before = batches_over_one()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def client() -> None:
        connection = TritonConnection(triton_settings(triton.url, shared_memory="off"))
        detector = PersonDetector(connection)
        try:
            start.wait()
            for _ in range(15):
                assert len(detector.detect_one(frame).above(PERSON)) == 1
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert batches_over_one() > before, "Triton executed no batch larger than 1 for 4 concurrent clients"
