"""Per-epoch metrics saved in the run directory, so runs can be compared without any experiment logger."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

from artworks.storage import atomic_open

HISTORY_FILE = "history.csv"
BEST_METRIC = "val/macro_acc"  # the metric ModelCheckpoint selects the best epoch on


class EpochHistory(L.Callback):
    """Writes ``history.csv``: one row per epoch (0-based, as in checkpoint names) with every epoch metric.

    A row is written once the epoch's metrics are all known: the module logs its train metrics in its own
    ``on_train_epoch_end``, which runs after a callback's, so rows are flushed at the next epoch's start and
    at the end of training. Validation metrics are captured when validation ends, so an epoch without
    validation gets none (instead of the previous epoch's).

    The rows and the pending validation metrics are also saved in every checkpoint: a run killed after an
    epoch's checkpoint but before its row was written (or during testing) gets the row back on resume, and
    ``best_epoch`` in ``metrics.json`` stays what an uninterrupted run reports (found by the crash test).
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        self._ended_epoch: int | None = None
        self._val: dict[str, float] = {}
        self._val_epoch: int | None = None
        self._saved: dict[str, Any] | None = None  # the state of the checkpoint last loaded

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "val": self._val, "val_epoch": self._val_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._saved = state_dict  # Lightning loads it for testing too: only fit continues from it

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._saved is not None:  # resuming: the rows saved with the checkpoint training continues from
            self.rows = [dict(r) for r in self._saved["rows"]]
            self._val, self._val_epoch = dict(self._saved["val"]), self._saved["val_epoch"]

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._saved is not None:
            return
        # a checkpoint from before rows were saved in it: keep the file's rows of the epochs it already has
        rows = read_rows(self.path)
        self.rows = [{**r, "epoch": int(r["epoch"])} for r in rows if r["epoch"] < trainer.current_epoch]

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
            self._val_epoch = trainer.current_epoch

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)  # resumed after training had ended: the last row may still be pending

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._ended_epoch = trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._flush(trainer)

    def _flush(self, trainer: L.Trainer) -> None:
        if self._ended_epoch is not None:
            row: dict[str, Any] = {"epoch": self._ended_epoch}
            for key, value in trainer.callback_metrics.items():
                if not key.startswith(("val/", "test/")) and not key.endswith("_step"):
                    row[key] = float(value)
            row.update(self._val)
        elif self._val and self._val_epoch not in {r["epoch"] for r in self.rows}:
            # restored from a checkpoint of an epoch whose row a kill prevented: its validation metrics
            row = {"epoch": self._val_epoch, **self._val}
        else:
            return
        self.rows.append(row)
        self._ended_epoch, self._val = None, {}
        self._write()

    @rank_zero_only
    def _write(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        with atomic_open(self.path, newline="") as f:  # a resumed run and compare read it: whole or old
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
