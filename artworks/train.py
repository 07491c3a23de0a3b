"""Train one experiment, then test its best checkpoint.

python -m artworks.train model=cbam_resnet50 [key=value ...]
python -m artworks.train -m model=scratch_resnet50,finetune_resnet50,freeze14_resnet50,freeze13_resnet50,\
cbam_resnet50     (all five as one multirun; `make sweep`)
"""

from __future__ import annotations

import gc
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.config.checks import check_sweep_choices
from artworks.errors import user_message
from artworks.runtime import sweep_failures
from artworks.training.task import train


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def _hydra_entry(cfg: DictConfig) -> float | None:
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        return train(cfg).get("test/macro_acc")
    try:
        return train(cfg).get("test/macro_acc")
    except Exception as err:  # one failed job must not stop the sweep; SweepFailures reports it at the end
        sweep_failures.record_failure(err)
        del err
        gc.collect()  # free what the failed job held (GPU memory after an OOM) before the next one
        return None


def main() -> None:
    """Run Hydra; foreseeable failures print one paragraph (exit 2); a sweep with failed jobs exits 1."""
    show_traceback = "HYDRA_FULL_ERROR" in os.environ or "traceback=true" in [a.lower() for a in sys.argv[1:]]
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing, so errors reach us
    try:
        if {"-m", "--multirun"} & set(sys.argv[1:]):
            check_sweep_choices(sys.argv[1:])
        _hydra_entry()
    except Exception as err:
        message = None if show_traceback else user_message(err)
        if message is None:
            raise
        print(f"\nartworks: {message}\n", file=sys.stderr)
        sys.exit(2)
    finally:  # main() also runs in-process (tests, notebooks): leave the environment as it was
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous
    if sweep_failures.failed_sweeps:
        sys.exit(1)


if __name__ == "__main__":
    # Run the copy imported as artworks.train: a SLURM launcher (submitit) then pickles the task function
    # by reference, where one defined in __main__ would be pickled by value with everything it touches.
    from artworks.train import main as importable_main

    importable_main()
