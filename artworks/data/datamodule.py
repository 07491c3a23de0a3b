"""The LightningDataModule for a Kaggle-layout root (real data or the synthetic sample)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, DistributedSampler

from artworks.data.cache import DEFAULT_LOCK_TIMEOUT, CachedImageDataset, keep_batch
from artworks.data.images import DEFAULT_MAX_PIXELS, IMAGENET_MEAN, IMAGENET_STD, ImageFileDataset
from artworks.data.index import ImageIndex, scan_images
from artworks.data.sample import ensure_sample
from artworks.data.samplers import (
    ClassBalancedSampler,
    ResumableRandomSampler,
    UnpaddedEvalSampler,
    train_order_state,
)
from artworks.data.split import SPLITS, load_or_create_split
from artworks.errors import ArtworksError
from artworks.storage import atomic_write_json

log = logging.getLogger(__name__)


class ArtworksDataModule(L.LightningDataModule):
    """Indexes the root, splits it once (shared by all experiments) and serves uint8 image batches.

    Args:
        root: folder with ``artists.csv`` and ``images/images/<Artist>/``.
        image_size: the training size: the network sees ``image_size``×``image_size`` images.
        cache_image_size: the size batches are served (and cached) at, for crops or resizing on the device
            to ``image_size`` (``None``: ``image_size``, the images are served at the training size).
        normalize: ``imagenet`` statistics, or ``dataset`` (per-channel mean/std of the train split).
        rotate90: train-time augmentation by a random multiple of 90 degrees (applied on the device).
        split_seed, split_fractions: the stratified train/val/test split.
        cache_dir: where the split file, file checks, image cache and statistics are written
            (default ``root/.artworks``).
        sample: settings of the synthetic sample; when given, ``root`` is generated if missing.
        layout: ``images`` (one folder per artist), ``resized`` (flat folder) or ``auto``.
        cache: read images from the one-time memory-mapped cache (see ``artworks.data.cache``).
        max_image_pixels: larger files are skipped (listed in the skipped-files report).
        near_duplicate_bits: difference-hash distance up to which two images count as one painting
            (-1: only byte-identical copies are grouped).
        build_workers: processes that check files and build the cache (``None``: every CPU core).
        sampler: the training order: ``random`` (a shuffle) or ``balanced`` (every artist equally likely).
        lock_timeout: seconds to wait for another process building the same cache before an error that
            names it.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 224,
        batch_size: int = 32,
        num_workers: int = 2,
        pin_memory: bool = True,
        normalize: str = "imagenet",
        rotate90: bool = True,
        split_seed: int = 42,
        split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        cache_dir: str | None = None,
        sample: dict[str, Any] | None = None,
        layout: str = "auto",
        cache: bool = True,
        max_image_pixels: int = DEFAULT_MAX_PIXELS,
        near_duplicate_bits: int = 6,
        build_workers: int | None = None,
        cache_image_size: int | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sampler: str = "random",
    ) -> None:
        super().__init__()
        if normalize not in ("imagenet", "dataset"):
            raise ArtworksError(f"data.normalize must be 'imagenet' or 'dataset', got {normalize!r}.")
        self.root = Path(root).expanduser()
        self.image_size = image_size
        self.cache_image_size = cache_image_size or image_size
        if self.cache_image_size < image_size:
            raise ArtworksError(
                f"data.cache_image_size={cache_image_size} is smaller than data.image_size={image_size}: "
                "images would be enlarged for training. Set data.cache_image_size to at least "
                f"{image_size}, or null to cache at the training size."
            )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.normalize = normalize
        self.rotate90 = rotate90
        self.split_seed = split_seed
        self.split_fractions = tuple(split_fractions)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else self.root / ".artworks"
        self.sample = dict(sample) if sample else None
        self.layout = layout
        self.cache = cache
        self.max_image_pixels = max_image_pixels
        self.near_duplicate_bits = near_duplicate_bits
        self.build_workers = build_workers if build_workers is not None else os.cpu_count() or 1
        self.lock_timeout = lock_timeout
        if sampler not in ("random", "balanced"):
            raise ArtworksError(f"data.sampler must be 'random' or 'balanced', got {sampler!r}.")
        self.sampler = sampler
        self.index: ImageIndex | None = None
        self.split_path: Path | None = None
        self.datasets: dict[str, ImageFileDataset | CachedImageDataset] = {}
        self._train_order: dict[str, int] = {}  # set by load_state_dict on resume
        self.cache_path: Path | None = None

    # -- setup -------------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        if self.sample is not None:
            ensure_sample(self.root, **self.sample)

    def setup(self, stage: str | None = None) -> None:
        if self.index is not None:
            return
        if self.sample is not None:
            self.prepare_data()
        self.index = index = scan_images(
            self.root,
            layout=self.layout,
            cache_dir=self.cache_dir,
            workers=self.build_workers,
            max_pixels=self.max_image_pixels,
            near_duplicate_bits=self.near_duplicate_bits,
            cache_size=self.cache_image_size if self.cache else None,  # checked and cached in one decode
            lock_timeout=self.lock_timeout,
        )
        self.cache_path = index.cache_path
        assigned, self.split_path = load_or_create_split(
            index, self.cache_dir, self.split_fractions, self.split_seed
        )
        for split in SPLITS:
            rows = [i for i, s in enumerate(assigned) if s == split]
            paths, labels = [index.paths[i] for i in rows], [index.labels[i] for i in rows]
            if self.cache_path is not None:
                self.datasets[split] = CachedImageDataset(self.cache_path, rows, paths, labels)
            else:
                self.datasets[split] = ImageFileDataset(
                    index.root, paths, labels, self.cache_image_size, self.max_image_pixels
                )
        sizes = {s: len(d) for s, d in self.datasets.items()}
        log.info("%d images, %d artists, split %s (%s)", len(index), self.num_classes, sizes, self.split_path)
        if sizes["train"] < self.batch_size:
            raise ArtworksError(
                f"The train split has {sizes['train']} images, fewer than data.batch_size="
                f"{self.batch_size}. Lower data.batch_size or use more data."
            )

    @property
    def classes(self) -> list[str]:
        if self.index is None:
            raise RuntimeError("call setup() first")
        return self.index.classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self, split: str = "train") -> list[int]:
        """Images per class in ``split`` (index = label): class weights and priors come from train."""
        counts = torch.bincount(torch.as_tensor(self.datasets[split].labels), minlength=self.num_classes)
        return counts.tolist()

    # -- normalisation ---------------------------------------------------------------------------
    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Mean and std per RGB channel in [0, 1] units, as chosen by ``normalize``."""
        if self.normalize == "imagenet":
            return list(IMAGENET_MEAN), list(IMAGENET_STD)
        return self.train_stats()

    def train_stats(self) -> tuple[list[float], list[float]]:
        """Mean and std per RGB channel of the train split in [0, 1] units (computed once, then read)."""
        assert self.split_path is not None, "call setup() first"
        stats_path = self.cache_dir / f"stats-{self.split_path.stem}-{self.cache_image_size}px.json"
        if stats_path.is_file():
            stats = json.loads(stats_path.read_text())
            return stats["mean"], stats["std"]
        total = torch.zeros(3, dtype=torch.float64)
        total_sq = torch.zeros(3, dtype=torch.float64)
        pixels = 0
        for images, _ in self._loader(self.datasets["train"], shuffle=False):
            x = images.to(torch.float64) / 255
            total += x.sum(dim=(0, 2, 3))
            total_sq += (x**2).sum(dim=(0, 2, 3))
            pixels += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / pixels
        std = (total_sq / pixels - mean**2).clamp_min(1e-12).sqrt()
        stats = {"mean": mean.tolist(), "std": std.tolist()}
        atomic_write_json(stats_path, stats)
        return stats["mean"], stats["std"]

    # -- loaders ---------------------------------------------------------------------------------
    def _loader(
        self,
        dataset: ImageFileDataset | CachedImageDataset,
        shuffle: bool,
        drop_last: bool = False,
        sampler: ResumableRandomSampler | DistributedSampler | None = None,
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            # its own generator: iterating a loader (an epoch, the statistics pass of a first run) leaves the
            # global RNG, i.e. init and augmentation, untouched
            generator=torch.Generator().manual_seed(sampler.seed if sampler is not None else 0),
            drop_last=drop_last,
            collate_fn=keep_batch if isinstance(dataset, CachedImageDataset) else None,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        # the order depends on (seed, epoch) only and can start mid-epoch:
        # an exact resume (artworks.training.resume)
        labels, seed = self.datasets["train"].labels, torch.initial_seed()
        if self.sampler == "balanced":
            sampler = ClassBalancedSampler(labels, seed, self.batch_size, **self._train_order)
        else:
            sampler = ResumableRandomSampler(len(labels), seed, self.batch_size, **self._train_order)
        self._train_order = {}
        # drop_last keeps BatchNorm away from a final batch of one image
        return self._loader(self.datasets["train"], shuffle=False, drop_last=True, sampler=sampler)

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint: where the train data order stands."""
        return train_order_state(self.trainer) if self.trainer is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restored before the train loader is built, which then continues the interrupted epoch."""
        self._train_order = dict(state_dict)

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")

    def eval_dataloader(self, split: str) -> DataLoader:
        """Any split (``train`` too) as for testing: fixed order, every image once, no augmentation.

        Under DDP the ranks share it without padding (``UnpaddedEvalSampler``): exact metrics.
        """
        dataset = self.datasets[split]
        return self._loader(dataset, shuffle=False, sampler=UnpaddedEvalSampler(dataset))
