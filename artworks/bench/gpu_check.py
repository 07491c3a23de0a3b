"""``make gpu-check``: one short run on a GPU machine that measures what only a GPU can show.

    bash scripts/gpu_check.sh            # on the GPU machine: offline wheels, then this; 8 minutes at most
    python -m artworks.bench gpu_check [--dry-run] [--limit-s 480] [--out DIR]

Four parts, each with its own time budget; the Markdown report (``gpu-check.md``, plus the raw figures in
``gpu-check.json``) is rewritten after every part, so a run cut short still leaves what it measured:

1. ResNet-50 224² training img/s under ``Trainer.fit``, batch 256: fp32, bf16-mixed, + channels_last,
   + ``torch.compile``; then Lightning vs a plain PyTorch loop at the fastest of them
   (``artworks.bench.train``).
2. Data: 8,446 synthetic JPEGs with the real per-artist counts and size mix, generated on the machine; the
   first-run preparation (file checks, hashes, image cache); the cached loader's delivery to the GPU; and
   ``Trainer.fit`` end to end from the cache, with the share of the step time spent waiting for the loader.
3. The study's five experiments, one epoch each at 224² with ``speed=fast`` on that set, and from their
   epoch times the projected wall time of the five x 30-epoch study.
4. One checkpoint evaluated on the test split with ``trainer=ddp trainer.devices=1`` and ``trainer=gpu``:
   the metrics must be the same.

``--dry-run`` runs the same code at toy size on the CPU (32 px, a few steps, ``timm/test_resnet`` for the
throughput part, ``torch.compile`` with the eager backend, ``trainer=cpu``/``ddp_cpu``), so the script
cannot rot between the rare GPU runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import logging
import math
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artworks.bench import data as bench_data
from artworks.bench import train as bench_train

log = logging.getLogger(__name__)

# The real split (8,446 images, 80/10/10) and the study's length, for the projection.
REAL_TRAIN, STUDY_EPOCHS = 6757, 30
MIN_PART_S = 5  # a part with less time left than this is skipped, not started
TARGETS = "one H100: training >= 3,000 img/s end to end, loader >= 2x training, the study <= 15 min"


class OutOfTime(BaseException):
    """A part ran past its budget, or the check past its limit (a BaseException: no handler swallows it)."""


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the real check and the dry run."""

    image_size: int
    batch_size: int  # the throughput parts (the study uses its own config's batch size)
    warmup: int
    steps: int
    rounds: int  # Lightning vs plain loop, interleaved
    arch: str  # the throughput parts' network
    mixed: str  # their mixed precision (the CPU emulates bf16 slowly: the dry run keeps fp32)
    compile_options: dict[str, Any] | None
    artists: dict[str, int]  # folder -> images of the generated set
    megapixel_scale: float  # x the real size mix
    loader_seconds: float
    data_overrides: tuple[str, ...]  # the study's and the evaluation's data loading
    study_overrides: tuple[str, ...]
    ddp_trainers: tuple[tuple[str, ...], tuple[str, ...]]  # (reference, DDP)
    budgets: dict[str, float] = field(default_factory=dict)  # seconds per part


def real_sizes() -> Sizes:
    from artworks.data.sample import real_counts

    return Sizes(
        image_size=224,
        batch_size=256,
        warmup=10,
        steps=30,
        rounds=2,
        arch="resnet50",
        mixed="bf16-mixed",
        compile_options=None,
        artists=real_counts(),
        megapixel_scale=1.0,
        loader_seconds=8.0,
        data_overrides=("data.num_workers=8",),
        study_overrides=("trainer=gpu",),
        ddp_trainers=(("trainer=gpu",), ("trainer=ddp", "trainer.devices=1")),
        budgets={"train_speed": 190, "data": 100, "study": 120, "ddp": 40},
    )


def dry_sizes() -> Sizes:
    return Sizes(
        image_size=32,
        batch_size=4,
        warmup=1,
        steps=2,
        rounds=1,
        arch="timm/test_resnet",
        mixed="32-true",
        compile_options={"backend": "eager"},  # dynamo runs, no C++ compiler needed
        artists={"Vincent_van_Gogh": 10, "Edgar_Degas": 8, "Claude_Monet": 6, "Paul_Klee": 6},
        megapixel_scale=0.004,  # ~60x60 px files
        loader_seconds=0.5,
        data_overrides=("data.num_workers=0", "data.batch_size=2"),
        study_overrides=(
            "trainer=cpu",
            "speed.precision=32-true",  # the CPU emulates bf16 and has slow NHWC depthwise convs
            "speed.channels_last=false",
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
            "++trainer.num_sanity_val_steps=0",
            "callbacks.model_checkpoint.save_last=false",  # one weights-only checkpoint per run
            "++callbacks.model_checkpoint.save_weights_only=true",
            "~callbacks.last_checkpoint",
        ),
        ddp_trainers=(("trainer=cpu",), ("trainer=ddp_cpu", "trainer.devices=1")),
        budgets={"train_speed": 120, "data": 60, "study": 120, "ddp": 60},
    )


class Report:
    """The Markdown report and its JSON figures, rewritten after every part (to each output folder)."""

    TITLES = {
        "train_speed": "1. ResNet-50 training speed under Trainer.fit",
        "data": "2. Data: from JPEGs to the GPU",
        "study": "3. The five experiments, one epoch each (speed=fast)",
        "ddp": "4. trainer=ddp devices=1 vs one device: the same test metrics",
    }

    def __init__(self, folders: list[Path], header: list[str]) -> None:
        self.folders = folders
        self.header = header
        self.status: dict[str, str] = {}
        self.lines: dict[str, list[str]] = {name: [] for name in self.TITLES}
        self.figures: dict[str, Any] = {}
        self.part_deadline = math.inf  # time.monotonic() at which the running part is stopped

    def write(self) -> None:
        body = [*self.header]
        for name, title in self.TITLES.items():
            body += ["", f"## {title}", "", f"*{self.status.get(name, 'not run')}*", ""]
            body += self.lines[name]
        text = "\n".join(body) + "\n"
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "gpu-check.md").write_text(text)
            (folder / "gpu-check.json").write_text(json.dumps(self.figures, indent=2, default=str))


_terminated: list[int] = []  # SIGTERM seen: the check is over, whatever part was running


def _raise_out_of_time(signum: int, frame: Any) -> None:
    if signum == signal.SIGTERM:
        _terminated.append(signum)
    raise OutOfTime(signal.Signals(signum).name)


def run_part(report: Report, name: str, budget: float, deadline: float, part: Callable[[], None]) -> None:
    """Run ``part`` for at most ``budget`` seconds (and not past ``deadline``); record how it ended."""
    allowed = min(budget, deadline - time.monotonic())
    if allowed < MIN_PART_S:
        report.status[name] = "skipped: the check's time limit was reached before this part"
        report.write()
        return
    print(f"\n== {Report.TITLES[name]} (budget {allowed:.0f} s)", flush=True)
    started = time.monotonic()
    signal.signal(signal.SIGALRM, _raise_out_of_time)
    report.part_deadline = started + allowed
    signal.setitimer(signal.ITIMER_REAL, allowed)
    try:
        part()
        report.status[name] = f"done in {time.monotonic() - started:.0f} s (budget {budget:.0f} s)"
    except OutOfTime as stop:
        why = "the check's time limit" if stop.args == ("SIGTERM",) else f"its {allowed:.0f} s budget"
        report.status[name] = f"stopped at {why} after {time.monotonic() - started:.0f} s: figures so far"
    except Exception as err:  # a broken part must not cost the others their figures
        traceback.print_exc()
        report.status[name] = f"failed after {time.monotonic() - started:.0f} s: {type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        report.write()
        gc.collect()  # a stopped part leaves its modules behind: free their GPU memory for the next
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    print(f"   {report.status[name]}", flush=True)


# ---- 1. training speed -------------------------------------------------------------------------------------


def train_speed(report: Report, sizes: Sizes, device: torch.device) -> None:
    """fp32 / bf16 / channels_last / compile under Trainer.fit, then Lightning vs plain loop at the best."""
    lines, figures = report.lines["train_speed"], report.figures.setdefault("train_speed", {})
    base = bench_train.Setting(sizes.arch, sizes.image_size, sizes.batch_size)
    variants = [
        base,
        bench_train.Setting(**{**vars(base), "precision": sizes.mixed}),
        bench_train.Setting(**{**vars(base), "precision": sizes.mixed, "channels_last": True}),
        bench_train.Setting(
            **{
                **vars(base),
                "precision": sizes.mixed,
                "channels_last": True,
                "compile": True,
                "compile_options": sizes.compile_options,
            }
        ),
    ]
    lines += [
        f"{sizes.arch} at {sizes.image_size}², batch {sizes.batch_size}, {sizes.steps} timed steps after "
        f"{sizes.warmup} warm-up steps; in-memory uint8 batches on the device, so only the model is timed "
        "(fp32 convolutions and matmuls may use TF32, as PyTorch allows by default on Ampere and newer).",
        "",
        "| setting | img/s | x fp32 |",
        "|---|---:|---:|",
    ]
    measured: dict[str, tuple[bench_train.Setting, float]] = {}
    fit_s: dict[str, float] = {}  # wall time of each fit, compilation included
    for setting in {v.label(): v for v in variants}.values():  # the dry run's fp32 "mixed" is fp32 again
        started = time.monotonic()
        seconds = bench_train.lightning_fit(setting, sizes.warmup, sizes.steps, device)
        fit_s[setting.label()] = time.monotonic() - started
        ips = bench_train.img_per_s(seconds, setting.batch_size)
        measured[setting.label()] = (setting, ips)
        figures[setting.label()] = ips
        fp32 = measured[base.label()][1]
        lines.append(f"| {setting.label()} | {ips:,.0f} | {ips / fp32:.2f} |")
        report.write()
    best, _ = max(measured.values(), key=lambda item: item[1])
    rounds = 1 if best.compile else sizes.rounds  # every run compiles a fresh module
    note = ""
    if 2.5 * rounds * fit_s[best.label()] > report.part_deadline - time.monotonic():
        best = max((m for m in measured.values() if not m[0].compile), key=lambda item: item[1])[0]
        note = " (compiled runs would not fit in this part's budget: the fastest without compile)"
        rounds = sizes.rounds
    overhead = bench_train.compare(best, sizes.warmup, sizes.steps, rounds, device)
    figures["lightning_vs_plain"] = overhead
    lines += [
        "",
        f"Lightning vs a plain PyTorch loop at the fastest setting{note} ({best.label()}), {rounds} "
        f"interleaved round(s): Trainer.fit {overhead['lightning_img_per_s']:,.0f} img/s, plain loop "
        f"{overhead['plain_img_per_s']:,.0f} img/s, **overhead {overhead['overhead']:+.1%}**"
        " (target <= 3 %).",
    ]


# ---- 2. data -----------------------------------------------------------------------------------------------


def _default_signals() -> None:
    """Worker processes die quietly when the pool ends them (they inherit the check's handlers)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _write_jpegs(task: tuple[Path, str, int, int, list[float], float, int]) -> int:
    """One chunk of one artist's files: the artist's procedural style, stretched to real sizes, with grain."""
    from artworks.data.sample import _style, render

    folder, artist, artist_idx, n_artists, chunk, first, seed = task
    style = _style(np.random.default_rng([seed, artist_idx]), artist_idx, n_artists)
    rng = np.random.default_rng([seed, artist_idx, first])
    grain = rng.integers(-10, 11, (256, 256, 3), dtype=np.int16)
    for n, megapixels in enumerate(chunk, start=first):
        aspect = rng.uniform(0.65, 1.5)
        width = max(8, round(math.sqrt(megapixels * 1e6 * aspect)))
        height = max(8, round(megapixels * 1e6 / width))
        small = render(style, 160, rng).resize((width, height), Image.Resampling.BICUBIC)
        tiles = (-(-height // 256), -(-width // 256), 1)
        pixels = np.asarray(small, np.int16) + np.tile(grain, tiles)[:height, :width]
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            folder / f"{artist}_{n + 1}.jpg", quality=90
        )
    return len(chunk)


def generate_set(root: Path, artists: dict[str, int], megapixel_scale: float, workers: int) -> Path:
    """The Kaggle layout with ``artists``' counts, sizes drawn like ``artworks.bench.data`` (median ~0.8 MP,
    tail to 10 MP), written by ``workers`` processes in chunks of 64 files."""
    marker = root / "gpu-check-data.json"
    settings = {"artists": artists, "megapixel_scale": megapixel_scale}
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return root
    shutil.rmtree(root, ignore_errors=True)
    sizes = iter(np.array(bench_data.megapixel_sizes(sum(artists.values()))) * megapixel_scale)
    tasks = []
    for idx, (artist, count) in enumerate(artists.items()):
        folder = root / "images" / "images" / artist
        folder.mkdir(parents=True)
        chunk_sizes = [next(sizes) for _ in range(count)]
        for first in range(0, count, 64):
            tasks.append((folder, artist, idx, len(artists), chunk_sizes[first : first + 64], first, 0))
    with multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals) as pool:
        written = sum(pool.imap_unordered(_write_jpegs, tasks))
    with open(root / "artists.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "paintings"])
        writer.writerows([i, a.replace("_", " "), n] for i, (a, n) in enumerate(artists.items()))
    assert written == sum(artists.values())
    marker.write_text(json.dumps(settings))
    return root


def data_part(report: Report, sizes: Sizes, device: torch.device, root: Path, workers: int) -> None:
    """Generate the set, time the first-run preparation, the loader's delivery and Trainer.fit from it."""
    from artworks.data.datamodule import ArtworksDataModule

    lines, figures = report.lines["data"], report.figures.setdefault("data", {})
    started = time.perf_counter()
    generate_set(root, sizes.artists, sizes.megapixel_scale, workers)
    files = sorted((root / "images" / "images").rglob("*.jpg"))
    megapixels = [w * h / 1e6 for w, h in (Image.open(f).size for f in files[:: max(1, len(files) // 400)])]
    figures["images"], figures["generate_s"] = len(files), time.perf_counter() - started
    lines.append(
        f"{len(files):,} JPEGs, {len(sizes.artists)} artists with the real per-artist counts, median "
        f"{np.median(megapixels):.2g} MP (sampled), ready in {figures['generate_s']:.0f} s"
        f" ({workers} processes)."
    )
    report.write()

    shutil.rmtree(root / ".artworks", ignore_errors=True)  # the first run, from scratch
    datamodule = ArtworksDataModule(
        str(root), image_size=sizes.image_size, batch_size=sizes.batch_size, num_workers=workers,
        pin_memory=device.type == "cuda", build_workers=workers,
    )  # fmt: skip
    started = time.perf_counter()
    datamodule.prepare_data()
    datamodule.setup("fit")
    prepare_s = figures["first_run_s"] = time.perf_counter() - started
    lines.append(
        f"- first-run preparation (file checks, hashes, split, {sizes.image_size}² image cache): "
        f"{prepare_s:.1f} s = **{len(files) / prepare_s:,.0f} img/s**"
    )
    report.write()

    delivered = bench_data.throughput(
        {"cache": datamodule.train_dataloader()}, sizes.loader_seconds, to=device
    )["cache"]
    figures["delivered_img_per_s"] = delivered
    lines.append(
        f"- cached loader delivering uint8 batches of {sizes.batch_size} to {device.type} "
        f"({workers} workers, pinned memory): **{delivered:,.0f} img/s**"
    )
    report.write()

    setting = bench_train.Setting(
        sizes.arch, sizes.image_size, sizes.batch_size, sizes.mixed, channels_last=True
    )
    e2e = bench_train.end_to_end(root, setting, sizes.warmup, sizes.steps, workers, device)
    figures["end_to_end"] = e2e
    lines += [
        f"- Trainer.fit end to end from the cache ({setting.label()}, batch {sizes.batch_size}): "
        f"**{e2e['img_per_s']:,.0f} img/s**; waiting for the loader: **{e2e['loader_share']:.1%}** "
        "of the step time",
        f"- loader delivery / training rate: **{delivered / e2e['img_per_s']:.1f}x** (target >= 2x)",
    ]


# ---- 3. the study, one epoch each -------------------------------------------------------------------------


def speed_overrides() -> list[str]:
    """``speed=fast``; before the speed group existed, ``trainer=gpu_fast`` set the same flags."""
    from artworks.config import config_dir

    return ["speed=fast"] if (config_dir() / "speed" / "fast.yaml").is_file() else ["trainer=gpu_fast"]


def study_part(report: Report, sizes: Sizes, root: Path, out: Path, checkpoints: dict[str, str]) -> None:
    """One epoch of each experiment of ``experiment=study``; the study's projected wall time."""
    from artworks.config.compose import compose_job
    from artworks.config.study import study_models
    from artworks.training.task import train

    lines, figures = report.lines["study"], report.figures.setdefault("study", {})
    weights = out / "resnet50-11ad3fa6.pth"  # random "ImageNet" weights: the machine has no network
    if not weights.is_file():
        from torchvision.models import resnet50

        torch.save(resnet50().state_dict(), weights)
    models = study_models()
    lines += [
        f"Each experiment trains one epoch on the generated set at {sizes.image_size}² with "
        f"{' '.join(speed_overrides())} and the config's batch size; fine-tuning starts from random "
        "stand-in weights (no network here), so the accuracies say nothing. Projected: 30 x this epoch's "
        "fit time (training + validation, first-epoch start-up included, so an upper bound) + the test.",
        "",
        "| experiment | train img/s | epoch s (fit) | test s | projected 30 epochs, min |",
        "|---|---:|---:|---:|---:|",
    ]
    total = 0.0
    for model in models:
        run_dir = out / "study" / model
        shutil.rmtree(run_dir, ignore_errors=True)
        overrides = [
            f"model={model}", "data=artworks", f"data.root={root}", f"data.image_size={sizes.image_size}",
            *speed_overrides(), *sizes.data_overrides, *sizes.study_overrides, "trainer.max_epochs=1",
            "logger=csv", "report.figures=false",  # times training: the report's PNGs are not timed
            "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
            f"model.net.weights_path={weights}", f"paths.log_dir={out / 'logs'}",
        ]  # fmt: skip
        cfg = compose_job("train", overrides, run_dir)
        started = time.perf_counter()
        metrics = train(cfg)
        elapsed = time.perf_counter() - started
        fit_s = metrics["wall_time_s"]
        test_s = max(elapsed - fit_s, 0.0)
        projected = (STUDY_EPOCHS * fit_s + test_s) / 60
        total += projected
        if metrics.get("best_ckpt") and not checkpoints:
            checkpoints[model] = metrics["best_ckpt"]  # part 4 tests this one
        else:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # ~0.1-0.3 GB each, not needed
        figures[model] = {**metrics, "job_s": elapsed, "projected_min": projected}
        lines.append(
            f"| {model} | {metrics.get('train_img_per_s', float('nan')):,.1f} | {fit_s:.1f} | "
            f"{test_s:.1f} | {projected:.1f} |"
        )
        report.write()
    figures["projected_total_min"] = total
    lines += ["", f"**Projected five x {STUDY_EPOCHS}-epoch study: {total:.1f} min** (target <= 15 min)."]


# ---- 4. DDP with one device vs one device -----------------------------------------------------------------


def ddp_part(report: Report, sizes: Sizes, root: Path, out: Path, checkpoints: dict[str, str]) -> None:
    """Evaluate one checkpoint on the test split under both trainers; the metrics must agree."""
    from artworks.config.compose import compose_job
    from artworks.evaluate import evaluate
    from artworks.runtime.ddp import distributed_job

    lines, figures = report.lines["ddp"], report.figures.setdefault("ddp", {})
    if not checkpoints:
        raise RuntimeError("no checkpoint: part 3 trained none")
    model, ckpt = next(iter(checkpoints.items()))
    results = {}
    for trainer in sizes.ddp_trainers:
        name = " ".join(trainer)
        overrides = [
            f"ckpt_path={ckpt}", f"data.root={root}", *sizes.data_overrides, *trainer,
            "trainer.enable_progress_bar=false", "report.figures=false",
            f"paths.log_dir={out / 'logs'}",
        ]  # fmt: skip
        cfg = compose_job("evaluate", overrides, out / "ddp" / name.replace(" ", "_").replace("=", "-"))
        with distributed_job():
            metrics = evaluate(cfg)
        results[name] = {k: v for k, v in metrics.items() if k.startswith("test/") and isinstance(v, float)}
    figures.update(results)
    (reference, a), (ddp, b) = results.items()
    same = a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-5, abs_tol=1e-6) for k in a)
    figures["same"] = same
    keys = sorted(a)
    lines += [
        f"The best checkpoint of {model} on the test split:",
        "",
        "| trainer | " + " | ".join(keys) + " |",
        "|---|" + "---:|" * len(keys),
        *(
            f"| {name} | " + " | ".join(f"{r.get(k, float('nan')):.6f}" for k in keys) + " |"
            for name, r in results.items()
        ),
        "",
        f"**{'The same metrics' if same else 'DIFFERENT metrics'}** with {ddp} and {reference}.",
    ]


# ---- the check ---------------------------------------------------------------------------------------------


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"


def header(dry_run: bool, device: torch.device, limit_s: float) -> list[str]:
    import lightning
    import torchmetrics
    import torchvision

    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        memory = props.total_memory / 2**30
        gpu = f"{props.name}, {memory:.0f} GiB, compute capability {props.major}.{props.minor}"
    else:
        gpu = f"none (CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "CUDA": torch.version.cuda or "-",
        "cuDNN": str(torch.backends.cudnn.version() or "-"),
        "torchvision": torchvision.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
    }
    lines = [
        "# GPU check" + (" (DRY RUN: toy sizes on the CPU, the figures mean nothing)" if dry_run else ""),
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; commit {_git_commit()};"
        f" limit {limit_s:.0f} s",
        f"- GPU: {gpu}",
        f"- CPU cores: {os.cpu_count()}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- targets (issue 13): {TARGETS}",
    ]
    return lines


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(
        prog="python -m artworks.bench gpu_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="toy sizes on the CPU: the code paths, not figures"
    )
    parser.add_argument("--limit-s", type=float, default=480, help="stop cleanly after this many seconds")
    parser.add_argument("--until", type=float, help="stop cleanly by this Unix time (overrides --limit-s)")
    parser.add_argument("--out", type=Path, default=Path("outputs/gpu-check"), help="report and work folder")
    parser.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 12), help="processes for data"
    )
    parser.add_argument(
        "--parts", default=",".join(Report.TITLES), help="comma-separated subset (study needs data's set)"
    )
    args = parser.parse_args(argv)
    # --until: the shell script's clock, which started before this process's imports (tens of seconds)
    limit_s = args.until - time.time() if args.until else args.limit_s
    deadline = time.monotonic() + limit_s
    signal.signal(signal.SIGTERM, _raise_out_of_time)  # the outer `timeout` of scripts/gpu_check.sh
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING)

    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit(
            "gpu_check: no CUDA device here. On a GPU machine run `bash scripts/gpu_check.sh`; anywhere, "
            "`make gpu-check DRY_RUN=1` runs the same code at toy size on the CPU."
        )
    device = torch.device("cpu" if args.dry_run else "cuda")
    sizes = dry_sizes() if args.dry_run else real_sizes()
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    out = args.out.resolve()
    folders = [out] + ([Path(os.environ["OUT"])] if os.environ.get("OUT") else [])
    report = Report(folders, header(args.dry_run, device, limit_s))
    report.write()
    root = out / "data"
    checkpoints: dict[str, str] = {}
    parts: dict[str, Callable[[], None]] = {
        "train_speed": lambda: train_speed(report, sizes, device),
        "data": lambda: data_part(report, sizes, device, root, args.workers),
        "study": lambda: study_part(report, sizes, root, out, checkpoints),
        "ddp": lambda: ddp_part(report, sizes, root, out, checkpoints),
    }
    for name, part in parts.items():
        if name not in args.parts.split(","):
            continue
        try:
            run_part(report, name, sizes.budgets[name], deadline, part)
        except OutOfTime:  # SIGTERM between parts
            report.status.setdefault(name, "stopped at the check's time limit")
        if _terminated:
            break
    report.write()
    print(f"\nReport: {', '.join(str(f / 'gpu-check.md') for f in folders)}")
    return report


if __name__ == "__main__":
    main()
