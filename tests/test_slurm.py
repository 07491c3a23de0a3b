"""A two-job sweep submitted to a real SLURM cluster (hydra/launcher=slurm), each job DDP over 2 CPU tasks.

Runs where a cluster answers ``sinfo``: `make test` starts a one-node cluster in CI
(.ci/slurm/start-cluster.sh, Debian's slurm-wlm + munge); elsewhere it skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.test_distributed import ddp_root, run_train, tiny_overrides  # noqa: F401  (ddp_root: a fixture)

SWEEP_TIMEOUT_S = 480  # both jobs, queued one after the other on a 2-CPU node


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


pytestmark = [
    pytest.mark.skipif(
        not _cluster_up(),
        reason="no SLURM cluster answers `sinfo` (start one: sudo bash .ci/slurm/start-cluster.sh)",
    ),
]


def test_slurm_sweep_runs_each_job_as_two_ddp_tasks(ddp_root: Path, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'artworks[slurm]'")
    sweep_dir = tmp_path / "sweep"
    job_name = f"artworks-test-{uuid.uuid4().hex[:8]}"
    try:
        run_train(
            "-m",
            *tiny_overrides(ddp_root, tmp_path / "outputs"),
            "hydra/launcher=slurm",
            "hydra.launcher.gpus_per_node=null",
            "hydra.launcher.timeout_min=6",
            f"hydra.launcher.name={job_name}",
            "trainer=ddp_cpu",
            "logger=none",
            "trainer.limit_val_batches=1",
            "model.optimizer.lr=0.001,0.0003",
            f"hydra.sweep.dir={sweep_dir}",
            cwd=tmp_path,
            timeout=SWEEP_TIMEOUT_S,
        )
    finally:  # never leave jobs behind, whatever happened
        subprocess.run(["scancel", "--name", job_name], capture_output=True, timeout=30)

    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in jobs] == ["0_scratch_resnet50", "1_scratch_resnet50"]
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and 0 <= metrics["test/macro_acc"] <= 1
        assert list((job / "checkpoints").glob("*.ckpt"))
        # the ranks were SLURM tasks, not processes Lightning started itself
        assert not (job / "train_ddp_process_1.log").exists()
    # submitit kept one log per task: 2 jobs x 2 tasks
    task_logs = sorted(p.name for p in (sweep_dir / ".submitit").rglob("*_log.out"))
    assert len(task_logs) == 4, task_logs
    assert {name.rsplit("_", 2)[-2] for name in task_logs} == {"0", "1"}
