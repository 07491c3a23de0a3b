"""Training throughput: the project's LightningModule inside ``Trainer.fit`` versus a plain PyTorch loop.

    python -m artworks.bench train                      # CPU: Lightning overhead at a small resolution
    python -m artworks.bench train --gpu-suite          # + ResNet-50 224² batch 256 precision/layout/compile,
                                                        #   end-to-end from the image cache, sweep estimate

Both sides do the same work on the same in-memory uint8 batches: the module's preprocessing (rot90 +
normalisation), forward, cross-entropy, the module's torchmetrics update, backward and the optimizer step.
They alternate (A B B A ...) over several rounds so that machine noise hits both alike; the figure is the
median over rounds of images per second, timed over the steps after a warm-up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, Dataset

from artworks.bench.models import compose_config
from artworks.config.study import study_models
from artworks.data.images import IMAGENET_MEAN, IMAGENET_STD
from artworks.training.module import ArtistClassifier

NUM_CLASSES = 50
NET_SWITCHES = ("freeze", "activation", "depthwise", "attention")  # what tells the five apart
# The real dataset's split (8446 images, 80/10/10) and the study's epochs, for the sweep estimate.
SWEEP_TRAIN, SWEEP_VAL, SWEEP_TEST, SWEEP_EPOCHS = 6757, 845, 844, 30


@dataclass
class Setting:
    """One measured configuration."""

    arch: str = "resnet50"
    image_size: int = 64
    batch_size: int = 16
    precision: str = "32-true"
    channels_last: bool = False
    compile: bool = False
    net: dict[str, Any] | None = None
    compile_options: dict[str, Any] | None = None  # torch.compile arguments, e.g. {"backend": "eager"}

    def label(self) -> str:
        extras = [x for x, on in (("channels_last", self.channels_last), ("compile", self.compile)) if on]
        return "+".join([self.precision, *extras])


class InMemoryBatches(Dataset):
    """Whole uint8 batches sliced from tensors in memory (host or device): no decoding, no collation."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, batches: int) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.batches = batch_size, batches

    def __len__(self) -> int:
        return self.batches

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = (i * self.batch_size) % (len(self.images) - self.batch_size + 1)
        return self.images[start : start + self.batch_size], self.labels[start : start + self.batch_size]


def make_data(setting: Setting, batches: int, device: torch.device, pool_batches: int = 4) -> DataLoader:
    """A loader of ``batches`` random uint8 batches (a pool of ``pool_batches`` reused) on ``device``."""
    generator = torch.Generator().manual_seed(0)
    n = setting.batch_size * pool_batches
    size = setting.image_size
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    dataset = InMemoryBatches(images.to(device), labels.to(device), setting.batch_size, batches)
    return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=0)


def make_module(setting: Setting) -> ArtistClassifier:
    torch.manual_seed(0)
    return ArtistClassifier(
        net={"arch": setting.arch, "weights": None, **(setting.net or {})},
        class_names=[f"artist_{i}" for i in range(NUM_CLASSES)],
        optimizer={"_target_": "torch.optim.Adam", "lr": 3e-4},
        scheduler=None,
        preprocess={"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "rotate90": True},
        channels_last=setting.channels_last,
        compile=setting.compile,
        compile_options=setting.compile_options,
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _StepClock(L.Callback):
    """Start time of each training step from ``warmup`` on, and the end of the last: what :func:`plain_loop`
    records too. A step's time thus covers everything up to the next step (hooks, logging, next batch).

    Steps are counted across epochs (Lightning's ``batch_idx`` restarts every epoch, and a real dataset's
    epoch can be shorter than warm-up + timed steps). ``waits`` holds, per timed step after the first, the
    time from the end of the previous step to the start of this one: fetching the batch from the loader and
    moving it to the device, which the GPU spends idle unless the loader keeps ahead.
    """

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.last, self.device = warmup, warmup + steps - 1, device
        self.ticks: list[float] = []
        self.waits: list[float] = []
        self.step = 0
        self._ended: float | None = None

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, i: int
    ) -> None:
        if self.step == self.warmup:
            _sync(self.device)
        now = time.perf_counter()
        if self.step >= self.warmup:
            self.ticks.append(now)
            if self._ended is not None:
                self.waits.append(now - self._ended)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, out: Any, batch: Any, i: int
    ) -> None:
        if self.step == self.last:
            _sync(self.device)
            self.ticks.append(time.perf_counter())
        self.step += 1
        self._ended = time.perf_counter()


def _step_seconds(ticks: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(ticks)]


def img_per_s(step_seconds: list[float], batch_size: int) -> float:
    return len(step_seconds) * batch_size / sum(step_seconds)


def _timed_fit(setting: Setting, warmup: int, steps: int, device: torch.device, **data: Any) -> list[float]:
    """Seconds of each timed step of ``Trainer.fit``; ``data``: ``fit``'s data arguments."""
    return _step_seconds(clocked_fit(setting, warmup, steps, device, **data).ticks)


def clocked_fit(setting: Setting, warmup: int, steps: int, device: torch.device, **data: Any) -> _StepClock:
    """``Trainer.fit`` for ``warmup + steps`` steps; the clock holds the timed steps and loader waits."""
    module = make_module(setting)
    clock = _StepClock(warmup, steps, device)
    trainer = L.Trainer(
        accelerator=device.type,
        devices=1,
        precision=setting.precision,
        max_steps=warmup + steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        benchmark=device.type == "cuda",
        callbacks=[clock],
    )
    trainer.fit(module, **data)
    return clock


def lightning_fit(setting: Setting, warmup: int, steps: int, device: torch.device) -> list[float]:
    """Seconds of each timed step of ``Trainer.fit`` on in-memory batches."""
    return _timed_fit(
        setting, warmup, steps, device, train_dataloaders=make_data(setting, warmup + steps, device)
    )


def plain_loop(setting: Setting, warmup: int, steps: int, device: torch.device) -> list[float]:
    """Seconds of each timed step of a hand-written loop doing the module's training step."""
    module = make_module(setting).to(device)
    module.train()
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as Trainer(benchmark=...) sets it
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=3e-4)
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(setting.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    ticks: list[float] = []
    for i, (images, labels) in enumerate(make_data(setting, warmup + steps, device)):
        if i == warmup:
            _sync(device)
        if i >= warmup:
            ticks.append(time.perf_counter())
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        x = module.preprocess(images, augment=True).contiguous(memory_format=module.memory_format)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = module(x)
            loss = F.cross_entropy(logits, labels)
        module.train_metrics.update(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    _sync(device)
    ticks.append(time.perf_counter())
    return _step_seconds(ticks)


def compare(setting: Setting, warmup: int, steps: int, rounds: int, device: torch.device) -> dict[str, Any]:
    """Lightning vs plain loop, interleaved A B B A ...

    The figure is the batch size over the median step time of all rounds: on a shared machine a busy
    neighbour slows single steps, which the median ignores and a total would not. ``rounds`` keeps each
    run's overall img/s.
    """
    steps_s: dict[str, list[float]] = {"lightning": [], "plain": []}
    rounds_ips: dict[str, list[float]] = {"lightning": [], "plain": []}
    order = [("lightning", lightning_fit), ("plain", plain_loop)]
    for r in range(rounds):
        for name, fn in order if r % 2 == 0 else order[::-1]:
            seconds = fn(setting, warmup, steps, device)
            steps_s[name] += seconds
            rounds_ips[name].append(img_per_s(seconds, setting.batch_size))
    lightning, plain = (setting.batch_size / statistics.median(steps_s[k]) for k in ("lightning", "plain"))
    return {
        **asdict(setting),
        "lightning_img_per_s": lightning,
        "plain_img_per_s": plain,
        "overhead": 1 - lightning / plain,
        "rounds": rounds_ips,
    }


def end_to_end(
    root: Path, setting: Setting, warmup: int, steps: int, workers: int, device: torch.device | None = None
) -> dict[str, Any]:
    """Images per second of ``Trainer.fit`` fed by the project's data pipeline (the memory-mapped cache),
    and the share of the step time spent waiting for the loader."""
    from artworks.data.datamodule import ArtworksDataModule

    datamodule = ArtworksDataModule(
        root=str(root), image_size=setting.image_size, batch_size=setting.batch_size, num_workers=workers
    )
    clock = clocked_fit(setting, warmup, steps, device or torch.device("cuda"), datamodule=datamodule)
    seconds = _step_seconds(clock.ticks)
    return {
        **asdict(setting),
        "root": str(root),
        "workers": workers,
        "img_per_s": img_per_s(seconds, setting.batch_size),
        "loader_share": sum(clock.waits) / sum(seconds),
    }


@torch.no_grad()
def eval_throughput(setting: Setting, batches: int, device: torch.device) -> float:
    """Images per second of inference (preprocess + forward) with the setting's precision and layout."""
    module = make_module(setting).to(device).eval()
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(setting.precision)
    data = list(make_data(setting, batches + 2, device))
    for i, (images, _) in enumerate(data):
        if i == 2:
            _sync(device)
            started = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            module(module.preprocess(images).contiguous(memory_format=module.memory_format))
    _sync(device)
    return batches * setting.batch_size / (time.perf_counter() - started)


def study_nets() -> dict[str, dict[str, Any]]:
    """The study's experiments (conf/experiment/study.yaml) as build_model switches (random init)."""
    nets = {}
    for name in study_models():
        net = compose_config(name, []).model.net
        nets[name] = {k: OmegaConf.to_container(net, resolve=True)[k] for k in NET_SWITCHES}
    return nets


def sweep_estimate(base: Setting, warmup: int, steps: int) -> dict[str, Any]:
    """Minutes for the five experiments x 30 epochs on the real split, from measured throughputs."""
    device = torch.device("cuda")
    rows, total_s = {}, 0.0
    for name, net in study_nets().items():
        setting = Setting(**{**asdict(base), "net": net})
        train = img_per_s(lightning_fit(setting, warmup, steps, device), setting.batch_size)
        evaluate = eval_throughput(setting, steps, device)
        seconds = SWEEP_EPOCHS * (SWEEP_TRAIN / train + SWEEP_VAL / evaluate) + SWEEP_TEST / evaluate
        rows[name] = {"train_img_per_s": train, "eval_img_per_s": evaluate, "minutes": seconds / 60}
        total_s += seconds
    return {"setting": base.label(), "experiments": rows, "total_minutes": total_s / 60}


def _print(title: str, lines: list[str]) -> None:
    print(f"\n== {title}")
    for line in lines:
        print("  " + line)


def run_gpu_suite(args: argparse.Namespace, report: dict[str, Any]) -> None:
    device = torch.device("cuda")
    report["gpu"] = torch.cuda.get_device_name(device)
    torch.set_float32_matmul_precision("high")
    variants = [
        Setting("resnet50", 224, args.gpu_batch_size, "32-true"),
        Setting("resnet50", 224, args.gpu_batch_size, "bf16-mixed"),
        Setting("resnet50", 224, args.gpu_batch_size, "bf16-mixed", channels_last=True),
        Setting("resnet50", 224, args.gpu_batch_size, "bf16-mixed", channels_last=True, compile=True),
    ]
    fast = variants[2]
    results = {
        v.label(): img_per_s(lightning_fit(v, args.gpu_warmup, args.gpu_steps, device), v.batch_size)
        for v in variants
    }
    report["resnet50_224"] = results
    _print(
        f"ResNet-50 224², batch {args.gpu_batch_size}, Trainer.fit on {report['gpu']} (img/s)",
        [f"{label:<32} {ips:8.0f}" for label, ips in results.items()],
    )
    overhead = compare(fast, args.gpu_warmup, args.gpu_steps, args.rounds, device)
    report["gpu_overhead"] = overhead
    _print(
        f"Lightning vs plain loop, {fast.label()}",
        [
            f"lightning {overhead['lightning_img_per_s']:.0f} img/s,"
            f" plain {overhead['plain_img_per_s']:.0f} img/s, overhead {overhead['overhead']:+.1%}"
        ],
    )
    root = Path(args.data_root).expanduser() if args.data_root else None
    if root is None or not (root / "artists.csv").is_file():
        report["end_to_end"] = f"skipped: no dataset at {root} (--data-root or ARTWORKS_DATA)"
        _print("End to end from the image cache", [report["end_to_end"]])
    else:
        e2e = end_to_end(root, fast, args.gpu_warmup, args.gpu_steps, args.workers)
        report["end_to_end"] = e2e
        _print(
            f"End to end from the image cache, {fast.label()}",
            [f"{e2e['img_per_s']:.0f} img/s ({root}); waiting for the loader: {e2e['loader_share']:.0%}"],
        )
    estimate = sweep_estimate(
        Setting("resnet50", 224, 32, "bf16-mixed", channels_last=True), 5, args.gpu_steps
    )
    report["sweep_estimate"] = estimate
    _print(
        f"Five experiments x {SWEEP_EPOCHS} epochs,"
        f" {SWEEP_TRAIN} train / {SWEEP_VAL} val / {SWEEP_TEST} test images"
        f" (batch 32, {estimate['setting']})",
        [
            f"{name:<20} train {r['train_img_per_s']:6.0f} img/s, eval {r['eval_img_per_s']:6.0f} img/s,"
            f" {r['minutes']:5.1f} min"
            for name, r in estimate["experiments"].items()
        ]
        + [f"total {estimate['total_minutes']:.1f} min"],
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m artworks.bench train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--image-size", type=int, default=64, help="CPU comparison resolution")
    parser.add_argument("--batch-size", type=int, default=16, help="CPU comparison batch size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before each timed stretch")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side, interleaved")
    parser.add_argument(
        "--gpu-suite",
        action=argparse.BooleanOptionalAction,
        default=torch.cuda.is_available(),
        help="also the GPU measurements (default: when a GPU is present)",
    )
    parser.add_argument("--gpu-batch-size", type=int, default=256)
    parser.add_argument("--gpu-warmup", type=int, default=10)
    parser.add_argument("--gpu-steps", type=int, default=30)
    parser.add_argument(
        "--data-root",
        default=os.environ.get("ARTWORKS_DATA"),
        help="dataset root for the end-to-end figure (its image cache is built on first use)",
    )
    parser.add_argument(
        "--workers", type=int, default=8, help="data-loading workers for the end-to-end figure"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    for name in ("lightning.pytorch", "lightning.fabric"):  # the per-Trainer banners, 2 x rounds of them
        logging.getLogger(name).setLevel(logging.WARNING)

    report: dict[str, Any] = {
        "torch": torch.__version__,
        "lightning": L.__version__,
        "cpu_threads": torch.get_num_threads(),
    }
    cpu = compare(
        Setting(args.arch, args.image_size, args.batch_size),
        args.warmup,
        args.steps,
        args.rounds,
        torch.device("cpu"),
    )
    report["cpu"] = cpu
    _print(
        f"CPU ({torch.get_num_threads()} threads): {args.arch} {args.image_size}², batch {args.batch_size},"
        f" {args.steps} timed steps x {args.rounds} rounds",
        [
            "img/s at the median step time (in brackets: each run's overall img/s)",
            f"Trainer.fit   {cpu['lightning_img_per_s']:7.2f} img/s  (rounds: "
            + ", ".join(f"{x:.2f}" for x in cpu["rounds"]["lightning"])
            + ")",
            f"plain loop    {cpu['plain_img_per_s']:7.2f} img/s  (rounds: "
            + ", ".join(f"{x:.2f}" for x in cpu["rounds"]["plain"])
            + ")",
            f"Lightning overhead {cpu['overhead']:+.1%} (target <= 3%)",
        ],
    )
    if args.gpu_suite:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu-suite: no CUDA device here")
        run_gpu_suite(args, report)
    else:
        print(
            "\n(no GPU: the ResNet-50 224² precision/layout/compile figures, the end-to-end figure and the"
            " sweep estimate need one)"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()
