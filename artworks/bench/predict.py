"""Inference speed on the CPU: the project's prediction path vs the script a user would write.

    python -m artworks.bench predict [--images 32] [--rounds 2] [--arch resnet50] [--image-size 224]

On a folder of JPEGs of the real dataset's size mix (generated once, as ``artworks.bench data`` does), with
the same weights, in one run, alternating (A B B A) so that machine noise hits both alike:

- **naive**: one image at a time, PIL full decode, torchvision ``Resize`` + ``ToTensor`` + ``Normalize``,
  eager PyTorch: what a user writes first;
- **project**: ``artworks.inference.predictor.predict_files`` as ``python -m artworks.predict`` runs it
  (``conf/predict.yaml``'s batch size, workers and backend): JPEG draft-mode decode in DataLoader workers
  overlapping the network, batches, and ONNX Runtime on the CPU.

Then the network alone, on random uint8 batches of 1 and 32: PyTorch eager (NCHW and channels_last) vs ONNX
Runtime, and how far ONNX Runtime's probabilities are from PyTorch's. Prints the line
``predict: project N img/s vs naive M img/s: R x``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from artworks.bench.data import generate
from artworks.data.images import IMAGENET_MEAN, IMAGENET_STD
from artworks.inference.predictor import (
    OnnxNetwork,
    Predictor,
    export_onnx_file,
    onnx_installed,
    onnx_path,
    predict_files,
)
from artworks.training.module import ArtistClassifier

NUM_CLASSES = 50


def make_module(arch: str, image_size: int) -> ArtistClassifier:
    """A classifier with random (seeded) weights: speed does not depend on what the weights learned."""
    torch.manual_seed(0)
    return ArtistClassifier(
        net={"arch": arch, "weights": None},
        class_names=[f"artist_{i}" for i in range(NUM_CLASSES)],
        optimizer={"_target_": "torch.optim.Adam", "lr": 1e-3},
        scheduler=None,
        preprocess={"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "image_size": image_size},
    ).eval()


def naive_script(net: torch.nn.Module, image_size: int) -> Callable[[list[Path]], list[int]]:
    """The prediction loop a user writes first: one file at a time, full decode, eager PyTorch."""
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.Resize((image_size, image_size)),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )

    def run(paths: list[Path]) -> list[int]:
        top = []
        with torch.no_grad():
            for path in paths:
                image = Image.open(path).convert("RGB")
                top.append(int(net(transform(image).unsqueeze(0)).softmax(dim=1).argmax()))
        return top

    return run


def project_path(predictor: Predictor, batch_size: int, workers: int) -> Callable[[list[Path]], list[int]]:
    """``predict_files`` as the predict command runs it."""

    def run(paths: list[Path]) -> list[int]:
        predictions, _ = predict_files(predictor, paths, topk=1, batch_size=batch_size, num_workers=workers)
        return [predictor.class_names.index(p.top[0][0]) for p in predictions]

    return run


def alternate(
    runs: dict[str, Callable[[list[Path]], Any]], paths: list[Path], rounds: int
) -> dict[str, float]:
    """Images per second of each run, A B B A ...: the median over rounds."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            runs[name](paths)
            rates[name].append(len(paths) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def network_table(module: ArtistClassifier, onnx: OnnxNetwork | None, size: int, seconds: float) -> list[str]:
    """img/s of the network alone (uint8 in, normalisation included) per backend, at batch 1 and 32."""
    eager = module.net
    backends: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "PyTorch eager, NCHW": lambda x: eager(module.preprocess(x)),
        "PyTorch eager, channels_last": lambda x: eager(
            module.preprocess(x).contiguous(memory_format=torch.channels_last)
        ),
    }
    if onnx is not None:
        backends["ONNX Runtime"] = onnx.logits
    lines = [f"{'network alone (img/s)':<30} {'batch 1':>9} {'batch 32':>9}"]
    rates: dict[str, list[float]] = {name: [] for name in backends}
    for batch in (1, 32):
        x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
        for name, run in backends.items():
            channels_last = "channels_last" in name
            eager.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            with torch.no_grad():
                run(x)  # warm-up
                started, n = time.perf_counter(), 0
                while n == 0 or time.perf_counter() - started < seconds:
                    run(x)
                    n += batch
            rates[name].append(n / (time.perf_counter() - started))
    eager.to(memory_format=torch.contiguous_format)
    lines += [f"{name:<30} {r[0]:9.1f} {r[1]:9.1f}" for name, r in rates.items()]
    if onnx is not None:
        x = torch.randint(0, 256, (4, 3, size, size), dtype=torch.uint8)
        with torch.no_grad():
            gap = (onnx.logits(x).softmax(1) - eager(module.preprocess(x)).softmax(1)).abs().max()
        lines.append(f"ONNX Runtime vs PyTorch: largest probability difference {float(gap):.1e}")
    return lines


def main(argv: list[str] | None = None) -> dict[str, float]:
    from artworks.config import config_dir

    parser = argparse.ArgumentParser(
        prog="python -m artworks.bench predict", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=int, default=32, help="JPEGs of the real size mix")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternating")
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--seconds", type=float, default=3.0, help="per cell of the network table")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "artworks-bench-predict")
    parser.add_argument("--onnx-cache", type=Path, help="exported models (default: DIR/onnx)")
    args = parser.parse_args(argv)
    logging.getLogger("artworks.inference.predictor").setLevel(logging.WARNING)

    from omegaconf import OmegaConf

    defaults = OmegaConf.load(config_dir() / "predict.yaml")  # what python -m artworks.predict uses
    batch_size, workers = defaults.batch_size, defaults.num_workers
    # what backend=auto picks for a folder large enough to pay for the export (AUTO_ONNX_MIN_IMAGES)
    backend = "onnx" if defaults.get("backend") == "auto" and onnx_installed() else defaults.get("backend")
    root = generate(args.dir, args.images)
    onnx_cache = args.onnx_cache or args.dir / "onnx"
    paths = sorted((root / "images" / "images").rglob("*.jpg"))
    megapixels = sorted(w * h / 1e6 for w, h in (Image.open(p).size for p in paths))
    module = make_module(args.arch, args.image_size)
    started = time.perf_counter()
    predictor = Predictor(module, device="cpu", backend=backend, onnx_cache=onnx_cache)
    prepare_s = time.perf_counter() - started
    runs = {
        "naive": naive_script(module.net, args.image_size),
        "project": project_path(predictor, batch_size, workers),
    }
    print(
        f"{len(paths)} JPEGs (median {statistics.median(megapixels):.2f} MP, max {megapixels[-1]:.1f} MP), "
        f"{args.arch} at {args.image_size}², {torch.get_num_threads()} threads, {os.cpu_count()} CPU cores "
        f"(shared: other processes lower every figure alike)"
    )
    print(
        f"project: batch {batch_size}, {workers} decoding workers, backend={backend} -> "
        f"{'ONNX Runtime' if predictor.onnx else 'PyTorch'} (set-up incl. export or cache: {prepare_s:.1f} s)"
    )
    rates = alternate(runs, paths, args.rounds)
    print(
        f"predict: project {rates['project']:.1f} img/s vs naive {rates['naive']:.1f} img/s: "
        f"{rates['project'] / rates['naive']:.2f} x"
    )
    onnx = predictor.onnx
    if onnx is None and onnx_installed():
        path = onnx_path(module, args.image_size, onnx_cache)
        if not path.is_file():
            export_onnx_file(module, args.image_size, path)
        onnx = OnnxNetwork(path)
    for line in network_table(module, onnx, args.image_size, args.seconds):
        print(line)
    return rates


if __name__ == "__main__":
    main()
