"""``make demo``: the five experiments on the synthetic sample, on the CPU, as one Hydra multirun.

The three fine-tuning experiments start from ImageNet weights when they can be had (torchvision's cache
or a download). When they cannot (an offline machine), the demo first trains a ResNet-50 on the sample
itself and starts the fine-tuning experiments from that backbone instead, and says so: those rows are then
"fine-tuned from a sample-trained backbone", not ImageNet fine-tuning.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import torch

from artworks.errors import ArtworksError
from artworks.models.weights import fetch_state_dict, read_state_dict

EXPERIMENTS = [
    "scratch_resnet50",
    "finetune_resnet50",
    "freeze14_resnet50",
    "freeze13_resnet50",
    "cbam_resnet50",
]
DEMO_DIR = Path("outputs/demo")
STANDIN_WEIGHTS = DEMO_DIR / "standin" / "resnet50-sample-pretrained.pth"
DOWNLOAD_TIMEOUT_S = 20


def _train(*overrides: str) -> None:
    cmd = [sys.executable, "-m", "artworks.train", *overrides, "experiment=demo"]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)


def imagenet_weights_available() -> bool:
    """True when torchvision's ResNet-50 ImageNet weights are cached or downloadable."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        fetch_state_dict("resnet50", "IMAGENET1K_V2")
        return True
    except ArtworksError as err:
        print(f"\n{err.render()}\n")
        return False
    finally:
        socket.setdefaulttimeout(previous)


def train_standin_backbone() -> Path:
    """Train ResNet-50 from scratch on the sample and save its weights in torchvision's format."""
    run_dir = STANDIN_WEIGHTS.parent
    _train("model=scratch_resnet50", "logger=none", "test=false", f"hydra.run.dir={run_dir}")
    best = sorted(run_dir.glob("checkpoints/epoch_*.ckpt"))[-1]  # save_top_k=1: the best epoch only
    torch.save(read_state_dict(best), STANDIN_WEIGHTS)
    return STANDIN_WEIGHTS


def main() -> None:
    print("artworks demo: five ResNet-50 experiments on synthetic paintings, CPU only.\n")
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    overrides = []
    if imagenet_weights_available():
        note = "Fine-tuning experiments start from torchvision's ImageNet weights (IMAGENET1K_V2)."
    else:
        print(
            "ImageNet weights are not available on this machine, so the demo first trains a ResNet-50\n"
            "on the sample data and uses THAT as the starting point of the three fine-tuning experiments.\n"
            "Their rows below are NOT ImageNet fine-tuning; with the real weights cached they would be.\n",
            flush=True,
        )
        overrides.append(f"model.net.weights_path={train_standin_backbone().resolve()}")
        note = (
            "finetune/freeze rows started from a backbone trained on the sample itself "
            f"({STANDIN_WEIGHTS}), not from ImageNet weights."
        )
    sweep_dir = DEMO_DIR / "sweep"
    _train("-m", f"model={','.join(EXPERIMENTS)}", f"hydra.sweep.dir={sweep_dir}", *overrides)
    classes = json.loads(next(sweep_dir.glob("*/metrics.json")).read_text())["classes"]
    print(f"The table above is {sweep_dir / 'comparison.md'}; chance macro accuracy is 1/{classes}.")
    print(f"Note: {note}\nRun outputs: {sweep_dir}/")


if __name__ == "__main__":
    main()
