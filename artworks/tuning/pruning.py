"""Stop hopeless trials early: a Lightning callback that reports the validation curve to the Optuna trial.

Written here rather than taken from ``optuna-integration`` so that it follows the Lightning version this
project pins: it reads the monitored value after each validation epoch, ``trial.report``s it with the
epoch as step, and stops the run with ``optuna.TrialPruned`` when the study's pruner says so.

The trial is handed over through :func:`reporting_to` because a trial's callbacks are built from its config
(plain data) by :func:`artworks.training.task.train`, like every other callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
import optuna
from lightning.pytorch.callbacks import Callback

_active_trial: optuna.Trial | None = None


@contextmanager
def reporting_to(trial: optuna.Trial) -> Iterator[None]:
    """While inside, :class:`OptunaPruning` callbacks report to ``trial``."""
    global _active_trial
    _active_trial = trial
    try:
        yield
    finally:
        _active_trial = None


class OptunaPruning(Callback):
    """After every validation epoch: report ``monitor`` to the active trial; prune when the pruner says so.

    Args:
        monitor: the logged validation metric, e.g. ``val/macro_acc_best`` (never a test metric).
    """

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or _active_trial is None:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epoch = trainer.current_epoch
        _active_trial.report(float(value), step=epoch)
        if _active_trial.should_prune():
            raise optuna.TrialPruned(f"{self.monitor}={float(value):.4f} at epoch {epoch}: pruned")
