"""Reading one image file into a fixed-size uint8 RGB array, whatever its mode or size.

Real files come as greyscale, palette, RGBA, CMYK and 16-bit images, and a few are tens of megapixels:
``open_image`` lifts PIL's decompression-bomb limit to ``max_pixels`` (refusing anything above it with
:class:`ImageTooLarge`), JPEG draft mode lets libjpeg decode big files at 1/2, 1/4 or 1/8 scale, and
``to_rgb`` turns every mode into 8-bit RGB. Batches stay uint8 until they reach the training device, where
``artworks.training.preprocess`` converts, augments and normalises them: on the CPU, float conversion
costs more than the decode itself.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

# ImageNet's per-channel statistics (RGB, [0, 1] units): the normalisation pretrained weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Above this many pixels a file is refused (listed as skipped), not decoded: 16x the largest real image.
DEFAULT_MAX_PIXELS = 200_000_000
_WHITE = (255, 255, 255)


class ImageTooLarge(ValueError):
    """The image has more pixels than the configured limit."""


def open_image(path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open ``path`` lazily (header only), allowing up to ``max_pixels`` pixels."""
    # PIL's own limit is process-wide (a warning above it, an error above twice it): set it every call.
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as err:
            raise ImageTooLarge(f"{err} (data.max_image_pixels={max_pixels})") from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise ImageTooLarge(f"{width}x{height} pixels is above data.max_image_pixels={max_pixels}")
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: 16/32-bit greyscale is scaled, transparency is laid on white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info or img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def decode(path: Path | str, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """RGB image of ``path``, at least ``size``×``size`` where the file allows; JPEGs decoded in draft."""
    img = open_image(path, max_pixels)
    try:
        img.draft("RGB", (size, size))
        img.load()  # also closes the file of a single-frame image
    except BaseException:
        img.close()
        raise
    ImageOps.exif_transpose(img, in_place=True)
    return to_rgb(img)


def rgb_row(img: Image.Image, size: int) -> np.ndarray:
    """A loaded image (drafted for ``size``) as ``load_image`` returns it; ``img`` itself is left as it is.

    The file check computes its fingerprint from the untransposed picture, and then the cache row from the
    same decode (see ``artworks.data.validate.inspect_file``).
    """
    upright = ImageOps.exif_transpose(img) or img
    return np.array(to_rgb(upright).resize((size, size), Image.Resampling.BILINEAR))


def load_image(path: Path | str, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """``path`` as a ``size``×``size``×3 uint8 RGB array."""
    rgb = decode(path, size, max_pixels)
    return np.array(rgb.resize((size, size), Image.Resampling.BILINEAR))  # writable, for torch


class ImageFileDataset(Dataset):
    """(uint8 CHW tensor, label) pairs read from image files under ``root`` (the uncached path)."""

    def __init__(
        self,
        root: Path,
        paths: list[str],
        labels: list[int],
        image_size: int,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.root = Path(root)
        self.paths = paths
        self.labels = labels
        self.image_size = image_size
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        array = load_image(self.root / self.paths[i], self.image_size, self.max_pixels)
        return torch.from_numpy(array).permute(2, 0, 1).contiguous(), self.labels[i]
