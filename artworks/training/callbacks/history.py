"""Per-epoch metrics saved in the run directory, so runs can be compared without any experiment logger."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

HISTORY_FILE = "history.csv"
BEST_METRIC = "val/macro_acc"  # the metric ModelCheckpoint selects the best epoch on


class EpochHistory(L.Callback):
    """Writes ``history.csv``: one row per epoch (0-based, as in checkpoint names) with every epoch metric.

    A row is written once the epoch's metrics are all known: the module logs its train metrics in its own
    ``on_train_epoch_end``, which runs after a callback's, so rows are flushed at the next epoch's start and
    at the end of training. Validation metrics are captured when validation ends, so an epoch without
    validation gets none (instead of the previous epoch's).
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        self._ended_epoch: int | None = None
        self._val: dict[str, float] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a resumed run keeps the rows of the epochs it already has
        rows = read_rows(self.path)
        self.rows = [{**r, "epoch": int(r["epoch"])} for r in rows if r["epoch"] < trainer.current_epoch]

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._ended_epoch = trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def _flush(self, trainer: L.Trainer) -> None:
        if self._ended_epoch is None:
            return
        row: dict[str, Any] = {"epoch": self._ended_epoch}
        for key, value in trainer.callback_metrics.items():
            if not key.startswith(("val/", "test/")) and not key.endswith("_step"):
                row[key] = float(value)
        row.update(self._val)
        self.rows.append(row)
        self._ended_epoch, self._val = None, {}
        self._write()

    @rank_zero_only
    def _write(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def best_epoch(self) -> int | None:
        """The first epoch with the highest ``val/macro_acc`` (the one ModelCheckpoint keeps), if any."""
        scored = [r for r in self.rows if BEST_METRIC in r]
        return max(scored, key=lambda r: r[BEST_METRIC])["epoch"] if scored else None


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's ``history.csv``."""
    return read_rows(Path(run_dir) / HISTORY_FILE)


def read_rows(path: Path) -> list[dict[str, float]]:
    """A history file's rows as numbers (missing values dropped); empty if there is no file."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]
