"""A two-job sweep submitted to a real SLURM cluster (hydra/launcher=slurm), each job DDP over 2 CPU tasks.

Runs where a cluster answers ``sinfo``: `make test` starts a one-node cluster in CI
(.ci/slurm/start-cluster.sh, Debian's slurm-wlm + munge); elsewhere it skips.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from tests.helpers.ddp import run_train, tiny_overrides

SWEEP_TIMEOUT_S = 480  # both jobs, queued one after the other on a 2-CPU node
REQUEUE_TIMEOUT_S = 420  # first start + requeue delay + second start of one small job


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.skipif(
        not _cluster_up(),
        reason="no SLURM cluster answers `sinfo` (start one: sudo bash .ci/slurm/start-cluster.sh)",
    ),
]


def test_slurm_sweep_runs_each_job_as_two_ddp_tasks(ddp_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'artworks[slurm]'")
    sweep_dir = tmp_path / "sweep"
    job_name = f"artworks-test-{uuid.uuid4().hex[:8]}"
    try:
        run_train(
            "-m",
            *tiny_overrides(ddp_root, tmp_path / "outputs"),
            "hydra/launcher=slurm",
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
    # srun ends a job when one of its tasks dies (its other ranks would wait for it until the time limit)
    for script in (sweep_dir / ".submitit").rglob("*_submission.sh"):
        lines = script.read_text().splitlines()
        srun = next(i for i, line in enumerate(lines) if line.startswith("srun "))
        assert "export SLURM_KILL_BAD_EXIT=1" in lines[:srun], script.read_text()


def _job_state(job_id: str) -> str:
    cmd = ["squeue", "-h", "-j", job_id, "-o", "%T"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended (rc {proc.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("preempt", ["submitit", "scontrol"])
def test_preempted_slurm_job_resumes_from_its_last_checkpoint(
    preempt: str,
    ddp_root: Path,
    tmp_path: Path,
) -> None:
    """Preempt a running job the way a cluster does; it is requeued and resume=auto continues it.

    ``submitit``: SIGTERM then USR2 (submitit's own preemption, ``SlurmJob._interrupt``), on which submitit
    runs ``scontrol requeue`` itself; ``scontrol``: Slurm requeues the job directly (PreemptMode=REQUEUE).
    """
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'artworks[slurm]'")
    sweep_dir = tmp_path / "sweep"
    job_dir = sweep_dir / "0_scratch_resnet50"
    last_ckpt = job_dir / "checkpoints" / "last.ckpt"
    job_name = f"artworks-requeue-{uuid.uuid4().hex[:8]}"
    max_epochs, steps_per_epoch = 3, 8
    client_log = tmp_path / "client.log"
    cmd = [
        sys.executable,
        "-m",
        "artworks.train",
        "-m",
        *tiny_overrides(ddp_root, tmp_path / "outputs"),
        "hydra/launcher=slurm",
        # submitit counts a signal as a time-out, not a preemption, before min(0.8 T, T - 10 min)
        "hydra.launcher.timeout_min=15",
        f"hydra.launcher.name={job_name}",
        "trainer=cpu",
        "logger=none",
        f"trainer.max_epochs={max_epochs}",
        f"trainer.limit_train_batches={steps_per_epoch}",
        "trainer.limit_val_batches=1",
        "callbacks.last_checkpoint.every_n_train_steps=1",
        "resume=auto",
        "model.optimizer.lr=0.001",  # a one-job sweep
        f"hydra.sweep.dir={sweep_dir}",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    started = time.monotonic()
    with client_log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(last_ckpt.is_file, 300, "the job's first last.ckpt", proc, client_log)
        assert not (job_dir / "metrics.json").exists(), "the job finished before it could be preempted"
        job_id = subprocess.run(
            ["squeue", "-h", "--name", job_name, "-o", "%i"], capture_output=True, text=True, timeout=30
        ).stdout.split()[0]
        if preempt == "submitit":
            # what a preemption looks like to submitit (SlurmJob._interrupt): SIGTERM (ignored), then USR2,
            # on which submitit checkpoints the launcher call and runs `scontrol requeue` for the same job
            for sig in ("TERM", "USR2"):
                subprocess.run(["scancel", f"--signal={sig}", job_id], check=True, timeout=30)
        else:  # SIGTERM to the job (Lightning stops at the next batch), then SIGKILL, then back in the queue
            subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=30)
        # Slurm holds a requeued job back for a while (~3 min here): once it is pending, let it start now
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _job_state(job_id) != "PENDING":
            time.sleep(0.5)
        # where the preempted run stopped: the step its requeued copy has to continue from
        stopped_at = torch.load(last_ckpt, map_location="cpu", weights_only=False)["global_step"]
        start_now = ["scontrol", "update", f"JobId={job_id}", "StartTime=now"]
        subprocess.run(start_now, capture_output=True, timeout=30)
        remaining = REQUEUE_TIMEOUT_S - (time.monotonic() - started)
        proc.wait(timeout=max(remaining, 1))
    finally:  # never leave jobs behind, whatever happened
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        subprocess.run(["scancel", "--name", job_name], capture_output=True, timeout=30)
    assert proc.returncode == 0, client_log.read_text()[-6000:]

    # one job, one folder: the requeued job finished in the folder it started in
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert jobs == ["0_scratch_resnet50"]
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert 0 <= metrics["test/macro_acc"] <= 1
    logs = "\n".join(
        p.read_text(errors="replace")
        for p in [*job_dir.glob("*.log"), *(sweep_dir / ".submitit").rglob("*_log.*")]
    )
    if preempt == "submitit":  # submitit caught the preemption and requeued the job ...
        assert "Caught signal SIGUSR2" in logs and "this job is preempted" in logs, logs[-4000:]
        assert f"Requeued job {job_id}" in logs, logs[-4000:]
    assert f"Resuming {job_dir} from {last_ckpt}" in logs, logs[-4000:]  # ... resume=auto took it up ...
    assert "Restored all states from the checkpoint" in logs, logs[-4000:]  # ... and Lightning loaded it
    assert 0 < stopped_at < max_epochs * steps_per_epoch, stopped_at  # it was stopped mid-training
    # and the continued run is consistent: every epoch once, up to max_epochs
    with (job_dir / "history.csv").open(newline="") as f:
        epochs = [int(float(row["epoch"])) for row in csv.DictReader(f)]
    assert epochs == list(range(max_epochs)), epochs
