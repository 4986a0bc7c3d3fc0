"""Specific inference failures, so callers can tell "retry later" from "fix the caller"."""


class InferenceError(RuntimeError):
    """Any failure of an inference request."""


class TritonUnavailableError(InferenceError):
    """The server cannot be reached (down, restarting, wrong address). Retry with backoff."""


class InferenceTimeoutError(InferenceError):
    """The server took longer than the request timeout."""


class ModelNotReadyError(InferenceError):
    """The server answers but the model is not loaded or not ready."""


class InvalidInputError(InferenceError):
    """The request itself is wrong (dtype, shape); retrying cannot help. The message names the input."""
