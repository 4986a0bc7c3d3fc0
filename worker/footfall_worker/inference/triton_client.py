"""The connection to the shared Triton server over `tritonclient.grpc`: readiness, retries, typed errors.

One `TritonConnection` per thread: each holds its own gRPC channel and, on loopback, its own shared-memory
region, so concurrent channels never contend on a lock. The models' clients: `person_detector.py`,
`gender_classifier.py`.
"""

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from footfall_worker.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotReadyError,
    TritonUnavailableError,
)
from footfall_worker.retry import Backoff
from footfall_worker.settings import TritonSettings

log = logging.getLogger(__name__)

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
T = TypeVar("T")


def _translate(error: InferenceServerException, url: str, model: str) -> InferenceError:
    """Map a tritonclient exception to our specific error types."""
    status = str(error.status() or "")
    message = error.message() or str(error)
    lowered = message.lower()
    if "UNAVAILABLE" in status:
        return TritonUnavailableError(f"Triton at {url} is unreachable: {message}")
    if "DEADLINE_EXCEEDED" in status or "deadline exceeded" in lowered:
        return InferenceTimeoutError(f"Triton at {url}: model {model!r} did not answer in time: {message}")
    if "unknown model" in lowered or "not ready" in lowered or ("not found" in lowered and "model" in lowered):
        return ModelNotReadyError(f"Triton at {url}: model {model!r} is not ready: {message}")
    if "INVALID_ARGUMENT" in status:
        return InvalidInputError(f"model {model!r} rejected the request: {message}")
    return InferenceError(f"Triton at {url}, model {model!r}: {message} ({status or 'no status'})")


def _channel_args(settings: TritonSettings) -> list[tuple[str, int]]:
    keepalive = grpcclient.KeepAliveOptions()
    return [
        ("grpc.max_send_message_length", 2**31 - 1),
        ("grpc.max_receive_message_length", 2**31 - 1),
        ("grpc.keepalive_time_ms", keepalive.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", keepalive.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", int(keepalive.keepalive_permit_without_calls)),
        ("grpc.http2.max_pings_without_data", keepalive.http2_max_pings_without_data),
        # gRPC's own reconnect backoff grows to 120 s: a restarted Triton would stay "unavailable" to us
        # for minutes. Cap it so the channel notices a server that is back within a couple of seconds.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", int(settings.reconnect_backoff_max_s * 1000)),
    ]


class TritonConnection:
    """A gRPC connection with timeouts, readiness checks and retry with backoff on unreachable servers."""

    def __init__(self, settings: TritonSettings) -> None:
        self.settings = settings
        self.url = settings.url
        self.client = grpcclient.InferenceServerClient(url=settings.url, channel_args=_channel_args(settings))

    @property
    def on_loopback(self) -> bool:
        host = self.url.rsplit(":", 1)[0]
        return host in _LOOPBACK_HOSTS

    def use_shared_memory(self) -> bool:
        mode = self.settings.shared_memory
        return mode == "on" or (mode == "auto" and self.on_loopback)

    def model_problem(self, model: str) -> str | None:
        """Why `model` cannot answer now, in the client's words (None when the server and the model are ready);
        each call is bounded by `ready_timeout_s` and never raises."""
        timeout = self.settings.ready_timeout_s
        try:
            if not self.client.is_server_ready(client_timeout=timeout):
                return f"Triton at {self.url} is not ready"
            if not self.client.is_model_ready(model, client_timeout=timeout):
                return f"Triton at {self.url}: model {model!r} is not ready"
        except InferenceServerException as error:
            return f"Triton at {self.url} does not answer: {error.message() or error}"
        return None

    def is_model_ready(self, model: str) -> bool:
        """True when the server is live and `model` is loaded and ready; False on any failure, quickly."""
        return self.model_problem(model) is None

    def wait_until_ready(self, models: Sequence[str], timeout_s: float) -> None:
        """Block until every model is ready or raise `ModelNotReadyError`/`TritonUnavailableError`."""
        deadline = time.monotonic() + timeout_s
        polls = Backoff(initial=0.1, factor=2.0, maximum=1.0, jitter=0.0)
        while True:
            missing = [model for model in models if not self.is_model_ready(model)]
            if not missing:
                return
            if time.monotonic() >= deadline:
                if not self._server_live():
                    raise TritonUnavailableError(f"Triton at {self.url} is not reachable after {timeout_s:.0f} s")
                raise ModelNotReadyError(f"Triton at {self.url}: model(s) {', '.join(missing)} not ready")
            time.sleep(min(polls.next_delay(), max(0.0, deadline - time.monotonic())))

    def _server_live(self) -> bool:
        try:
            return bool(self.client.is_server_live(client_timeout=self.settings.ready_timeout_s))
        except InferenceServerException:
            return False

    def call(self, model: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` (one gRPC call on `self.client`), translating its errors for `model`.

        Unreachable servers are retried `settings.retries` times with exponential backoff; every other
        failure is raised at once as a specific `InferenceError`.
        """
        backoff = Backoff(
            initial=self.settings.retry_backoff_s, factor=2.0, maximum=self.settings.retry_backoff_max_s, jitter=0.0
        )
        for attempt_number in range(self.settings.retries + 1):
            try:
                return attempt()
            except InferenceServerException as error:
                translated = _translate(error, self.url, model)
                if not isinstance(translated, TritonUnavailableError) or attempt_number == self.settings.retries:
                    raise translated from None
                delay = backoff.next_delay()
                log.debug("triton unreachable, retrying", extra={"model": model, "delay_s": delay})
                time.sleep(delay)
        raise AssertionError("unreachable")

    def infer(
        self,
        model: str,
        inputs: list[grpcclient.InferInput],
        outputs: Sequence[str],
        parameters: dict[str, int | str] | None = None,
    ) -> grpcclient.InferResult:
        """One inference request; `parameters` travel as Triton request parameters (read by the model)."""
        requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
        return self.call(
            model,
            lambda: self.client.infer(
                model,
                inputs,
                outputs=requested,
                client_timeout=self.settings.request_timeout_s,
                parameters=parameters,
            ),
        )

    def inference_statistics(self, model: str) -> dict:
        return self.call(
            model,
            lambda: self.client.get_inference_statistics(
                model, as_json=True, client_timeout=self.settings.ready_timeout_s
            ),
        )

    def close(self) -> None:
        self.client.close()


def check_images(name: str, images: Sequence[np.ndarray]) -> None:
    """Reject what the model cannot take, naming the input: BGR uint8 arrays of shape (H, W, 3)."""
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray):
            raise InvalidInputError(f"{name}[{index}]: expected a numpy array, got {type(image).__name__}")
        if image.dtype != np.uint8:
            raise InvalidInputError(f"{name}[{index}]: expected dtype uint8 (BGR bytes), got {image.dtype}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise InvalidInputError(f"{name}[{index}]: expected shape (H, W, 3) with H, W > 0, got {image.shape}")


def chunks(count: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]
