"""Run one benchmark: ``artworks-bench NAME [args]`` (or ``python -m artworks.bench NAME``).

NAME is a module of ``artworks.bench``; the rest of the command line is its own.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from artworks.runtime.command import command

BENCHMARKS = {
    "data": ("artworks.bench.data", "loader img/s: plain torchvision vs the project, uncached and cached"),
    "train": ("artworks.bench.train", "training img/s: Trainer.fit vs a plain loop; GPU precision/layout"),
    "models": ("artworks.bench.models", "the model table: parameters, GFLOPs, train img/s"),
    "predict": ("artworks.bench.predict", "inference img/s: predict_files vs a naive script; ONNX Runtime"),
    "recipe": ("artworks.bench.recipe", "recipe=seed vs modern vs each lever alone (synthetic, CPU)"),
    "gpu_check": ("artworks.bench.gpu_check", "one short GPU run: speed, data, study, DDP (make gpu-check)"),
}


@command
def main(argv: Sequence[str] | None = None) -> None:
    """Pick the benchmark by name and hand it the rest of the command line."""
    parser = argparse.ArgumentParser(
        prog="artworks-bench",
        description=__doc__.split("\n\n")[0],
        epilog="\n".join(f"  {name:8s}{about}" for name, (_, about) in BENCHMARKS.items())
        + "\n`artworks-bench NAME --help` lists a benchmark's own options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=BENCHMARKS, help="the benchmark")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its own arguments")
    args = parser.parse_args(argv)
    importlib.import_module(BENCHMARKS[args.name][0]).main(args.args)


if __name__ == "__main__":
    main()
