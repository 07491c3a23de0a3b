"""Test-time augmentation: a prediction averaged over several views of each painting.

``tta=none|flip|rot90|multicrop`` (a top-level key of ``evaluate``, ``predict`` and ``serve``):

- ``flip``: the image and its mirror image (2 views);
- ``rot90``: the four quarter turns the seed recipe trains with (4 views);
- ``multicrop``: the whole image at the training size plus a 2×2 grid of crops at the training scale from a
  rendering twice as large (5 views), so the network also sees brushwork that a single resize would blur.

The views' **probabilities** (softmax) are averaged, not their logits: probabilities are on one scale for
every view, whereas the logits of a confident view can be an order of magnitude larger than an uncertain
one's and
would dominate a logit average (and the mean of probabilities is the usual test-time ensemble). Where a
caller needs logits (the test loop's loss and metrics), the log of the averaged probabilities is used: its
softmax gives back exactly those probabilities.

Views are cut from the raw (uint8, unnormalised) batch and each goes through the model's own preprocessing,
so they are prepared exactly as a plain prediction at the training size is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from artworks.errors import ArtworksError

MODES = ("none", "flip", "rot90", "multicrop")
GRID = 2  # multicrop: a GRID x GRID grid of crops at the training scale, from a rendering GRID x as large


def check_mode(mode: str) -> str:
    """``mode`` if it is a TTA mode, else a clear error."""
    if mode not in MODES:
        raise ArtworksError(f"tta={mode} is not a test-time augmentation; choose one of {', '.join(MODES)}.")
    return mode


def input_size(mode: str, image_size: int) -> int:
    """The square size images are read at for ``mode``: larger for multicrop, whose crops need the room."""
    return image_size * GRID if check_mode(mode) == "multicrop" else image_size


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def whole_image(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """A uint8 batch read at :func:`input_size` brought back to the training size: what explanations show."""
    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    return _resize(images, image_size).round().clamp(0, 255).to(torch.uint8)


def views(images: torch.Tensor, mode: str, image_size: int) -> Iterator[torch.Tensor]:
    """The views of an NCHW batch for ``mode``.

    flip and rot90 views keep the batch's size (the preprocessing fits them as it fits a plain batch);
    multicrop views are ``image_size`` square: the whole image, then the grid's crops row by row.
    """
    if check_mode(mode) == "multicrop":
        yield _resize(images, image_size)
        grid = _resize(images, image_size * GRID)
        for row in range(GRID):
            for col in range(GRID):
                yield grid[
                    ..., row * image_size : (row + 1) * image_size, col * image_size : (col + 1) * image_size
                ]
    elif mode == "flip":
        yield from (images, images.flip(-1))
    elif mode == "rot90":
        yield from (torch.rot90(images, k, dims=(-2, -1)) for k in range(4))
    else:
        yield images


def probabilities(
    score: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, mode: str, image_size: int
) -> torch.Tensor:
    """The mean over ``mode``'s views of ``softmax(score(view))``; ``score`` maps a raw batch to logits.

    One forward pass per view: a view's result does not depend on which other views run beside it.
    """
    total: torch.Tensor | None = None
    count = 0
    for view in views(images, mode, image_size):
        p = score(view).float().softmax(dim=1)
        total = p if total is None else total + p
        count += 1
    assert total is not None
    return total / count


class TTANet(nn.Module):
    """The network as the test loop sees it under TTA: raw batch in, log of averaged probabilities out."""

    def __init__(self, net: nn.Module, preprocess: nn.Module, mode: str, image_size: int) -> None:
        super().__init__()
        self.net, self.preprocess, self.mode, self.image_size = net, preprocess, mode, image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        mean = probabilities(lambda v: self.net(self.preprocess(v)), images, self.mode, self.image_size)
        return mean.clamp_min(torch.finfo(mean.dtype).tiny).log()


class _Deferred(nn.Module):
    """Stands in for the preprocessing before the test step: TTANet preprocesses each view itself."""

    def forward(self, images: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return images


@contextmanager
def applied(module: nn.Module, mode: str, image_size: int) -> Iterator[nn.Module]:
    """Inside, ``module`` (an ``ArtistClassifier``) tests with ``mode``: its test loop, metrics and outputs.

    The test batches must be read at :func:`input_size`; the network and preprocessing are put back after.
    """
    if check_mode(mode) == "none":
        yield module
        return
    net, preprocess = module.net, module.preprocess
    module.net = TTANet(net, preprocess, mode, image_size)
    module.preprocess = _Deferred()
    try:
        yield module
    finally:
        module.net, module.preprocess = net, preprocess
