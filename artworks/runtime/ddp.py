"""One DDP world per Hydra job.

Lightning's DDP launcher re-runs ``sys.argv`` for ranks > 0. In a Hydra multirun that is the whole sweep
(``-m`` and every value), so each job would start a sweep of its own. :func:`distributed_job` makes the ranks
re-run *this job* (its overrides, its output directory) and tears the process group down afterwards, so the
next job of the sweep gets a fresh one. (Exact evaluation under DDP: ``artworks.data.samplers``.)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

# Set by Lightning's launcher in the main process; left behind they make the next job believe its ranks
# were started by someone else (and wait for them forever).
LAUNCH_ENV_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextlib.contextmanager
def _ranks_rerun_this_job() -> Iterator[None]:
    """Point Lightning's rank relaunch (``sys.argv`` + ``hydra.run.dir``) at the current Hydra job."""
    if not HydraConfig.initialized():
        yield
        return
    hydra_cfg = HydraConfig.get()
    saved_argv, saved_run_dir = list(sys.argv), hydra_cfg.run.dir
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    if hydra_cfg.mode == RunMode.MULTIRUN:
        sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    try:
        yield
    finally:
        sys.argv = saved_argv
        with read_write(hydra_cfg.run):
            hydra_cfg.run.dir = saved_run_dir


@contextlib.contextmanager
def distributed_job() -> Iterator[None]:
    """Scope (or decorator) of one Hydra job: its DDP ranks re-run this job, and its DDP world ends with it.

    Ranks that Lightning launched exit on their own when the job ends, or are killed by Lightning when the
    main process fails.
    """
    saved_env = {name: os.environ.get(name) for name in LAUNCH_ENV_VARS}
    try:
        with _ranks_rerun_this_job():
            yield
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
