"""``make demo``: the five experiments on the synthetic sample, on the CPU, as one Hydra multirun.

The three fine-tuning experiments start from ImageNet weights when they can be had (torchvision's cache
or a download). When they cannot (an offline machine), the demo first trains a ResNet-50 on the sample
itself and starts the fine-tuning experiments from that backbone instead, and says so: those rows are then
"fine-tuned from a sample-trained backbone", not ImageNet fine-tuning.

The terminal gets one line per experiment, the table and where things are; everything the training
processes print goes to log files in the output folders.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from artworks.config.study import study_models
from artworks.errors import ArtworksError, fill
from artworks.models.weights import fetch_state_dict, read_state_dict
from artworks.runtime.command import command
from artworks.runtime.sweep_failures import FAILURE_FILE, collect_failures

DEMO_DIR = Path("outputs/demo")
STANDIN_WEIGHTS = DEMO_DIR / "standin" / "resnet50-sample-pretrained.pth"
SWEEP_DIR = DEMO_DIR / "sweep"
LOG_NAME = "output.log"  # what a training process printed (progress, warnings, W&B), in its folder
DOWNLOAD_TIMEOUT_S = 20
POLL_S = 1.0
EXIT_FAILED = 1
TRAIN_COMMAND = [sys.executable, "-m", "artworks.train"]
# The logs keep what matters; the terminal stays readable (no progress bars in log files either).
QUIET = ["experiment=demo", "trainer.enable_progress_bar=false"]


class DemoFailed(Exception):
    """A training process of the demo failed; the message is the paragraph to show."""


def _train(log_dir: Path, *overrides: str) -> subprocess.Popen:
    """Start ``python -m artworks.train`` with its output going to ``log_dir/output.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / LOG_NAME, "w") as log:  # the child keeps its own handle
        return subprocess.Popen(
            [*TRAIN_COMMAND, *overrides, *QUIET],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _last_paragraph(log: Path) -> str:
    """Why a training process stopped: its ``artworks:`` paragraph, else the last line of its log."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    if "\nartworks: " in text:
        return " ".join(text.rsplit("\nartworks: ", 1)[1].split("\n\n")[0].split())
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "it printed nothing"


@contextlib.contextmanager
def _stopped_on_exit(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Ctrl-C or an error in the demo also ends the training process it started."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()


def _check_exit(process: subprocess.Popen, log: Path, what: str) -> None:
    with _stopped_on_exit(process):
        process.wait()
    if process.returncode != 0:
        raise DemoFailed(
            f"{what} stopped with exit status {process.returncode}: {_last_paragraph(log)} "
            f"The full log is {log}."
        )


def imagenet_weights_available() -> bool:
    """True when torchvision's ResNet-50 ImageNet weights are cached or downloadable."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        quiet = io.StringIO()  # torch.hub's "Downloading: ..." line, which a failed download leaves behind
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            fetch_state_dict("resnet50", "IMAGENET1K_V2")
        return True
    except ArtworksError:
        return False
    finally:
        socket.setdefaulttimeout(previous)


def train_standin_backbone() -> Path:
    """Train ResNet-50 from scratch on the sample and save its weights in torchvision's format."""
    run_dir = STANDIN_WEIGHTS.parent
    print("  training the stand-in backbone (scratch_resnet50 on the sample) ...", end=" ", flush=True)
    started = time.perf_counter()
    overrides = ["model=scratch_resnet50", "logger=none", "test=false", f"hydra.run.dir={run_dir}"]
    _check_exit(_train(run_dir, *overrides), run_dir / LOG_NAME, "Training the stand-in backbone")
    print(f"done in {time.perf_counter() - started:.0f} s", flush=True)
    best = sorted(run_dir.glob("checkpoints/epoch_*.ckpt"))[-1]  # save_top_k=1: the best epoch only
    torch.save(read_state_dict(best), STANDIN_WEIGHTS)
    return STANDIN_WEIGHTS


def _progress_line(job_dir: Path, done: int, total: int) -> str:
    """One line for a finished (or failed) job of the sweep."""
    name = job_dir.name.split("_", 1)[-1]
    if (job_dir / FAILURE_FILE).is_file():
        failure = json.loads((job_dir / FAILURE_FILE).read_text())
        return f"  [{done}/{total}] {name:<20} FAILED (log: {failure['log']})"
    m: dict[str, Any] = json.loads((job_dir / "metrics.json").read_text())
    return (
        f"  [{done}/{total}] {name:<20} test macro acc {m.get('test/macro_acc', float('nan')):.3f}"
        f"  (best val {m.get('val/macro_acc_best', float('nan')):.3f})  {m.get('wall_time_s', 0):.0f} s"
    )


def _finished_jobs() -> list[Path]:
    """Job folders of the sweep that wrote their metrics or their failure, in job order."""
    jobs = [d for d in SWEEP_DIR.glob("*_*") if d.is_dir()]
    done = [d for d in jobs if (d / "metrics.json").is_file() or (d / FAILURE_FILE).is_file()]
    return sorted(done, key=lambda d: int(d.name.split("_", 1)[0]) if d.name[0].isdigit() else -1)


def run_sweep(experiments: Sequence[str], overrides: Sequence[str]) -> None:
    """The multirun, one progress line per experiment as it finishes."""
    log = SWEEP_DIR / LOG_NAME
    print(f"Training {len(experiments)} experiments as one Hydra multirun (its log: {log}):", flush=True)
    process = _train(
        SWEEP_DIR, "-m", f"model={','.join(experiments)}", f"hydra.sweep.dir={SWEEP_DIR}", *overrides
    )
    reported: set[Path] = set()
    with _stopped_on_exit(process):
        while True:
            running = process.poll() is None
            for job_dir in (d for d in _finished_jobs() if d not in reported):
                reported.add(job_dir)
                print(_progress_line(job_dir, len(reported), len(experiments)), flush=True)
            if not running:
                break
            time.sleep(POLL_S)
    failures = collect_failures(SWEEP_DIR)
    if failures:
        jobs = "; ".join(f"{f['job_dir']}: {f['error']}" for f in failures)
        raise DemoFailed(
            f"{len(failures)} of {len(experiments)} experiments failed ({jobs}). Each failed job's log is "
            f"in its folder; everything the sweep printed is in {log}."
        )
    _check_exit(process, log, "The demo's multirun")


def first_table(markdown: Path) -> str:
    """The first table of a markdown file (the comparison's one row per experiment)."""
    lines = markdown.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def main_body() -> None:
    print("artworks demo: five ResNet-50 experiments on synthetic paintings, CPU only.\n", flush=True)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    experiments = study_models()  # conf/experiment/study.yaml
    overrides = []
    if imagenet_weights_available():
        note = "Fine-tuning experiments start from torchvision's ImageNet weights (IMAGENET1K_V2)."
    else:
        print(
            "ImageNet weights are not available on this machine, so the demo first trains a ResNet-50\n"
            "on the sample data and uses THAT as the starting point of the three fine-tuning experiments.\n"
            "Their rows below are NOT ImageNet fine-tuning; with the real weights cached they would be.\n",
            flush=True,
        )
        overrides.append(f"model.net.weights_path={train_standin_backbone().resolve()}")
        note = (
            "finetune/freeze rows started from a backbone trained on the sample itself "
            f"({STANDIN_WEIGHTS}), not from ImageNet weights."
        )
    run_sweep(experiments, overrides)
    classes = json.loads(next(SWEEP_DIR.glob("*/metrics.json")).read_text())["classes"]
    print(f"\n{first_table(SWEEP_DIR / 'comparison.md')}\n")
    print(
        f"Chance is 1/{classes}. The table, paired tests and every run: {SWEEP_DIR / 'comparison.md'} "
        "(curves: comparison.png)."
    )
    print(f"Note: {note}")
    print(f"Run outputs: {SWEEP_DIR}/<n>_<experiment>/ (metrics.json, reports, checkpoints, logs)")


@command
def main(argv: Sequence[str] | None = None) -> None:
    """``make demo``; a failed training process ends it with one paragraph and exit status 1."""
    argparse.ArgumentParser(prog="python -m artworks.demo", description=__doc__.split("\n\n")[0]).parse_args(
        argv
    )
    try:
        main_body()
    except DemoFailed as err:
        print(f"\nartworks demo: {fill(str(err))}\n", file=sys.stderr)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
