"""Cross-entropy for imbalanced classes: class weights, label smoothing and logit adjustment.

The artists run from 877 paintings (Van Gogh) to 24 (Pollock), and the headline metric is macro accuracy
(mean per-artist recall), which plain cross-entropy does not aim at. Three standard levers, each off by
default (``model.loss``) so the seed recipe's plain cross-entropy is unchanged:

* ``class_weights``: each class's term weighted by ``N / (K n_c)`` (inverse frequency, mean weight ~1), from
  the *train* split's counts.
* ``label_smoothing``: PyTorch's, ``(1 - eps)`` on the label and ``eps / K`` on every class.
* ``logit_adjust_tau``: the logit-adjusted loss of Menon et al., "Long-tail learning via logit adjustment"
  (ICLR 2021): ``tau * log(prior_c)`` is added to the logits inside the training loss only, so the network
  learns logits that are already balanced; evaluation uses the raw logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def inverse_frequency_weights(class_counts: Sequence[int]) -> torch.Tensor:
    """``N / (K n_c)`` per class: 1 for every class when balanced; a class with no image gets weight 0."""
    counts = torch.as_tensor(class_counts, dtype=torch.float32)
    weights = counts.sum() / (len(counts) * counts.clamp_min(1))
    return torch.where(counts > 0, weights, torch.zeros_like(weights))


class ImbalanceAwareCrossEntropy(nn.Module):
    """Cross-entropy with optional class weights, label smoothing and logit adjustment.

    Targets are class indices or, after MixUp/CutMix, probability rows.
    """

    def __init__(
        self,
        class_counts: Sequence[int] | None = None,
        class_weights: bool = False,
        label_smoothing: float = 0.0,
        logit_adjust_tau: float = 0.0,
    ) -> None:
        super().__init__()
        if (class_weights or logit_adjust_tau) and class_counts is None:
            raise ValueError("class_weights and logit_adjust_tau need the train split's class_counts")
        self.label_smoothing = float(label_smoothing)
        weight = inverse_frequency_weights(class_counts) if class_weights else None
        self.register_buffer("weight", weight, persistent=False)
        offset = None
        if logit_adjust_tau:
            counts = torch.as_tensor(class_counts, dtype=torch.float32).clamp_min(1)
            offset = float(logit_adjust_tau) * torch.log(counts / counts.sum())
        self.register_buffer("logit_offset", offset, persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, train: bool = True) -> torch.Tensor:
        """The loss; ``train=False`` (validation, test): plain cross-entropy on the raw logits, comparable
        across recipes."""
        if not train:
            return F.cross_entropy(logits, targets)
        if self.logit_offset is not None:
            logits = logits + self.logit_offset.to(logits.dtype)
        return F.cross_entropy(logits, targets, weight=self.weight, label_smoothing=self.label_smoothing)
