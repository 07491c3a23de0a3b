"""One DDP world per Hydra job.

Lightning's DDP launcher re-runs ``sys.argv`` for ranks > 0. In a Hydra multirun that is the whole sweep
(``-m`` and every value), so each job would start a sweep of its own. :func:`distributed_job` makes the ranks
re-run *this job* (its overrides, its output directory) and tears the process group down afterwards, so the
next job of the sweep gets a fresh one. (Exact evaluation under DDP: ``artworks.data.samplers``.)

It also keeps one job's failed rank from killing the sweep: see :func:`_sweep_safe_rank_watch`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

# Set by Lightning's launcher in the main process; left behind they make the next job believe its ranks
# were started by someone else (and wait for them forever).
LAUNCH_ENV_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
# How long a job whose rank died may take to end on its own before the main process is killed (it is then
# stuck in a collective, e.g. NCCL waiting for the dead rank).
MAIN_GRACE_S = 60.0
_JOB_ENDED = "_artworks_job_ended"

log = logging.getLogger(__name__)


def _rank_watch_class() -> type[threading.Thread] | None:
    """Lightning's watcher of the ranks its launcher started, or None where this Lightning has none."""
    try:
        from lightning.fabric.strategies.launchers.subprocess_script import _ChildProcessObserver
    except ImportError:
        return None
    return _ChildProcessObserver if hasattr(_ChildProcessObserver, "_terminate_all") else None


def _sweep_safe_rank_watch() -> None:
    """Make Lightning's rank watcher spare the main process while its job can still end on its own.

    When a rank it started exits with an error, Lightning's watcher kills the other ranks *and the main
    process*, so that nothing hangs in a collective. In a Hydra multirun the main process is the whole sweep,
    and the watcher fires up to 5 s late: a job whose rank 1 failed (rank 0 failing at once on the broken
    connection, its failure recorded) killed the sweep in the middle of the next job, and no job after it
    ran. Lightning has no option for this, so the watcher's last step is replaced: the other ranks are still
    killed at once; the main process only if its job has not ended ``MAIN_GRACE_S`` later.
    """
    watch = _rank_watch_class()
    if watch is None or getattr(watch, "_artworks_sweep_safe", False):
        return

    def terminate_all(self: threading.Thread) -> None:
        for proc in self._child_processes:
            proc.send_signal(self._termination_signal)
        deadline = time.monotonic() + MAIN_GRACE_S
        while not getattr(self, _JOB_ENDED, False) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not getattr(self, _JOB_ENDED, False):
            log.error(
                "A DDP rank died and the job did not end within %.0f s: stopping this process.", MAIN_GRACE_S
            )
            os.kill(self._main_pid, self._termination_signal)

    watch._terminate_all = terminate_all
    watch._artworks_sweep_safe = True


def _rank_watches() -> set[threading.Thread]:
    watch = _rank_watch_class()
    return {t for t in threading.enumerate() if watch is not None and isinstance(t, watch)}


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
    main process fails; a rank that fails ends its job, not the process (:func:`_sweep_safe_rank_watch`).
    """
    saved_env = {name: os.environ.get(name) for name in LAUNCH_ENV_VARS}
    _sweep_safe_rank_watch()
    watches_before = _rank_watches()
    try:
        with _ranks_rerun_this_job():
            yield
    finally:
        for watch in _rank_watches() - watches_before:  # this job's: it has ended, they spare the process
            setattr(watch, _JOB_ENDED, True)
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
