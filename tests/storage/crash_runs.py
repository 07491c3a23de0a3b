"""Runs of ``train`` that can be SIGKILLed anywhere, and the checks a crash-consistent run folder must pass.

Each run is a forked child of the test process (already importing torch, Lightning and the project: a run
costs seconds, not the ~10 s a fresh interpreter needs) in its own session, so a kill of its process group
takes its workers with it, as a scheduler's would. Every run, killed or not, uses one intra-op thread, so
all runs do the same arithmetic.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from artworks.storage import CRASH_ENV, temp_files
from artworks.storage.crash import TRACE_ENV

KILL_IN_LOOP = "ARTWORKS_TEST_KILL_IN"
KILLED = -signal.SIGKILL


class KillInLoop(Callback):
    """``ARTWORKS_TEST_KILL_IN=<stage>:<n>``: SIGKILL the process group before batch n of a loop.

    ``stage`` is ``train``, ``validate`` or ``test``: the named points of :mod:`artworks.storage.crash` sit in
    writes; this callback adds points inside training, validation and testing.
    """

    def _maybe_kill(self, stage: str, batch_idx: int) -> None:
        wanted = os.environ.get(KILL_IN_LOOP, "")
        if wanted and wanted == f"{stage}:{batch_idx}":
            os.killpg(os.getpgrp(), signal.SIGKILL)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int
    ) -> None:
        self._maybe_kill("train", trainer.global_step)

    def on_validation_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int, dataloader_idx: int = 0
    ) -> None:
        if not trainer.sanity_checking:
            self._maybe_kill("validate", idx)

    def on_test_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int, dataloader_idx: int = 0
    ) -> None:
        self._maybe_kill("test", idx)


def run_forked(
    cfg: DictConfig, env: dict[str, str], kill_after: float | None = None, timeout: float = 300
) -> int:
    """``train(cfg)`` in a forked child with ``env`` set: its exit code (-9: killed; ``kill_after`` s)."""
    from artworks.training.task import train

    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.setsid()
            os.environ.update(env)
            import torch

            torch.set_num_threads(1)
            train(cfg)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout
    killed_at = time.monotonic() + kill_after if kill_after is not None else None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        now = time.monotonic()
        if (killed_at is not None and now >= killed_at) or now >= deadline:
            with_timeout = now >= deadline
            with contextlib.suppress(ProcessLookupError):  # it may have just ended
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            if with_timeout:
                raise TimeoutError(f"run did not finish in {timeout} s")
            return KILLED
        time.sleep(0.005)


def trace_points(cfg: DictConfig, trace: Path) -> list[tuple[str, str]]:
    """Run ``cfg`` to the end, recording every named point it passes, in order: (point, file name)."""
    assert run_forked(cfg, {TRACE_ENV: str(trace)}) == 0
    return [tuple(line.split("\t")) for line in trace.read_text().splitlines()]  # type: ignore[misc]


def kill_env(point: str) -> dict[str, str]:
    """The environment that kills a run at ``point``: ``<stage>:<n>`` of a loop or a named crash point."""
    stage = point.split(":")[0]
    if stage in ("train", "validate", "test"):
        return {KILL_IN_LOOP: point}
    return {CRASH_ENV: point}


def leftovers(*folders: Path) -> list[Path]:
    """Temporary files of the storage helper anywhere under ``folders`` (must be none after a run)."""
    return [t.path for folder in folders for t in temp_files(folder, recursive=True)]


def unparsable(*folders: Path) -> list[str]:
    """Every JSON or CSV file under ``folders`` that does not parse, with the reason."""
    bad = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".json", ".csv") or not path.is_file() or "wandb" in path.parts:
                continue
            try:
                if path.suffix == ".json":
                    json.loads(path.read_text())
                else:
                    with path.open(newline="") as f:
                        rows = list(csv.reader(f))
                    assert rows and len({len(r) for r in rows}) == 1, "ragged or empty"
            except (ValueError, AssertionError, UnicodeDecodeError) as err:
                bad.append(f"{path}: {err}")
    return bad
