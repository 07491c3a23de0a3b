"""Continue an interrupted run in its own run directory, from its last checkpoint, as the same W&B run.

How it fits together:

* Every run directory holds ``resume.json``: a hash of the run's resolved config (minus the keys that do
  not change what is trained: where outputs go, logging, ``resume`` itself) and its W&B run id.
* ``hydra.run.dir`` / ``hydra.sweep.dir`` go through the ``${resume_run_dir:...}`` and
  ``${resume_sweep_dir:...}`` resolvers. Without ``resume`` they return the usual timestamped folder; with
  ``resume=auto`` (or ``ckpt_path=last``) they return the newest earlier run (sweep) with the same hash, so
  Hydra itself writes into the old folder. ``resume=<run dir>`` names the folder; ``ckpt_path=<file>``
  inside a run's ``checkpoints/`` continues that run.
* :func:`prepare` then picks the checkpoint (``last.ckpt``) and the W&B id; a run that already wrote
  ``metrics.json`` is not trained again. Lightning restores weights, optimizer, scheduler, epoch and
  ModelCheckpoint state; ``artworks.training.callbacks.RNGState`` the RNGs; the datamodule the data order.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from artworks.errors import ArtworksError
from artworks.runtime import wandb_run
from artworks.storage import atomic_write_json, hold_folder, remove_orphans

log = logging.getLogger(__name__)

RUN_STATE = "resume.json"
SWEEP_STATE = "sweep.json"
METRICS = "metrics.json"
# Top-level keys that do not change what a run trains; ignored when matching a run to resume.
IGNORED_KEYS = ("hydra", "resume", "ckpt_path", "logger", "report", "traceback")
OUTPUT_DIR_PLACEHOLDER = "<run dir>"
IN_USE_HINT = (
    "Two processes training one run folder would overwrite each other's checkpoints. Wait for that one to "
    "finish (or end it), then run the same command again: resume=auto continues where it stopped."
)


def config_hash(cfg: DictConfig) -> str:
    """A short hash of the resolved config, the same for the same command line on the same data."""
    container = OmegaConf.to_container(cfg, resolve=False)
    for key in IGNORED_KEYS:
        container.pop(key, None)
    copy = OmegaConf.create(container)
    if "paths" in copy:
        with open_dict(copy):
            copy.paths.output_dir = OUTPUT_DIR_PLACEHOLDER  # the run dir itself is what we are looking for
    try:
        resolved = OmegaConf.to_container(copy, resolve=True)
    except Exception:  # an interpolation that needs Hydra's runtime: hash the unresolved text instead
        resolved = container
    text = json.dumps(resolved, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sweep_hash(cfg: DictConfig) -> str:
    """The config hash plus the sweep's own overrides (``model=a,b``), which the base config does not show."""
    overrides = sorted(
        o
        for o in OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or []
        if not _is_resume_override(o)
    )
    return hashlib.sha256(f"{config_hash(cfg)} {overrides}".encode()).hexdigest()[:16]


def _is_resume_override(override: str) -> bool:
    return override.lstrip("+~").split("=", 1)[0] in ("resume", "ckpt_path", "traceback")


def _wants_latest(cfg: DictConfig) -> bool:
    return cfg.get("resume") == "auto" or cfg.get("ckpt_path") == "last"


def _newest_match(parent: Path, state_name: str, key: str, value: str) -> Path | None:
    """The newest folder under ``parent`` whose ``state_name`` records ``key == value``.

    A folder without ``state_name`` is a run killed before it recorded itself, never continued: what its
    killed writers left there is removed on the way.
    """
    matches = []
    for folder in parent.glob("*"):
        if folder.is_dir() and not (folder / state_name).exists():
            remove_orphans(folder)
    for state in parent.glob(f"*/{state_name}"):
        try:
            if json.loads(state.read_text()).get(key) == value:
                matches.append(state.parent)
        except (OSError, ValueError):
            continue
    return max(matches, key=lambda d: d.name) if matches else None


# The folder each resolver chose, by its default: Hydra may resolve the run dir more than once.
_chosen: dict[str, str] = {}


def resume_run_dir(default: str, *, _root_: DictConfig) -> str:
    """Resolver for ``hydra.run.dir``: ``default``, or the folder of the run to continue."""
    if default not in _chosen:
        _chosen[default] = _find_run_dir(default, _root_)
    return _chosen[default]


def _find_run_dir(default: str, root: DictConfig) -> str:
    resume, ckpt = root.get("resume"), root.get("ckpt_path")
    if not root.get("train", True) or (not resume and not ckpt):
        return default
    if _wants_latest(root):
        found = _newest_match(Path(default).parent, RUN_STATE, "config_hash", config_hash(root))
        return str(found) if found else default
    if resume:
        run_dir = Path(str(resume)).expanduser().resolve()
        if not (run_dir / RUN_STATE).is_file():
            raise ArtworksError(
                f"resume={resume} is not a run directory of this project (it has no {RUN_STATE}). Pass the "
                "folder of an earlier run (outputs/runs/<date>_<experiment>), or resume=auto to find the "
                "newest run of the same config."
            )
        return str(run_dir)
    # a checkpoint inside an unfinished run of this same config continues that run; any other starts a new one
    run_dir = Path(str(ckpt)).expanduser().resolve().parent.parent  # <run dir>/checkpoints/<file>.ckpt
    try:
        same = json.loads((run_dir / RUN_STATE).read_text()).get("config_hash") == config_hash(root)
    except (OSError, ValueError):
        same = False
    return str(run_dir) if same and not (run_dir / METRICS).is_file() else default


def resume_sweep_dir(default: str, *, _root_: DictConfig) -> str:
    """Resolver for ``hydra.sweep.dir``: ``default``, or with ``resume=auto`` the newest identical sweep.

    Only the launcher's config can tell (a job's config lacks the sweep's overrides); :func:`record_sweep`
    pins the choice into the overrides every job is composed with.
    """
    if default not in _chosen:
        found = None
        if _wants_latest(_root_):
            found = _newest_match(Path(default).parent, SWEEP_STATE, "sweep_hash", sweep_hash(_root_))
        _chosen[default] = str(found) if found else default
    return _chosen[default]


def record_sweep(cfg: DictConfig) -> Path:
    """Write the sweep's identity (for a later ``resume=auto``) and pin its folder for every job."""
    sweep_dir = Path(cfg.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(sweep_dir / SWEEP_STATE, {"sweep_hash": sweep_hash(cfg)}, indent=2)
    quoted = str(sweep_dir).replace("\\", "\\\\").replace("'", "\\'")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.sweep.dir = str(sweep_dir)
        cfg.hydra.overrides.hydra.append(f"hydra.sweep.dir='{quoted}'")
    return sweep_dir


@dataclass
class ResumePlan:
    """What :func:`prepare` decided for this run."""

    ckpt_path: str | None  # for trainer.fit; None: start from scratch
    wandb_id: str
    finished_metrics: dict[str, Any] | None = None  # the run had finished: nothing to train


def prepare(cfg: DictConfig, output_dir: Path) -> ResumePlan:
    """Decide where training starts, record the run's identity, and point the W&B logger at the same run."""
    if rank_zero_only.rank == 0:  # the rank that writes the run's files holds its folder (and cleans it)
        hold_folder(output_dir, IN_USE_HINT)
    state_path = output_dir / RUN_STATE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    current_hash = config_hash(cfg)
    resuming = bool(state) and bool(cfg.get("resume") or cfg.get("ckpt_path"))
    if resuming and state.get("config_hash") != current_hash:
        log.warning("Resuming %s with a config that differs from the one it started with.", output_dir)
    if resuming and (output_dir / METRICS).is_file():
        log.info(
            "%s finished earlier; its metrics are in %s. Nothing to do.", output_dir, output_dir / METRICS
        )
        return ResumePlan(None, state.get("wandb_id", ""), json.loads((output_dir / METRICS).read_text()))

    ckpt = cfg.get("ckpt_path")
    if ckpt in (None, "last") and (cfg.get("resume") or ckpt == "last"):
        last = Path(OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath", default="")) / "last.ckpt"
        ckpt = str(last) if last.is_file() else None
        if ckpt:
            log.info("Resuming %s from %s", output_dir, ckpt)
        else:
            log.info("No checkpoint to resume in %s; starting from scratch.", output_dir)
    wandb_id = wandb_run.continue_run(cfg, output_dir, state.get("wandb_id"))  # the same W&B run
    atomic_write_json(state_path, {"config_hash": current_hash, "wandb_id": wandb_id}, indent=2)
    return ResumePlan(str(ckpt) if ckpt else None, wandb_id)
