"""A multirun survives its failed jobs: each failure is recorded, the others run, the sweep reports them all.

Hydra's basic launcher stops a sweep at the first job that raises. ``artworks.train`` therefore catches a
job's exception in multirun mode and calls :func:`record_failure` (``failure.json`` in the job folder, the
traceback in the job's log). At the end :class:`SweepFailures` lists the failed jobs, writes
``failures.json`` and ``failures.md`` into the sweep folder, and ``artworks.train`` exits with status 1.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from artworks.errors import describe_error
from artworks.storage import atomic_write_json, atomic_write_text
from artworks.training import resume

log = logging.getLogger(__name__)

FAILURE_FILE = "failure.json"
# Sweeps of this process that had failed jobs; artworks.train's main() turns it into the exit status.
failed_sweeps: list[Path] = []


def record_failure(error: BaseException) -> dict[str, Any]:
    """Write ``failure.json`` for the current Hydra job and log the full traceback into its log file."""
    hydra_cfg = HydraConfig.get()
    job_dir = Path(hydra_cfg.runtime.output_dir)
    log_path = job_dir / f"{hydra_cfg.job.name}.log"
    log.error("Job %s failed", hydra_cfg.job.num, exc_info=error)
    failure = {
        "job": hydra_cfg.job.num,
        "overrides": list(hydra_cfg.overrides.task),
        "error": describe_error(error),
        "log": str(log_path),
        "job_dir": str(job_dir),
    }
    atomic_write_json(job_dir / FAILURE_FILE, failure, indent=2)
    return failure


def clear_failure(job_dir: Path) -> None:
    """A job that runs again starts without its earlier failure record."""
    (job_dir / FAILURE_FILE).unlink(missing_ok=True)


def collect_failures(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every job's failure record under ``sweep_dir``."""
    return [json.loads(p.read_text()) for p in sorted(Path(sweep_dir).glob(f"*/{FAILURE_FILE}"))]


def format_failures(failures: list[dict[str, Any]]) -> str:
    lines = [f"{len(failures)} job(s) failed:"]
    for f in failures:
        lines.append(f"- job {f['job']} ({' '.join(f['overrides'])}): {f['error']}\n  log: {f['log']}")
    return "\n".join(lines)


class SweepFailures(Callback):
    """Hydra callback: remember the sweep (for ``resume=auto``) and report its failed jobs at the end."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        resume.record_sweep(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        failures = collect_failures(sweep_dir)
        if not failures:
            return
        report = format_failures(failures)
        atomic_write_json(sweep_dir / "failures.json", failures, indent=2)
        atomic_write_text(sweep_dir / "failures.md", report + "\n")
        rerun = "Fix the cause and run the same command again with resume=auto: finished jobs are skipped."
        print(f"\n{report}\n(also in {sweep_dir / 'failures.md'})\n{rerun}\n", file=sys.stderr)
        failed_sweeps.append(sweep_dir)
