#!/usr/bin/env python3
"""int8 copies of the person detector, derived from the committed models/person_detector/1/model.onnx.

    python hack/quantize-detector.py --out ~/.cache/footfall/detector-int8

Writes ``model_int8_qdq.onnx`` (static QDQ: per-channel int8 weights, uint8 activations calibrated with the
99.999th percentile on frames of input/footage/intel/*.mp4, letterboxed exactly like ``yolox.py``) and
``model_int8_dynamic.onnx`` (dynamic: uint8 weights, activations quantised at run time), with onnxruntime's
own tools (``onnxruntime.quantization``, which needs the ``onnx`` package: the bench venv has it). Nothing is
downloaded. The export is opset 11, where DequantizeLinear has no per-channel axis, so it is converted to
opset 13 first.

Measured (bench/detector_levers_bench.py) these copies are not faster than the fp32 file on onnxruntime and lose
people (the QDQ copy: 1 in 12 person boxes at score >= 0.5 on the intel clips, 2 in 3 on a dense street clip;
the dynamic one nearly all), so they are not shipped: this script exists
so that the measurement can be repeated. Calibration frames are the odd-numbered samples of each clip; the bench
compares on other frames.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "person_detector" / "1" / "model.onnx"
CLIPS = sorted((ROOT / "input" / "footage" / "intel").glob("*.mp4"))
sys.path.insert(0, str(MODEL.parent))

from yolox import letterbox, to_blob  # noqa: E402

QDQ_NAME = "model_int8_qdq.onnx"
DYNAMIC_NAME = "model_int8_dynamic.onnx"


def calibration_frames(per_clip: int = 12, width: int = 1280, height: int = 720) -> list[np.ndarray]:
    """``per_clip`` frames of each clip, evenly spaced at odd indices, resized to ``width`` x ``height``."""
    frames = []
    for clip in CLIPS:
        capture = cv2.VideoCapture(str(clip))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = {1 + 2 * int(k) for k in np.linspace(0, (total - 2) // 2, per_clip)}  # odd indices only
        index = 0
        kept = 0
        while kept < len(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                frames.append(cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR))
                kept += 1
            index += 1
        capture.release()
    return frames


def quantize(out_dir: Path, size: int = 416, per_clip: int = 12) -> dict[str, Path]:
    """Write the int8 copies into ``out_dir``; returns ``{"qdq": path, "dynamic": path}``."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out_dir.mkdir(parents=True, exist_ok=True)
    blobs = [to_blob([letterbox(f, size)[0]]) for f in calibration_frames(per_clip)]

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{"images": b} for b in blobs])

        def get_next(self):  # noqa: ANN201 - onnxruntime's interface
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        op13 = Path(tmp) / "op13.onnx"
        pre = Path(tmp) / "pre.onnx"
        onnx.save(version_converter.convert_version(onnx.load(str(MODEL)), 13), str(op13))
        quant_pre_process(str(op13), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(out_dir / QDQ_NAME),
            Frames(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.999},
        )
        quantize_dynamic(str(pre), str(out_dir / DYNAMIC_NAME), weight_type=QuantType.QUInt8)
    return {"qdq": out_dir / QDQ_NAME, "dynamic": out_dir / DYNAMIC_NAME}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "footfall" / "detector-int8")
    parser.add_argument("--frames-per-clip", type=int, default=12)
    args = parser.parse_args()
    for kind, path in quantize(args.out, per_clip=args.frames_per_clip).items():
        print(f"{kind}: {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
