"""Reading one image file into a fixed-size uint8 RGB tensor.

Batches stay uint8 until they reach the training device, where ``artworks.data.preprocess`` converts,
augments and normalises them: on the CPU, float conversion costs more than the decode itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset


def load_image(path: Path | str, size: int) -> np.ndarray:
    """Decode ``path`` as RGB resized to ``size``×``size``; JPEG draft mode skips decoding unused pixels."""
    with Image.open(path) as img:
        img.draft("RGB", (size, size))
        rgb = img.convert("RGB")
    return np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR))


class ImageFileDataset(Dataset):
    """(uint8 CHW tensor, label) pairs read from image files under ``root``."""

    def __init__(self, root: Path, paths: list[str], labels: list[int], image_size: int) -> None:
        self.root = Path(root)
        self.paths = paths
        self.labels = labels
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        array = load_image(self.root / self.paths[i], self.image_size)
        return torch.from_numpy(array).permute(2, 0, 1).contiguous(), self.labels[i]
