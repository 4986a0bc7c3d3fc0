#!/usr/bin/env python3
"""models/person_detector/1/model.onnx from the published YOLOX-Nano export, with its input height and width free.

    $(hack/bench-venv.sh) hack/dynamic-detector.py [--source ../shared/models/person_detector/yolox_nano_coco_416.onnx]

The published export declares a fixed 1x3x416x416 input (and its 640 twin differs from it only in those declared
numbers): onnxruntime refuses any other shape, so every frame had to be padded to a square. YOLOX's graph takes
its sizes from ``Shape``, so the same weights run any height and width that are multiples of the largest stride
(32). This script changes only the declared dimensions (input ``images`` [1, 3, height, width], output
``output`` [1, anchors, 85]) and drops the stored intermediate shapes; the weights and nodes are untouched, which
it checks. Then a 16:9 frame at input size 416 runs on a 416x256 canvas instead of 416x416: the same pixels at
the same scale, 0.62 of the work (bench/detector_levers_bench.py measures speed and agreement). It needs the
``onnx`` package (the bench venv has it); nothing is downloaded, and the tests do not run it.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "models" / "person_detector" / "1" / "model.onnx"
SOURCE = ROOT.parent / "shared" / "models" / "person_detector" / "yolox_nano_coco_416.onnx"


def free_height_and_width(source: Path, target: Path) -> None:
    import onnx

    model = onnx.load(str(source))
    before = [init.SerializeToString() for init in model.graph.initializer]
    nodes = [node.SerializeToString() for node in model.graph.node]
    image = model.graph.input[0].type.tensor_type.shape.dim
    for dim, name in ((image[2], "height"), (image[3], "width")):
        dim.ClearField("dim_value")
        dim.dim_param = name
    anchors = model.graph.output[0].type.tensor_type.shape.dim[1]
    anchors.ClearField("dim_value")
    anchors.dim_param = "anchors"
    del model.graph.value_info[:]  # shapes inferred at 416x416 would contradict any other canvas
    onnx.checker.check_model(model)
    assert [init.SerializeToString() for init in model.graph.initializer] == before, "weights changed"
    assert [node.SerializeToString() for node in model.graph.node] == nodes, "graph changed"
    onnx.save(model, str(target))
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"{target.relative_to(ROOT)}: input {[d.dim_param or d.dim_value for d in image]}, sha256 {digest[:16]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="the published 416x416 export")
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args()
    free_height_and_width(args.source, args.target)


if __name__ == "__main__":
    main()
