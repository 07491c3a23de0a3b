"""Distributed runs that match a single device: exact evaluation, and one DDP world per Hydra job.

Two things Lightning does not do on its own:

* Its default ``DistributedSampler`` pads val/test sets with repeated samples so every rank gets the same
  number of batches, which changes the metrics. :class:`UnpaddedEvalSampler` splits them without padding; the
  metrics (torchmetrics states) are summed across ranks, so each sample counts exactly once.
* Its DDP launcher re-runs ``sys.argv`` for ranks > 0. In a Hydra multirun that is the whole sweep (``-m``
  and every value), so each job would start a sweep of its own. :func:`distributed_job` makes the ranks
  re-run *this job* (its overrides, its output directory) and tears the process group down afterwards, so
  the next job of the sweep gets a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sized

import torch
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write
from torch.utils.data import DistributedSampler

# Set by Lightning's launcher in the main process; left behind they make the next job believe its ranks
# were started by someone else (and wait for them forever).
LAUNCH_ENV_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


class UnpaddedEvalSampler(DistributedSampler):
    """Val/test order for any number of processes: rank ``r`` of ``W`` gets items ``r, r + W, r + 2W, ...``.

    No item is repeated, so ranks may run one batch more or less than each other, which is safe for
    evaluation (no gradient sync). The rank and world size are read when the loader is iterated, so a loader
    built before the process group starts (``artworks.evaluate``) still splits correctly; on one process it
    is the plain sequential order. It is a ``DistributedSampler`` only so that Lightning keeps it instead of
    injecting its padding one.
    """

    # DistributedSampler.__init__ is skipped on purpose: it needs the process group to exist already.
    def __init__(self, dataset: Sized) -> None:  # noqa: B027
        self.dataset = dataset
        self.epoch, self.seed, self.shuffle, self.drop_last = 0, 0, False, False

    def _share(self) -> range:
        if dist.is_available() and dist.is_initialized():
            return range(dist.get_rank(), len(self.dataset), dist.get_world_size())
        return range(len(self.dataset))

    def __iter__(self) -> Iterator[int]:
        return iter(self._share())

    def __len__(self) -> int:
        return len(self._share())


def gather_eval_outputs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's evaluation outputs, in dataset order (as one process would have them); on the CPU.

    Rank ``r`` of ``W`` evaluated dataset items ``r, r + W, r + 2W, ...`` (:class:`UnpaddedEvalSampler`),
    so its ``k``-th output sits at position ``r + k W``. A collective: call it on every rank.
    """
    logits, labels = logits.cpu(), labels.cpu()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return logits, labels
    world = dist.get_world_size()
    shares: list[tuple[torch.Tensor, torch.Tensor]] = [None] * world  # type: ignore[list-item]
    dist.all_gather_object(shares, (logits, labels))
    positions = torch.cat([rank + world * torch.arange(len(share[1])) for rank, share in enumerate(shares)])
    order = positions.argsort()
    return torch.cat([s[0] for s in shares])[order], torch.cat([s[1] for s in shares])[order]


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
