"""The numeric settings each command reads, with the range they must lie in, checked before anything runs.

Hydra already checks that a key exists and (``artworks.config.checks``) that an override keeps its type; a
value of the right type but out of range (``data.batch_size=-4``) would otherwise reach torch or Lightning
and come back as their traceback. :func:`check_config` answers in one paragraph naming every bad key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from artworks.errors import ArtworksError

# ResNets (and the timm CNNs offered) downsample by 32: a smaller image reaches the last stage as less than
# one pixel. Above 1024 the image cache (8,446 x 3 x size^2 bytes: 26 GB at 1024) and the activations
# outgrow the memory of the machines this project targets.
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 1024
IMAGE_SIZE_REASON = (
    f"the networks downsample by 32, so images need at least {MIN_IMAGE_SIZE} pixels a side, and above "
    f"{MAX_IMAGE_SIZE} the image cache and the activations outgrow memory; the experiments use 224"
)
_ABSENT = object()


@dataclass(frozen=True)
class Bound:
    """One setting, the values it accepts and an example of a good one."""

    key: str
    example: Any
    minimum: float | None = None  # inclusive
    maximum: float | None = None  # inclusive
    positive: bool = False  # > 0 (for real numbers such as a learning rate)
    integer: bool = True
    nullable: bool = False  # null is allowed (means "take it from elsewhere" or "no limit")
    special: tuple[int, ...] = ()  # values allowed besides the range, e.g. -1 for "unlimited"
    reason: str = ""

    def __post_init__(self) -> None:
        if self.minimum is None and self.maximum is None and not self.positive:
            raise ValueError(f"Bound for {self.key} has no range to check")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, bool) or not isinstance(value, int if self.integer else (int, float)):
            return False
        if value in self.special:
            return True
        return (
            math.isfinite(value)
            and not (self.positive and value <= 0)
            and (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
        )

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` for this key, or ``None`` when it is fine."""
        if self.accepts(value):
            return None
        kind = "a whole number" if self.integer else "a number"
        reason = f" ({self.reason})" if self.reason else ""
        return (
            f"{self.key}={value!r} is not allowed: {self.key} takes {kind} {self._range()}{reason}, "
            f"e.g. {self.key}={self.example}."
        )

    def _range(self) -> str:
        parts = []
        if self.positive:
            parts.append("greater than 0")
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"from {self.minimum:g} to {self.maximum:g}")
        elif self.minimum is not None:
            parts.append(f"of at least {self.minimum:g}")
        elif self.maximum is not None:
            parts.append(f"of at most {self.maximum:g}")
        parts += [f"or {v}" for v in self.special]
        parts += ["or null"] if self.nullable else []
        return " ".join(parts)


BATCH = "images per step on each device"
DATA = (
    Bound("data.batch_size", 32, minimum=1, reason=BATCH),
    Bound("data.num_workers", 4, minimum=0, reason="0 loads the data in the main process"),
    Bound("data.image_size", 224, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE, reason=IMAGE_SIZE_REASON),
)
TRAIN = (
    *DATA,
    Bound("model.optimizer.lr", 3.0e-4, positive=True, integer=False, reason="the learning rate"),
    Bound("trainer.max_epochs", 30, minimum=1, special=(-1,), nullable=True, reason="-1: no limit"),
)
EVALUATE = DATA
_PREDICTION = (
    Bound("topk", 5, minimum=1, reason="artists listed per image"),
    Bound(
        "image_size",
        224,
        minimum=MIN_IMAGE_SIZE,
        maximum=MAX_IMAGE_SIZE,
        nullable=True,
        reason=f"null: the checkpoint's; {IMAGE_SIZE_REASON}",
    ),
)
PREDICT = (
    *_PREDICTION,
    Bound("batch_size", 16, minimum=1, reason="images per forward pass"),
    Bound("num_workers", 2, minimum=0, reason="0 decodes in the main process"),
)
EXPORT = (_PREDICTION[1],)
SERVE = (
    *_PREDICTION,
    Bound("port", 8000, minimum=0, maximum=65535, reason="0 picks a free port"),
    Bound("max_upload_mb", 50, positive=True, integer=False, reason="the largest image accepted"),
)


def check_config(cfg: DictConfig, bounds: tuple[Bound, ...]) -> None:
    """Raise one :class:`ArtworksError` naming every setting of ``bounds`` that is out of its range.

    Keys the config does not have are left alone (a command's config has only the keys it reads).
    """
    problems = []
    for bound in bounds:
        value = OmegaConf.select(cfg, bound.key, default=_ABSENT)
        if value is not _ABSENT:
            problems.append(bound.problem(value))
    found = [p for p in problems if p]
    if found:
        raise ArtworksError(" ".join(found) + " Fix the value on the command line (or in the config file).")
