"""Are the probabilities honest? Expected calibration error, reliability bins, temperature scaling.

Temperature scaling (Guo et al., 2017) divides the logits by one number T fitted on the *validation* split
(never the test split) to minimise the negative log-likelihood; it changes probabilities, not predictions.
A training run fits T after testing its best checkpoint and stores it in that checkpoint as plain data
(``checkpoint["calibration"] = {"temperature": T}``, see ``artworks.training.checkpoint``), from where
``predict``, the web page and exports read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from artworks.data.samplers import gather_eval_outputs

# T is searched as log T in this range (T from 0.05 to 20): wide enough for any trained network.
LOG_T_BOUNDS = (-3.0, 3.0)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the image-weighted mean |accuracy − confidence| over equal-width confidence bins."""
    counts, accuracy, confidence = reliability_bins(probabilities, labels, bins)
    total = counts.sum()
    return float((counts * np.abs(accuracy - confidence)).sum() / total) if total else 0.0


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confidence bin (``bins`` equal widths over (0, 1]): images, accuracy and mean confidence."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    hits = np.bincount(which, weights=correct, minlength=bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    safe = np.maximum(counts, 1)
    return counts, hits / safe, conf_sum / safe


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` under softmax(logits / T)."""
    logits = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, labels].mean())

    result = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded")
    return float(np.exp(result.x))


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities softmax(logits / T)."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


@torch.no_grad()
def eval_logits(
    module: Any, loader: torch.utils.data.DataLoader, max_batches: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """An ``ArtistClassifier``'s logits and labels of ``loader`` (no augmentation), in dataset order.

    A collective under DDP: every rank iterates its share of the loader, then all shares are gathered.
    """
    was_training = module.training
    module.eval()
    logits, labels = [], []
    for i, (images, targets) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x = module.preprocess(images.to(module.device), augment=False)
        logits.append(module(x.contiguous(memory_format=module.memory_format)).float())
        labels.append(targets.to(module.device))
    module.train(was_training)
    if not logits:  # this process had no share of the data
        return gather_eval_outputs(torch.empty(0, len(module.class_names)), torch.empty(0, dtype=torch.long))
    return gather_eval_outputs(torch.cat(logits), torch.cat(labels))


@dataclass(frozen=True)
class Calibration:
    """The fitted temperature and the validation ECE before and after it."""

    temperature: float
    ece_before: float
    ece_after: float

    def metrics(self, prefix: str = "val") -> dict[str, float]:
        """The entries for ``metrics.json``."""
        return {
            "temperature": self.temperature,
            f"{prefix}/ece": self.ece_before,
            f"{prefix}/ece_calibrated": self.ece_after,
        }


def calibrate(logits: np.ndarray, labels: np.ndarray, bins: int = 15) -> Calibration:
    """Fit T on validation logits and measure the validation ECE with T = 1 and with the fitted T."""
    temperature = fit_temperature(logits, labels)
    return Calibration(
        temperature,
        expected_calibration_error(calibrated(logits, 1.0), labels, bins),
        expected_calibration_error(calibrated(logits, temperature), labels, bins),
    )


def calibrate_best_checkpoint(
    trainer: Any, module: Any, datamodule: Any, ckpt_path: str, bins: int = 15
) -> dict[str, float]:
    """Fit T on the validation split for the tested (best) weights; store it in ``ckpt_path``.

    Call right after ``trainer.test(ckpt_path=best)``, on every rank (the validation pass is a collective);
    rank 0 rewrites the checkpoint. It validates as many batches as training did (``limit_val_batches``).
    The module gets ``temperature`` too, so the test report's probabilities are the calibrated ones.
    Returns the figures for ``metrics.json``: the temperature and the validation ECE before and after.
    """
    from artworks.training.checkpoint import store_calibration  # noqa: PLC0415 (checkpoint -> module -> reports)

    limits = [n for n in (trainer.num_val_batches or []) if np.isfinite(n)]
    logits, labels = eval_logits(module, datamodule.val_dataloader(), int(limits[0]) if limits else None)
    if len(labels) == 0:  # validation switched off (limit_val_batches=0): nothing to fit on
        return {}
    result = calibrate(logits.numpy(), labels.numpy(), bins)
    module.temperature = result.temperature
    if trainer.is_global_zero:
        store_calibration(ckpt_path, {"temperature": result.temperature})
    return result.metrics()
