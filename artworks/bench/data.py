"""Data-loader throughput on JPEGs of the real dataset's size mix: plain torchvision vs the project.

    python -m artworks.bench data [--images 300] [--workers 2] [--batch-size 32] [--seconds 12] [--dir DIR]

Generates (once, into DIR) JPEGs whose sizes follow the real data (median ~0.8 MP, a tail to ~10 MP), then
measures in one run, with the same workers and batch size, the images/s of
(a) torchvision ``ImageFolder`` + PIL ``Resize`` + ``ToTensor`` + ``Normalize`` (the usual recipe),
(b) the project's uncached loader (JPEG draft-mode decode, uint8 batches),
(c) the project's cached loader (one memory-mapped uint8 array),
and the first run's one-time preparation: every file checked, hashed and written into the cache, one
decode per file at the default 224 px (``first-run preparation: N img/s, R x the plain loader``). R is
against one full pass of (a) over the same files timed immediately before the first run (both from the page
cache, read once beforehand), not against (a)'s figure in the table, which is measured minutes later under
whatever load the machine has then. (b) and (c) leave float conversion, rotation and normalisation to the
training device (``BatchPreprocess``); with CUDA, (c) is also measured delivered to the GPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from artworks.storage import atomic_write_json

ARTISTS = ["Vincent_van_Gogh", "Edgar_Degas", "Pablo_Picasso", "Claude_Monet", "Rembrandt"]
MEDIAN_MP, SIGMA, MAX_MP, MIN_MP = 0.8, 0.55, 10.0, 0.1


def megapixel_sizes(n: int, seed: int = 0) -> list[float]:
    """Log-normal megapixels around the real median; the largest is pinned to the real tail (~10 MP)."""
    rng = np.random.default_rng(seed)
    mp = np.clip(MEDIAN_MP * np.exp(rng.normal(0, SIGMA, n)), MIN_MP, MAX_MP)
    mp[np.argmax(mp)] = MAX_MP
    return mp.tolist()


def generate(directory: Path, n: int, seed: int = 0) -> Path:
    """JPEGs in the Kaggle layout under ``directory`` (reused when already generated with the same ``n``)."""
    from artworks.data.sample import _style, render

    marker = directory / "bench.json"
    settings = {"images": n, "seed": seed, "median_mp": MEDIAN_MP, "sigma": SIGMA, "max_mp": MAX_MP}
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    rng = np.random.default_rng(seed)
    noise_tile = rng.integers(-10, 11, (512, 512, 3), dtype=np.int16)
    images = directory / "images" / "images"
    for i, mp in enumerate(megapixel_sizes(n, seed)):
        artist = ARTISTS[i % len(ARTISTS)]
        aspect = rng.uniform(0.65, 1.5)
        width = int(round((mp * 1e6 * aspect) ** 0.5))
        height = int(round(mp * 1e6 / width))
        small = render(_style(rng, i % len(ARTISTS), len(ARTISTS)), 160, rng)
        pixels = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), np.int16)
        reps = (-(-height // 512), -(-width // 512), 1)
        pixels = np.clip(pixels + np.tile(noise_tile, reps)[:height, :width], 0, 255).astype(np.uint8)
        (images / artist).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(images / artist / f"{artist}_{i + 1}.jpg", quality=90)
    # in place: a set killed half-way has no bench.json (written last) and is generated again from scratch
    with open(directory / "artists.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "paintings"])
        writer.writerows([i, a.replace("_", " "), 0] for i, a in enumerate(ARTISTS))
    atomic_write_json(marker, settings)  # written last: its presence says the set is complete
    return directory


def throughput(
    loaders: dict[str, DataLoader],
    seconds: float,
    rounds: int = 2,
    to: torch.device | None = None,
    warmed: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """Images per second of each loader, measured in interleaved rounds so a shared CPU's load hits all alike.

    Workers are started before timing (``warmed``: loaders that have already run a whole epoch, with
    persistent workers); a round runs whole epochs (so no worker is left decoding in the background while
    another loader is timed) until ``seconds / rounds`` have passed, at least one.
    """
    for name, loader in loaders.items():
        if name in warmed:
            continue
        for _ in loader:  # start the persistent workers and warm the page cache
            break
        for _ in loader:  # finish a clean epoch so no prefetch is pending
            pass
    images = dict.fromkeys(loaders, 0)
    spent = dict.fromkeys(loaders, 0.0)
    for _ in range(rounds):
        for name, loader in loaders.items():
            start = time.perf_counter()
            while True:
                for x, _ in loader:
                    if to is not None:
                        x = x.to(to, non_blocking=True)
                    images[name] += x.shape[0]
                if time.perf_counter() - start >= seconds / rounds:
                    break
            if to is not None and to.type == "cuda":
                torch.cuda.synchronize()
            spent[name] += time.perf_counter() - start
    return {name: images[name] / spent[name] for name in loaders}


def one_pass(loader: DataLoader) -> float:
    """Images per second of one whole epoch of ``loader`` (its workers' start included)."""
    start, images = time.perf_counter(), 0
    for x, _ in loader:
        images += x.shape[0]
    return images / (time.perf_counter() - start)


def read_all(directory: Path) -> None:
    """Read every file under ``directory`` once, so the passes that follow read from the page cache."""
    for path in directory.rglob("*"):
        if path.is_file():
            path.read_bytes()


def plain_loader(root: Path, image_size: int, batch_size: int, workers: int) -> DataLoader:
    from torchvision import datasets, transforms

    from artworks.data.images import IMAGENET_MEAN, IMAGENET_STD

    transform = transforms.Compose(
        [
            transforms.Resize((image_size, image_size)),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    dataset = datasets.ImageFolder(str(root / "images" / "images"), transform=transform)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, persistent_workers=workers > 0
    )


def at_least(low: int) -> Callable[[str], int]:
    """argparse type: a whole number >= ``low`` (argparse then names the option in its one-line error)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return value

    parse.__name__ = f"whole number >= {low}"  # argparse's message: "invalid whole number >= 1 value"
    return parse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=at_least(1), default=300)
    parser.add_argument("--workers", type=at_least(0), default=2, help="loader workers, build processes")
    parser.add_argument("--batch-size", type=at_least(1), default=32)
    parser.add_argument("--image-size", type=at_least(8), default=224)
    parser.add_argument("--seconds", type=float, default=12.0, help="measure each loader this long in all")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "artworks-bench-data")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the loaders' own processes do the work; restored for in-process callers
    try:
        _measure(args)
    finally:
        torch.set_num_threads(threads)


def _measure(args: argparse.Namespace) -> None:
    """Generate (or reuse) the JPEGs, then time each loader side by side and print the figures."""
    from artworks.data.datamodule import ArtworksDataModule

    started = time.perf_counter()
    root = generate(args.dir, args.images)
    sizes = [Image.open(p).size for p in sorted((root / "images").rglob("*.jpg"))]
    mp = np.array([w * h / 1e6 for w, h in sizes])
    print(
        f"{len(mp)} JPEGs in {root} (median {np.median(mp):.2f} MP, p90 {np.percentile(mp, 90):.2f} MP, "
        f"max {mp.max():.1f} MP; ready in {time.perf_counter() - started:.0f} s); {args.image_size} px, "
        f"batch {args.batch_size}, {args.workers} workers, {os.cpu_count()} CPU cores (shared: other "
        f"processes on this machine lower every figure alike)"
    )
    shutil.rmtree(root / ".artworks", ignore_errors=True)  # time the one-time steps from scratch

    def datamodule(cache: bool) -> ArtworksDataModule:
        return ArtworksDataModule(
            str(root), image_size=args.image_size, batch_size=args.batch_size, num_workers=args.workers,
            pin_memory=False, cache=cache, split_fractions=(1.0, 0.0, 0.0), build_workers=args.workers,
        )  # fmt: skip

    # The first run side by side with the plain loader: one whole pass of (a) over the same files, then
    # the first run, both from the page cache; R compares these two (adjacent, so under the same load).
    read_all(root / "images")
    plain_name = "(a) plain ImageFolder + PIL Resize + ToTensor + Normalize"
    plain = plain_loader(root, args.image_size, args.batch_size, args.workers)
    adjacent = one_pass(plain)  # also (a)'s warm-up epoch for the table below
    t0 = time.perf_counter()
    cached = datamodule(cache=True)
    cached.setup("fit")  # the first run: check + hash + cache row per file, one decode each at 224 px
    first_run_s = time.perf_counter() - t0
    uncached = datamodule(cache=False)
    uncached.setup("fit")  # reuses the checks

    loaders = {
        plain_name: plain,
        "(b) project, uncached (draft-mode decode, uint8)": uncached.train_dataloader(),
        "(c) project, cached (memory-mapped uint8 array)": cached.train_dataloader(),
    }
    figures = throughput(loaders, args.seconds, warmed=frozenset({plain_name}))
    width = max(map(len, figures))
    for name, rate in figures.items():
        print(f"{name:<{width}}  {rate:9.1f} img/s  {rate / figures[plain_name]:6.1f}x (a)")
    n = len(cached.index)
    name = "one-time first-run preparation (check + hash + cache)"
    print(f"{name:<{width}}  {first_run_s:9.1f} s      ({n / first_run_s:.0f} img/s)")
    name = "(a) plain, one pass just before the first run (R below)"
    print(f"{name:<{width}}  {adjacent:9.1f} img/s")
    rate = n / first_run_s  # R against (a)'s pass just before it, not (a)'s figure in the table
    print(f"first-run preparation: {rate:.0f} img/s, {rate / adjacent:.2f} x the plain loader")
    if torch.cuda.is_available():
        device = torch.device("cuda")
        cached.pin_memory = True
        rate = throughput({"gpu": cached.train_dataloader()}, args.seconds, to=device)["gpu"]
        print(f"{'(c) delivered to ' + torch.cuda.get_device_name(device):<{width}}  {rate:9.1f} img/s")
    else:
        print("No CUDA device here: the GPU figure (cached batches delivered to the GPU) was not measured.")


if __name__ == "__main__":
    main()
