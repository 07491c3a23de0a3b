"""Train one experiment, then test its best checkpoint.

python -m artworks.train model=cbam_resnet50 [key=value ...]
python -m artworks.train -m experiment=study      (all five as one multirun; `make sweep`)
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.config.checks import check_sweep_choices
from artworks.errors import ArtworksError
from artworks.runtime import sweep_failures
from artworks.runtime.command import hydra_task, run_command
from artworks.training.task import train


def check_optimized_metric(cfg: DictConfig) -> str:
    """``cfg.optimized_metric``, refused (before anything runs) when it is a test metric."""
    name = str(cfg.get("optimized_metric") or "val/macro_acc_best")
    if name.startswith("test/"):
        raise ArtworksError(
            f"optimized_metric={name} is a test-set metric. The value a job returns to Hydra's sweeper is "
            "what an optimising sweeper selects on, and the test set must never steer a choice. Use a "
            "validation metric, e.g. optimized_metric=val/macro_acc_best."
        )
    return name


def sweep_value(cfg: DictConfig, metrics: dict[str, Any]) -> float | None:
    """What a job returns to Hydra's sweeper: its ``optimized_metric`` (default ``val/macro_acc_best``)."""
    value = metrics.get(check_optimized_metric(cfg))
    return None if value is None else float(value)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
@hydra_task
def _hydra_entry(cfg: DictConfig) -> float | None:
    check_optimized_metric(cfg)
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        return sweep_value(cfg, train(cfg))
    try:
        return sweep_value(cfg, train(cfg))
    except Exception as err:  # one failed job must not stop the sweep; SweepFailures reports it at the end
        sweep_failures.record_failure(err)
        del err
        gc.collect()  # free what the failed job held (GPU memory after an OOM) before the next one
        return None


def main() -> None:
    """Run Hydra under the shared command wrapper (one paragraph and exit 2 for user errors, 1 for failed
    sweep jobs); a sweep's group options are checked before its first job starts."""

    def run() -> None:
        if {"-m", "--multirun"} & set(sys.argv[1:]):
            check_sweep_choices(sys.argv[1:])
        _hydra_entry()

    run_command(run)


if __name__ == "__main__":
    # Run the copy imported as artworks.train: a SLURM launcher (submitit) then pickles the task function
    # by reference, where one defined in __main__ would be pickled by value with everything it touches.
    from artworks.train import main as importable_main

    importable_main()
