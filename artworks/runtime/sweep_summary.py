"""The end of a multirun: compare every job (``artworks.compare``) and print the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from artworks.errors import ArtworksError
from artworks.reports.compare import compare
from artworks.runtime import wandb_run


class SweepSummary(Callback):
    """Hydra callback: ``comparison.md`` and ``comparison.png`` in the sweep directory; the table printed.

    Args:
        reference: add the seed authors' validation figures as a column.
    """

    def __init__(self, reference: bool = False) -> None:
        self.reference = reference

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            settings = wandb_run.comparison_settings(config)  # a W&B run of job type compare, if W&B is on
            table = compare([sweep_dir], sweep_dir, reference=self.reference, wandb_settings=settings)
        except ArtworksError as err:
            print(f"\nNo comparison of {sweep_dir}: {err}\n")
            return
        print(f"\nResults of {sweep_dir} (comparison.md, comparison.png):\n{table}\n", flush=True)
