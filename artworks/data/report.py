"""The data report: images per artist and split (table + PNG), train mean/std, skipped files, duplicates.

    python -m artworks.data.report [--out DIR] [HYDRA OVERRIDES ...]     e.g. data.root=/data/artworks

It is also written at the start of every training run (``<run dir>/data-report/``) and, when a W&B logger is
active, logged there as tables and an image under ``data/``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from artworks.data.split import SPLITS
from artworks.runtime import wandb_run
from artworks.runtime.command import command
from artworks.storage import atomic_open, atomic_write_json

REPORT_DIR = "data-report"


def split_counts(datamodule: Any) -> list[list[Any]]:
    """Rows ``[artist, train, val, test, total]`` (by descending total), the last row the totals."""
    counts = Counter()
    for split in SPLITS:
        for label in datamodule.datasets[split].labels:
            counts[datamodule.classes[label], split] += 1
    rows = [[a, *(counts[a, s] for s in SPLITS)] for a in datamodule.classes]
    rows = [[*r, sum(r[1:])] for r in sorted(rows, key=lambda r: (-sum(r[1:]), r[0]))]
    return [*rows, ["total", *(sum(r[i] for r in rows) for i in range(1, len(SPLITS) + 2))]]


def duplicate_rows(datamodule: Any) -> list[list[Any]]:
    """Rows ``[group, path, artist, split]`` for every file that has a copy."""
    split_of = {p: s for s in SPLITS for p in datamodule.datasets[s].paths}
    index = datamodule.index
    label_of = dict(zip(index.paths, index.labels, strict=True))
    return [
        [group[0], path, index.classes[label_of[path]], split_of[path]]
        for group in index.duplicate_sets()
        for path in group
    ]


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with atomic_open(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def plot_counts(rows: list[list[Any]], path: Path) -> None:
    """Horizontal stacked bars of images per artist and split (the seed's distribution slide)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows[:-1][::-1]  # without the totals, largest at the top
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.22 * len(rows)))
    left = [0] * len(rows)
    for i, split in enumerate(SPLITS, start=1):
        values = [r[i] for r in rows]
        ax.barh([r[0] for r in rows], values, left=left, label=split)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("images")
    ax.set_title("Images per artist and split")
    ax.legend(loc="lower right")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_data_report(
    datamodule: Any, out_dir: Path | str, loggers: list[Any] = (), figures: bool = True
) -> Path:
    """Write the report of a set-up datamodule into ``out_dir/data-report``; log it to W&B loggers.

    ``figures``: also draw ``images_per_artist.png`` (``report.figures`` of a run).
    """
    out = Path(out_dir) / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    counts = split_counts(datamodule)
    header = ["artist", *SPLITS, "total"]
    _write_csv(out / "images_per_artist.csv", header, counts)
    plot: dict[str, Path] = {}
    if figures:
        plot = {"data/images_per_artist_plot": out / "images_per_artist.png"}
        plot_counts(counts, plot["data/images_per_artist_plot"])
    skipped = [list(s) for s in datamodule.index.skipped]
    _write_csv(out / "skipped_files.csv", ["path", "reason"], skipped)
    duplicates = duplicate_rows(datamodule)
    _write_csv(out / "duplicate_groups.csv", ["group", "path", "artist", "split"], duplicates)
    mean, std = datamodule.train_stats()
    summary = {
        "root": str(datamodule.index.root),
        "layout": datamodule.index.layout,
        "images": len(datamodule.index),
        "artists": datamodule.num_classes,
        "split": dict(zip(SPLITS, counts[-1][1:-1], strict=True)),
        "split_file": str(datamodule.split_path),
        "cache": str(datamodule.cache_path) if datamodule.cache_path else None,
        "train_mean": mean,
        "train_std": std,
        "skipped_files": len(skipped),
        "skipped_by_reason": dict(Counter(r.split(":")[0].split(" (")[0] for _, r in skipped).most_common()),
        "duplicate_groups": len({row[0] for row in duplicates}),
        "files_in_duplicate_groups": len(duplicates),
    }
    atomic_write_json(out / "summary.json", summary, indent=2, ensure_ascii=False)
    tables = {
        "data/images_per_artist": (header, counts),
        "data/skipped_files": (["path", "reason"], skipped),
        "data/duplicate_groups": (["group", "path", "artist", "split"], duplicates),
    }
    wandb_run.log_data_report(loggers, tables, plot, {k: v for k, v in summary.items() if k != "split"})
    return out


def format_table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain-text table with right-aligned numbers."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(
            str(x).ljust(w) if i == 0 else str(x).rjust(w)
            for i, (x, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    return "\n".join(lines)


@command
def main(argv: list[str] | None = None) -> None:
    """``python -m artworks.data.report [--out DIR] [overrides]``: the data report of a config's dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="report folder's parent (default: the cache dir)"
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of train.yaml, e.g. data.root=DIR")
    args = parser.parse_args(argv)
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from artworks.config import config_dir
    from artworks.config.schema import DATA, check_config

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=args.overrides)
    check_config(cfg, DATA)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    out = write_data_report(datamodule, args.out or datamodule.cache_dir)
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "images_per_artist.csv", newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    print(format_table(rows, header))
    mean = ", ".join(f"{m:.3f}" for m in summary["train_mean"])
    std = ", ".join(f"{s:.3f}" for s in summary["train_std"])
    print(f"\ntrain mean (R, G, B) = {mean}; std = {std}")
    print(f"skipped files: {summary['skipped_files']} {summary['skipped_by_reason']}")
    print(f"duplicate groups: {summary['duplicate_groups']} ({summary['files_in_duplicate_groups']} files)")
    print(f"report: {out}")


if __name__ == "__main__":
    main()
