"""The person detector's network runtimes: an onnxruntime session or an OpenVINO compiled model per canvas shape.

Beside ``yolox.py`` (Triton's python backend imports sibling modules of model.py); onnxruntime and openvino are
imported only by the runner that uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

RUNTIMES: tuple[str, ...] = ("onnxruntime", "openvino")


def openvino_available() -> bool:
    """Whether the ``openvino`` runtime can be imported here (the Triton venv has it; the project venv may not)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


DEFAULT_INPUT_SIZE = 416


def fixed_side(dim: object) -> int | None:
    """A declared input side: its number, or None where the export leaves it free (a name, or unknown)."""
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxRuntimeRunner:
    """onnxruntime session, ``intra_op_threads`` threads, sequential; batch 1 exports run frame by frame.

    ``fixed_size`` is the export's declared square side, or None when its height and width are free (the shipped
    file, any multiple of 32)."""

    def __init__(self, model_path: str, providers: Sequence[str], threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(model_path, opts, providers=list(providers))
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.fixed_size = fixed_side(inp.shape[2])
        # the published export fixes batch = 1; a batch-dynamic export (symbolic dim 0) runs a batch at once
        self.fixed_batch = isinstance(inp.shape[0], int)

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        if self.fixed_batch:
            return np.concatenate(
                [self.session.run(None, {self.input_name: blob[i : i + 1]})[0] for i in range(blob.shape[0])]
            )
        return self.session.run(None, {self.input_name: blob})[0]


class OpenVinoRunner:
    """OpenVINO on CPU: ``threads`` inference threads, latency hint, one stream, no CPU pinning.

    Pinning is off because several processes (Triton, decoders, other models) share few cores; with it on, every
    process pins its one thread to the same core (measured: four processes ran at about half speed). The model
    is reshaped in memory to batch 1 and each canvas shape it is given (YOLOX's graph takes its sizes from
    ``Shape``), compiled on first use and kept: a channel's frames all have one shape, and the shapes are
    bounded (one side is the input size, the other a multiple of 32 below it). ``precision`` is OpenVINO's
    ``INFERENCE_PRECISION_HINT``: "" keeps its default (bf16 on CPUs with AMX or AVX512-BF16, else f32), "f32"
    forces full precision.
    """

    fixed_size = None  # it reshapes any export

    def __init__(self, model_path: str, threads: int, precision: str) -> None:
        import openvino as ov

        self.core = ov.Core()
        self.model = self.core.read_model(model_path)
        self.config: dict = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "ENABLE_CPU_PINNING": False,
        }
        if precision:
            self.config["INFERENCE_PRECISION_HINT"] = precision
        self.requests: dict[tuple[int, int], Any] = {}
        self.precision = "f32"
        self._request(DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE)  # a model this runtime cannot compile fails here

    def _request(self, height: int, width: int) -> Any:  # openvino's InferRequest (imported lazily)
        if (height, width) not in self.requests:
            self.model.reshape({self.model.input(0).get_any_name(): [1, 3, height, width]})
            compiled = self.core.compile_model(self.model, "CPU", self.config)
            hint = compiled.get_property("INFERENCE_PRECISION_HINT")
            self.precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)  # "bf16", "f32"
            self.requests[(height, width)] = compiled.create_infer_request()
        return self.requests[(height, width)]

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        request = self._request(blob.shape[2], blob.shape[3])
        out = []
        for i in range(blob.shape[0]):
            request.infer({0: blob[i : i + 1]})
            out.append(request.get_output_tensor(0).data.copy())  # the request reuses its output buffer
        return np.concatenate(out)
