"""The worker letterboxes frames before sending them (the pod shape): the canvas is the model's own letterbox,
the boxes equal those of the full-frame path on real footage at several aspect ratios, and every request
carries only the model-sized tensor; empty, tiny and beyond-4K frames keep working. Against the real Triton."""

import sys
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from footfall_worker.detections import Detections
from footfall_worker.inference import InvalidInputError, PersonDetector, TritonConnection
from footfall_worker.inference.letterbox import PAD_VALUE, letterbox_batch, to_source
from tests.conftest import triton_settings
from tests.support.footage import FACE_WALKING, HEAD_POSE, ONE_BY_ONE, STORE_AISLE, frames_at
from tests.support.paths import REPO_ROOT
from tests.support.triton import TritonInstance

MODEL_DIR = REPO_ROOT / "models" / "person_detector" / "1"
if str(MODEL_DIR) not in sys.path:
    sys.path.insert(0, str(MODEL_DIR))
import yolox  # noqa: E402 - the model's own preprocessing, beside model.py

PERSON = 0.5
# A 16:9 frame's canvas at 416: 416 x 234 of picture, padded to 256 rows (a multiple of 32)
CANVAS_16X9 = [256, 416, 3]
CANVAS_16X9_BYTES = 256 * 416 * 3


@pytest.fixture(scope="module")
def footage() -> list[np.ndarray]:
    """Frames with people from all four committed clips (768x432 and 480x270)."""
    frames = list(frames_at(STORE_AISLE, range(0, 67, 11)).values())
    frames += list(frames_at(ONE_BY_ONE, [120, 800, 1300]).values())
    frames += list(frames_at(HEAD_POSE, [0, 40]).values())
    frames += list(frames_at(FACE_WALKING, [5, 25]).values())
    return frames


def upscale_1080p(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_LINEAR)


ASPECTS = {
    "native": lambda f: f,
    "1080p": upscale_1080p,
    "portrait-9x16": lambda f: np.ascontiguousarray(upscale_1080p(f)[:, 656:1264]),  # 608x1080
    "square": lambda f: np.ascontiguousarray(upscale_1080p(f)[:, 420:1500]),
    "portrait-rotated": lambda f: cv2.rotate(upscale_1080p(f), cv2.ROTATE_90_CLOCKWISE),  # 1080x1920
    "ultrawide-32x9": lambda f: np.hstack([upscale_1080p(f), upscale_1080p(f[:, ::-1].copy())]),  # 3840x1080
}


def full_frame(connection: TritonConnection, frame: np.ndarray) -> Detections:
    """The path before: the whole frame in one raw request, letterboxed inside the model."""
    tensor = grpcclient.InferInput("IMAGE", [1, *frame.shape], "UINT8")
    tensor.set_data_from_numpy(np.ascontiguousarray(frame[None]))
    result = connection.client.infer("person_detector", [tensor], client_timeout=60)
    count = int(result.as_numpy("COUNT").reshape(-1)[0])
    return Detections(result.as_numpy("BOXES")[0, :count], result.as_numpy("SCORES")[0, :count])


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def assert_same_people(reference: Detections, got: Detections, label: str, min_score: float = 0.3) -> None:
    """Every box of either side scoring >= `min_score` has a twin on the other: IoU > 0.98, within 1 px, same score."""
    for side, this, other in (("missing", reference, got), ("extra", got, reference)):
        for box, score in zip(this.above(min_score).xyxy, this.above(min_score).confidence, strict=True):
            assert len(other), f"{label}: {side} box {box} ({score:.3f}); the other side found nothing"
            overlaps = iou(box, other.xyxy)
            twin = int(np.argmax(overlaps))
            assert overlaps[twin] > 0.98, f"{label}: {side} box {box} ({score:.3f}); best IoU {overlaps[twin]:.3f}"
            assert np.abs(other.xyxy[twin] - box).max() <= 1.0, f"{label}: {box} vs {other.xyxy[twin]}"
            assert abs(other.confidence[twin] - score) <= 1e-4, f"{label}: score {score} vs {other.confidence[twin]}"


def assert_inside(found: Detections, frame: np.ndarray) -> None:
    """Boxes lie in the frame's pixels and are at least 1 px wide and high."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = found.xyxy.T
    assert ((x1 >= 0) & (y1 >= 0) & (x2 <= width) & (y2 <= height)).all(), (frame.shape, found.xyxy)
    assert ((x2 - x1 >= 1) & (y2 - y1 >= 1)).all(), found.xyxy


class RequestSpy:
    """Records what each detector request carries: image tensor shape, bytes over gRPC, shm bytes, parameters."""

    def __init__(self, connection: TritonConnection) -> None:
        self.requests: list[dict] = []
        real = connection.infer

        def infer(model, inputs, outputs, parameters=None):  # type: ignore[no-untyped-def]
            tensor = inputs[0]
            content = tensor._get_content()
            shm = tensor._get_tensor().parameters.get("shared_memory_byte_size")
            self.requests.append(
                {
                    "shape": tensor.shape(),
                    "grpc_bytes": len(content) if content is not None else 0,
                    "shm_bytes": shm.int64_param if shm is not None else 0,
                    "parameters": parameters,
                }
            )
            return real(model, inputs, outputs, parameters)

        connection.infer = infer  # type: ignore[method-assign]


def open_detector(triton: TritonInstance, shared_memory: str = "off", **overrides: object) -> Iterator[PersonDetector]:
    connection = TritonConnection(triton_settings(triton.url, shared_memory=shared_memory, **overrides))
    detector = PersonDetector(connection)
    yield detector
    detector.close()
    connection.close()


@pytest.fixture(params=["off", "on"], ids=["grpc", "shared-memory"])
def detector(request: pytest.FixtureRequest, triton: TritonInstance) -> Iterator[PersonDetector]:
    yield from open_detector(triton, request.param)


@pytest.fixture
def grpc_detector(triton: TritonInstance) -> Iterator[PersonDetector]:
    yield from open_detector(triton, "off")


# --- the canvas (no Triton) ---


SHAPES = [(1080, 1920), (1920, 1080), (432, 768), (270, 480), (1080, 1080), (416, 416), (300, 416), (576, 704)]
SHAPES += [(1, 1), (2, 3), (37, 1), (1, 40000), (4320, 7680), (719, 1281), (1440, 2560)]


@pytest.mark.parametrize("size", [320, 416, 640])
def test_the_canvas_is_the_models_own_letterbox_bit_for_bit(size: int) -> None:
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for shape in SHAPES]
    frames.append(rng.integers(0, 256, (540, 1920 * 2, 3), dtype=np.uint8)[:, ::2])  # a strided view
    for frame in frames:
        (canvas,), (r,) = letterbox_batch([frame], size)
        expected, expected_r = yolox.letterbox(np.ascontiguousarray(frame), size)
        assert r == expected_r, frame.shape
        np.testing.assert_array_equal(canvas, expected, err_msg=str(frame.shape))
        assert max(canvas.shape[:2]) == size and canvas.shape[0] % 32 == canvas.shape[1] % 32 == 0, frame.shape
    # Frames of several shapes share the largest canvas on each side, each the model's own letterbox top-left.
    batch, scales = letterbox_batch(frames, size)
    assert batch.shape == (len(frames), size, size, 3) and batch.dtype == np.uint8
    for frame, canvas, r in zip(frames, batch, scales, strict=True):
        expected, expected_r = yolox.letterbox(np.ascontiguousarray(frame), size)
        height, width = expected.shape[:2]
        assert r == expected_r
        np.testing.assert_array_equal(canvas[:height, :width], expected, err_msg=str(frame.shape))
        assert (canvas[height:] == PAD_VALUE).all() and (canvas[:, width:] == PAD_VALUE).all()


@pytest.mark.parametrize(
    ("size", "frame_shape", "canvas_shape"),
    [(416, (1080, 1920), (256, 416)), (640, (1080, 1920), (384, 640)), (416, (576, 704), (352, 416))],
)
def test_the_models_letterbox_of_a_canvas_is_an_identity(size: int, frame_shape: tuple, canvas_shape: tuple) -> None:
    frame = np.random.default_rng(3).integers(0, 256, (*frame_shape, 3), dtype=np.uint8)
    canvas = letterbox_batch([frame], size)[0][0]
    assert canvas.shape[:2] == canvas_shape  # padded to a multiple of 32, not to a square
    again, r = yolox.letterbox(canvas, size)
    assert r == 1.0
    np.testing.assert_array_equal(again, canvas)
    picture = int(frame_shape[0] * size / frame_shape[1])
    assert (canvas[picture:] == PAD_VALUE).all() and (canvas[picture - 1] != PAD_VALUE).any()


def test_boxes_map_back_to_source_pixels_clipped_and_without_slivers() -> None:
    r = 416 / 1920
    boxes = np.array(
        [
            [41.6, 20.8, 83.2, 104.0],  # inside the picture
            [400.0, 200.0, 420.0, 240.0],  # reaches past the right and bottom edges (234 px of picture)
            [10.0, 300.0, 50.0, 400.0],  # wholly in the padding below the picture
        ],
        np.float32,
    )
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    mapped, kept = to_source(boxes, scores, r, 1080, 1920)
    np.testing.assert_allclose(mapped[0], [192, 96, 384, 480], atol=1e-3)
    np.testing.assert_allclose(mapped[1], [400 / r, 200 / r, 1920, 1080], atol=1e-2)
    np.testing.assert_array_equal(kept, scores[:2])


# --- against Triton ---


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_letterboxed_boxes_equal_the_full_frame_path(
    aspect: str, connection: TritonConnection, grpc_detector: PersonDetector, footage: list[np.ndarray]
) -> None:
    frames = [ASPECTS[aspect](frame) for frame in footage]
    compared = floor_boxes = floor_delta = 0
    for index, frame in enumerate(frames):
        reference, got = full_frame(connection, frame), grpc_detector.detect_one(frame)
        assert_same_people(reference, got, f"{aspect} {frame.shape} frame {index}")
        assert_inside(got, frame)
        compared += len(reference.above(0.3))  # what assert_same_people compares
        floor_boxes += len(reference)
        floor_delta += abs(len(reference) - len(got))
    assert compared >= 5, f"{aspect}: only {compared} boxes in the reference; the comparison would prove little"
    # Down to the 0.1 floor only NMS near its threshold, on boxes reaching into the padding, may differ.
    assert floor_delta <= 0.02 * floor_boxes, (floor_delta, floor_boxes)


def test_shared_memory_carries_the_same_canvas(
    triton: TritonInstance, connection: TritonConnection, footage: list[np.ndarray]
) -> None:
    for detector in open_detector(triton, "on"):
        spy = RequestSpy(detector._connection)
        for frame in footage[:4]:
            frame = upscale_1080p(frame)
            assert_same_people(full_frame(connection, frame), detector.detect_one(frame), "shm 1080p")
        assert [(r["shape"], r["grpc_bytes"], r["shm_bytes"]) for r in spy.requests] == [
            ([1, *CANVAS_16X9], 0, CANVAS_16X9_BYTES)
        ] * 4


def test_requests_carry_only_the_model_sized_canvas(grpc_detector: PersonDetector, footage: list[np.ndarray]) -> None:
    spy = RequestSpy(grpc_detector._connection)
    frame = upscale_1080p(footage[0])
    grpc_detector.detect_one(frame)
    assert spy.requests == [
        {
            "shape": [1, *CANVAS_16X9],
            "grpc_bytes": CANVAS_16X9_BYTES,
            "shm_bytes": 0,
            "parameters": {"input_size": 416},
        }
    ]
    assert CANVAS_16X9_BYTES < frame.nbytes / 19
    # Frames of several resolutions travel in one request per canvas shape, each mapped back to its own pixels.
    mixed = [frame, ASPECTS["portrait-9x16"](footage[1]), footage[2], cv2.resize(footage[3], (1280, 720))]
    spy.requests.clear()
    together = grpc_detector.detect(mixed)
    assert [r["shape"] for r in spy.requests] == [[3, *CANVAS_16X9], [1, 416, 256, 3]]
    assert [r["grpc_bytes"] for r in spy.requests] == [3 * CANVAS_16X9_BYTES, CANVAS_16X9_BYTES]
    for one, from_batch in zip(mixed, together, strict=True):
        alone = grpc_detector.detect_one(one)
        np.testing.assert_allclose(from_batch.xyxy, alone.xyxy, atol=1e-3)
        np.testing.assert_allclose(from_batch.confidence, alone.confidence, atol=1e-5)


def test_a_requested_size_sets_the_canvas(triton: TritonInstance, footage: list[np.ndarray]) -> None:
    connection = TritonConnection(triton_settings(triton.url, shared_memory="off"))
    frame = upscale_1080p(footage[0])
    reference = full_frame_at(connection, frame, 640)
    for detector in open_detector(triton, "off", detector_input_size=640):
        spy = RequestSpy(detector._connection)
        assert_same_people(reference, detector.detect_one(frame), "640")
        assert [(r["shape"], r["grpc_bytes"], r["parameters"]) for r in spy.requests] == [
            ([1, 384, 640, 3], 384 * 640 * 3, {"input_size": 640})
        ]
    connection.close()


def full_frame_at(connection: TritonConnection, frame: np.ndarray, size: int) -> Detections:
    tensor = grpcclient.InferInput("IMAGE", [1, *frame.shape], "UINT8")
    tensor.set_data_from_numpy(frame[None])
    result = connection.client.infer("person_detector", [tensor], parameters={"input_size": size})
    count = int(result.as_numpy("COUNT").reshape(-1)[0])
    return Detections(result.as_numpy("BOXES")[0, :count], result.as_numpy("SCORES")[0, :count])


def test_the_default_size_is_read_once_from_the_model_config(
    grpc_detector: PersonDetector, footage: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = grpc_detector._connection.client
    calls: list[str] = []
    real = client.get_model_config

    def get_model_config(model, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(model)
        return real(model, **kwargs)

    monkeypatch.setattr(client, "get_model_config", get_model_config)
    for _ in range(3):
        grpc_detector.detect_one(footage[0])
    assert grpc_detector.input_size == 416  # models/person_detector/config.pbtxt
    assert calls == ["person_detector"]


@pytest.mark.parametrize(
    ("config", "expected", "canvas"), [({"config": {}}, 416, CANVAS_16X9), (None, 640, [384, 640, 3])]
)
def test_the_size_falls_back_to_416_and_follows_the_config(
    grpc_detector: PersonDetector,
    footage: list[np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    config: dict | None,
    expected: int,
    canvas: list[int],
) -> None:
    client = grpc_detector._connection.client
    real = client.get_model_config

    def get_model_config(model, **kwargs):  # type: ignore[no-untyped-def]
        answer = real(model, **kwargs)
        if config is not None:
            return config  # a model config without the parameter
        answer["config"]["parameters"]["input_size"]["string_value"] = "640"  # a server configured at 640
        return answer

    monkeypatch.setattr(client, "get_model_config", get_model_config)
    spy = RequestSpy(grpc_detector._connection)
    assert len(grpc_detector.detect_one(upscale_1080p(footage[1])).above(PERSON)) >= 1
    assert spy.requests[0]["shape"] == [1, *canvas]
    assert spy.requests[0]["parameters"] == {"input_size": expected}


@pytest.mark.parametrize("shape", [(0, 64, 3), (64, 0, 3), (0, 0, 3)])
def test_empty_frames_are_an_invalid_input_naming_it(grpc_detector: PersonDetector, shape: tuple) -> None:
    spy = RequestSpy(grpc_detector._connection)
    with pytest.raises(InvalidInputError, match=r"IMAGE\[1\]: expected shape \(H, W, 3\) with H, W > 0"):
        grpc_detector.detect([np.zeros((64, 64, 3), np.uint8), np.zeros(shape, np.uint8)])
    assert grpc_detector.detect([]) == []
    assert spy.requests == []  # nothing was sent


def test_a_black_frame_has_nobody(detector: PersonDetector) -> None:
    assert len(detector.detect_one(np.zeros((1080, 1920, 3), np.uint8))) == 0


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 1), (9, 16), (27, 48), (64, 36)])
def test_tiny_frames_work_like_the_full_frame_path(
    size: tuple[int, int], connection: TritonConnection, grpc_detector: PersonDetector, footage: list[np.ndarray]
) -> None:
    height, width = size
    frame = cv2.resize(footage[7], (width, height), interpolation=cv2.INTER_AREA)  # one-by-one: one person
    got = grpc_detector.detect_one(frame)
    assert_same_people(full_frame(connection, frame), got, f"{size}", min_score=0.1)
    assert_inside(got, frame)


def test_frames_beyond_4k_work_and_cost_the_same_bytes(
    connection: TritonConnection, grpc_detector: PersonDetector, footage: list[np.ndarray]
) -> None:
    small = footage[7]  # 768x432, one standing person
    huge = cv2.resize(small, (7680, 4320), interpolation=cv2.INTER_LINEAR)  # 8K, 99.5 MB
    spy = RequestSpy(grpc_detector._connection)
    got = grpc_detector.detect_one(huge)
    assert spy.requests[0]["grpc_bytes"] == CANVAS_16X9_BYTES
    assert_same_people(full_frame(connection, huge), got, "8K")
    people, at_small = got.above(PERSON), grpc_detector.detect_one(small).above(PERSON)
    assert len(people) == len(at_small) == 1
    # the same person; the two canvases differ by resampling, ~1 canvas px = 18 px at 8K
    np.testing.assert_allclose(people.xyxy[0], 10 * at_small.xyxy[0], atol=40)
    for strip in (np.full((1, 40000, 3), 90, np.uint8), np.full((40000, 1, 3), 90, np.uint8)):
        assert_inside(grpc_detector.detect_one(strip), strip)


def test_strided_views_give_the_boxes_of_their_copies(grpc_detector: PersonDetector, footage: list[np.ndarray]) -> None:
    wide = upscale_1080p(footage[0])
    for view in (wide[:, ::2], wide[100:900, 300:1500], wide[::-1]):
        from_view, from_copy = grpc_detector.detect_one(view), grpc_detector.detect_one(np.ascontiguousarray(view))
        np.testing.assert_array_equal(from_view.xyxy, from_copy.xyxy)
        np.testing.assert_array_equal(from_view.confidence, from_copy.confidence)


def test_channels_of_different_resolutions_are_batched_together(
    triton: TritonInstance, footage: list[np.ndarray]
) -> None:
    # Full frames of four resolutions never share a batch (Triton batches equal shapes only); their canvases do
    # where the cameras share an aspect ratio (16:9 here: 1080p, 720p, 768x432 and 4 MP are all 416 x 256).
    stats_connection = TritonConnection(triton_settings(triton.url))

    def batches_over_one() -> int:
        stats = stats_connection.inference_statistics("person_detector")["model_stats"][0]
        return sum(
            int(b["compute_infer"].get("count", 0)) for b in stats.get("batch_stats", []) if int(b["batch_size"]) > 1
        )

    frames = [
        upscale_1080p(footage[0]),
        cv2.resize(footage[1], (1280, 720)),
        footage[7],
        cv2.resize(footage[2], (2560, 1440)),
    ]
    before = batches_over_one()
    errors: list[BaseException] = []
    start = threading.Barrier(len(frames))

    def client(frame: np.ndarray) -> None:
        try:
            for detector in open_detector(triton, "off"):
                start.wait()
                for _ in range(15):
                    detector.detect_one(frame)
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(frame,)) for frame in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    after = batches_over_one()
    stats_connection.close()
    assert after > before, "Triton executed no batch larger than 1 for 4 channels of 4 resolutions"
