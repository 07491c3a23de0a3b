"""Compare finished runs from their local outputs alone: one table, one plot.

    python -m artworks.compare outputs/multiruns/<sweep>            # every run under a multirun directory
    python -m artworks.compare RUN_DIR RUN_DIR ... [--out DIR] [--reference] [--reference-experiment NAME]

Writes ``comparison.md`` (one row per experiment: mean ± std over its runs, e.g. seeds or splits; every
experiment against a reference, paired on the test images (``artworks.reports.paired``); one row per run)
and ``comparison.png`` (``val/macro_acc`` per epoch of every experiment). Reads each run's ``metrics.json``,
``history.csv``, ``test_predictions.csv`` and, when Hydra wrote it, ``.hydra/overrides.yaml``: runs
differing in an override other than ``seed``, ``model`` and ``data.split_seed`` are kept apart (e.g.
``-m model=a,b optimizer.lr=1e-3,1e-4 seed=1,2``).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from artworks.errors import ArtworksError
from artworks.reports import paired
from artworks.reports.plots import plot_curves
from artworks.runtime import wandb_run
from artworks.storage.atomic import atomic_write_text
from artworks.training.callbacks.history import read_history

CURVE_METRIC = "val/macro_acc"
REFERENCE_FILE = Path(__file__).resolve().parent / "seed_reference.csv"
AVERAGED_OVERRIDES = (
    "seed",
    "model",
    "data.split_seed",
)  # seeds and splits are averaged over; model: the row


def _fixed(digits: int) -> Callable[[float], str]:
    return lambda v: f"{v:.{digits}f}"


def _epoch(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _count(v: float) -> str:
    return f"{v:,.0f}"


# metrics.json key, column title, number format
COLUMNS: list[tuple[str, str, Callable[[float], str]]] = [
    ("test/macro_acc", "test macro acc", _fixed(3)),
    ("test/acc", "test acc", _fixed(3)),
    ("test/top5_acc", "test top-5 acc", _fixed(3)),
    ("test/macro_f1", "test macro F1", _fixed(3)),
    ("val/macro_acc_best", "best val macro acc", _fixed(3)),
    ("best_epoch", "best epoch", _epoch),
    ("params_total", "params", _count),
    ("params_trainable", "trainable params", _count),
    ("wall_time_s", "wall time (s)", _fixed(0)),
    ("train_img_per_s", "train img/s", _fixed(1)),
]
RUN_COLUMNS = ("test/macro_acc", "test/acc", "test/macro_f1", "best_epoch", "wall_time_s", "train_img_per_s")


def _natural_key(path: Path) -> list[Any]:
    """``2_x`` before ``10_x``: Hydra numbers its job directories without padding."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def find_runs(paths: Sequence[Path | str]) -> list[Path]:
    """Run directories (holding ``metrics.json``): each path itself, or every run below it."""
    runs: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise ArtworksError(f"{path} is not a directory. Pass a multirun directory or run directories.")
        found = (
            [path] if (path / "metrics.json").is_file() else [p.parent for p in path.rglob("metrics.json")]
        )
        if not found:
            raise ArtworksError(
                f"No finished run under {path}: no metrics.json was found. A run writes it when training and "
                f"testing are done; pass the run's directory or the multirun directory above it."
            )
        runs += sorted(found, key=_natural_key)
    return list(dict.fromkeys(runs))


def _overrides(run_dir: Path) -> dict[str, str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    pairs = (str(o).split("=", 1) for o in OmegaConf.load(path))
    return {k.lstrip("+~"): v for k, v in (p for p in pairs if len(p) == 2)}


def load_runs(run_dirs: Sequence[Path]) -> list[dict[str, Any]]:
    """Each run's ``metrics.json`` plus ``run_dir``, ``history`` (rows) and ``group`` (its comparison row)."""
    runs = []
    for run_dir in run_dirs:
        run = json.loads((run_dir / "metrics.json").read_text())
        run.update(run_dir=run_dir, history=read_history(run_dir), overrides=_overrides(run_dir))
        runs.append(run)
    keys = {k for run in runs for k in run["overrides"] if not k.startswith(AVERAGED_OVERRIDES + ("hydra.",))}
    varying = sorted(k for k in keys if len({run["overrides"].get(k) for run in runs}) > 1)
    for run in runs:
        extra = ", ".join(f"{k}={run['overrides'].get(k)}" for k in varying)
        run["group"] = f"{run['experiment']} ({extra})" if extra else run["experiment"]
    return runs


def _groups(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["group"], []).append(run)
    return groups


def summarize(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """One value as is; several as ``mean ± sample std`` (equal values, e.g. parameter counts, once)."""
    if not values:
        return "–"
    if len(values) == 1 or len(set(values)) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"


def _reference() -> dict[str, str]:
    with REFERENCE_FILE.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        r["experiment"]: r["val_acc_final"] + (f" (best {r['val_acc_best']})" if r["val_acc_best"] else "")
        for r in rows
    }


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def experiment_table(runs: Sequence[dict[str, Any]], reference: bool = False) -> str:
    """One row per experiment (group of runs): mean ± std of every column over its runs."""
    return _markdown_table(*experiment_rows(runs, reference))


def experiment_rows(
    runs: Sequence[dict[str, Any]], reference: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The header and rows of :func:`experiment_table`."""
    header = ["experiment", "runs", *(title for _, title, _ in COLUMNS)]
    ref = _reference() if reference else {}
    if reference:
        header.append("seed authors' val acc, 30 ep")
    rows = []
    for label, members in _groups(runs).items():
        row = [label, str(len(members))]
        row += [summarize([m[key] for m in members if key in m], fmt) for key, _, fmt in COLUMNS]
        if reference:
            row.append(ref.get(members[0]["experiment"], "–"))
        rows.append(row)
    return header, rows


def run_table(runs: Sequence[dict[str, Any]]) -> str:
    """One row per run."""
    formats = {key: (title, fmt) for key, title, fmt in COLUMNS}
    header = ["run", "experiment", "seed", *(formats[k][0] for k in RUN_COLUMNS)]
    rows = []
    for run in runs:
        row = [run["run_dir"].name, run["group"], str(run.get("seed", "–"))]
        row += [formats[k][1](run[k]) if k in run else "–" for k in RUN_COLUMNS]
        rows.append(row)
    return _markdown_table(header, rows)


def curves(runs: Sequence[dict[str, Any]], metric: str = CURVE_METRIC) -> dict[str, tuple]:
    """Per experiment: epochs every run has ``metric`` for, the mean, and the std (``None`` for one run)."""
    result = {}
    for label, members in _groups(runs).items():
        series = [{int(r["epoch"]): r[metric] for r in m["history"] if metric in r} for m in members]
        epochs = sorted(set.intersection(*(set(s) for s in series)))
        if not epochs:
            continue
        values = np.array([[s[e] for e in epochs] for s in series])
        std = values.std(axis=0, ddof=1) if len(series) > 1 else None
        result[f"{label} (n={len(series)})" if len(series) > 1 else label] = (
            np.array(epochs),
            values.mean(0),
            std,
        )
    return result


def compare(
    paths: Sequence[Path | str],
    out_dir: Path | str,
    reference: bool = False,
    reference_experiment: str | None = None,
    wandb_settings: Mapping[str, Any] | None = None,
    resamples: int = 1000,
) -> str:
    """Write ``comparison.md`` and ``comparison.png`` into ``out_dir``; return the experiment table.

    ``reference_experiment``: the experiment every other is tested against, paired on the test images
    (default ``finetune_resnet50`` when present). ``wandb_settings`` (``wandb_run.comparison_settings``):
    also log the tables and the plot as a W&B run of job type ``compare``.
    """
    runs = load_runs(find_runs(paths))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header, rows = experiment_rows(runs, reference)
    table = _markdown_table(header, rows)
    plot_curves(curves(runs), out_dir / "comparison.png", CURVE_METRIC, f"{CURVE_METRIC} per epoch")
    notes = (
        "Each row: mean ± sample standard deviation over the experiment's runs (e.g. seeds). Test metrics "
        "are of the best-validation checkpoint; best epoch counts from 0; wall time is fit (training and "
        "validation); train img/s counts training batches only (data loading included, validation excluded)."
    )
    splits = {run["overrides"].get(paired.SPLIT_KEY) for run in runs} - {None}
    if len(splits) > 1:
        notes += (
            f" The runs cover {len(splits)} splits ({paired.SPLIT_KEY}={','.join(sorted(splits))}): the "
            "mean ± std is over splits and seeds together, so it includes test-set variation."
        )
    if reference:
        notes += (
            " The seed authors' figures are validation accuracy (not macro accuracy) of their own code after "
            "30 epochs on the real data (BRIEF §1)."
        )
    text = [f"# Comparison of {len(runs)} runs", "", notes, "", table, ""]
    tables = {"comparison/experiments": (header, rows)}
    groups = _groups(runs)
    ref = paired.pick_reference(groups, reference_experiment)
    if reference_experiment and ref is None:
        raise ArtworksError(
            f"--reference-experiment {reference_experiment} matches none of the compared experiments "
            f"({', '.join(groups)}). Pass one of them (the row label, or an experiment name with one row)."
        )
    if ref is not None and len(groups) > 1:
        results = paired.compare_to_reference(groups, ref, resamples)
        text += [*paired.paired_markdown(results, resamples), ""]
        tables["comparison/vs_reference"] = (list(paired.HEADER), [r.row() for r in results])
    elif len(groups) > 1:
        text += [
            f"No paired tests: the default reference {paired.DEFAULT_REFERENCE} is not among the "
            "experiments; name one with --reference-experiment NAME.",
            "",
        ]
    text += ["## Runs", "", run_table(runs)]
    text += ["", f"![{CURVE_METRIC} per epoch](comparison.png)", ""]
    atomic_write_text(out_dir / "comparison.md", "\n".join(text))
    if wandb_settings is not None:
        wandb_run.log_comparison(wandb_settings, tables, out_dir / "comparison.png")
    return table
