"""Does each lever of ``recipe=modern`` act? Seed recipe, modern recipe and each lever alone, side by side.

    python -m artworks.bench recipe [--seeds 3] [--epochs 4] [--images-per-artist 12] [--quick]

**Synthetic data**: the sample generator's 50 artists with per-artist counts following the real dataset
(``artworks/data/artist_image_counts.csv``, scaled down), small images, CPU. It checks that the levers act
on an imbalanced problem, not what they do on paintings (measure that with ``make study-modern``).

Settings: ``recipe=seed``; ``recipe=modern``; and for each lever, the seed recipe with only that lever's keys
taken from the composed ``recipe=modern`` config. The levers are read from what ``conf/recipe/modern.yaml``
changes: every key that differs from the seed recipe belongs to one lever below, or to ``other``.
For each: test macro accuracy mean ± std over the seeds, the macro accuracy on the 10 artists with the fewest
images, and the training wall time. The test split is only reported here; every run picks its checkpoint
on validation.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

# lever name -> config keys of recipe=modern that make it (keys absent from the config are ignored)
LEVERS = {
    "loss": ["model.loss"],
    "augment": ["model.augment", "data.cache_image_size"],
    "optimizer": [
        "model.optimizer",
        "model.decay_norms_and_biases",
        "model.scheduler",
        "trainer.gradient_clip_val",
    ],
    "sampler": ["data.sampler"],
    "ema": ["callbacks.ema"],
}
SMALLEST = 10


@dataclass
class Setting:
    """One row: a name and how its config differs from ``recipe=seed`` (``modern_keys`` from modern)."""

    name: str
    recipe: str = "seed"
    modern_keys: list[str] = field(default_factory=list)
    runs: list[dict[str, float]] = field(default_factory=list)


def _compose(overrides: Sequence[str], output_dir: Path) -> DictConfig:
    from artworks.tuning.objective import compose_run

    return compose_run(list(overrides), output_dir)


def _differs(seed: DictConfig, modern: DictConfig, key: str) -> bool:
    missing = "__missing__"
    a, b = OmegaConf.select(seed, key, default=missing), OmegaConf.select(modern, key, default=missing)
    plain = [OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for v in (a, b)]
    return b != missing and plain[0] != plain[1]


def settings(base: Sequence[str], scratch: Path) -> list[Setting]:
    """seed, modern, and one setting per lever that changes something in this version of the recipes."""
    seed = _compose([*base, "recipe=seed"], scratch)
    modern = _compose([*base, "recipe=modern"], scratch)
    rows = [Setting("recipe=seed"), Setting("recipe=modern", recipe="modern")]
    claimed: set[str] = set()
    for lever, keys in LEVERS.items():
        changed = [k for k in keys if _differs(seed, modern, k)]
        claimed.update(keys)
        if changed:
            rows.append(Setting(f"seed + {lever}", modern_keys=changed))
    other = [k for k in _leaf_keys(modern) if _differs(seed, modern, k) and not _claimed(k, claimed)]
    if other:
        rows.append(Setting("seed + other", modern_keys=other))
    return rows


def _leaf_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key in cfg:
        if key == "hydra":
            continue
        node = cfg._get_node(key)
        full = f"{prefix}{key}"
        keys += (
            _leaf_keys(node, f"{full}.")
            if isinstance(node, DictConfig) and node._is_none() is False
            else [full]
        )
    return keys


def _claimed(key: str, claimed: set[str]) -> bool:
    return any(key == c or key.startswith(f"{c}.") for c in claimed)


def run_config(setting: Setting, base: Sequence[str], seed: int, output_dir: Path) -> DictConfig:
    """The composed train config of one run: the setting's recipe, its lever keys copied from modern."""
    overrides = [*base, f"recipe={setting.recipe}", f"seed={seed}"]
    if not setting.modern_keys:
        return _compose(overrides, output_dir)
    modern = _compose([*base, "recipe=modern", f"seed={seed}"], output_dir)
    cfg = _compose(overrides, output_dir)  # composed last: Hydra's run state is this run's
    with open_dict(cfg):
        for key in setting.modern_keys:
            OmegaConf.update(cfg, key, OmegaConf.select(modern, key), merge=False, force_add=True)
    return cfg


def smallest_artists_accuracy(run_dir: Path, counts: dict[str, int], n: int = SMALLEST) -> float:
    """Mean recall over the ``n`` artists with the fewest images (those that occur in the test split)."""
    with (run_dir / "test_predictions.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    smallest = sorted(counts, key=lambda a: (counts[a], a))[:n]
    recalls = []
    for artist in smallest:
        mine = [r for r in rows if r["artist"] == artist]
        if mine:
            recalls.append(sum(r["predicted"] == artist for r in mine) / len(mine))
    return statistics.fmean(recalls) if recalls else float("nan")


def artist_counts(root: Path) -> dict[str, int]:
    """Images per artist in the sample (``artists.csv``'s ``paintings`` column)."""
    with (root / "artists.csv").open(newline="", encoding="utf-8") as f:
        return {r["name"]: int(r["paintings"]) for r in csv.DictReader(f)}


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "-"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def format_table(rows: list[Setting]) -> str:
    """Markdown: one row per setting, mean ± std over its seeds."""
    lines = [
        "| setting | seeds | test macro acc (mean ± std) | 10 smallest artists | fit wall time (s) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        macro, smallest, wall = ([r[k] for r in row.runs] for k in ("macro_acc", "smallest", "wall_s"))
        if row.runs:
            lines.append(
                f"| {row.name} | {len(row.runs)} | {_mean_std(macro)} | {_mean_std(smallest)} | "
                f"{statistics.fmean(wall):.1f} |"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> list[Setting]:
    from hydra.core.global_hydra import GlobalHydra

    from artworks.data.sample import ensure_sample
    from artworks.training.task import train

    sample = {
        "artists": 50,
        "images_per_artist": args.images_per_artist,
        "image_size": args.sample_size,
        "seed": 0,
        "imbalance": "real",
    }
    root = ensure_sample(args.dir / "sample", **sample)
    base = [
        "data=sample",
        f"data.root={root}",
        f"data.sample={{{','.join(f'{k}:{v}' for k, v in sample.items())}}}",
        f"data.image_size={args.image_size}",
        f"data.batch_size={args.batch_size}",
        "data.num_workers=0",
        "trainer=cpu",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "logger=none",
        "model=scratch_resnet50",
        f"model.net.arch={args.arch}",
        f"paths.log_dir={args.dir / 'outputs'}",
        *args.overrides,
    ]
    counts = artist_counts(root)
    rows = settings(base, args.dir / "compose")
    if args.quick:
        rows = rows[:2]
    for seed in range(args.seeds):  # seed by seed: a bench stopped early has every setting at least once
        for row in rows:
            run_dir = args.dir / "runs" / f"{row.name.replace(' ', '').replace('=', '-')}_seed{seed}"
            metrics = train(run_config(row, base, seed, run_dir))
            GlobalHydra.instance().clear()
            row.runs.append(
                {
                    "macro_acc": metrics["test/macro_acc"],
                    "smallest": smallest_artists_accuracy(run_dir, counts),
                    "wall_s": metrics["wall_time_s"],
                }
            )
            print(f"{row.name} seed {seed}: {row.runs[-1]}", flush=True)
            _save(rows, args.dir)  # as it goes: a long bench stopped early keeps what it measured
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m artworks.bench recipe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--images-per-artist", type=int, default=12, help="mean; real imbalance, at least 5")
    parser.add_argument("--sample-size", type=int, default=48, help="side of the generated images")
    parser.add_argument("--image-size", type=int, default=32, help="data.image_size of the runs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--arch", default="timm/test_resnet", help="model.net.arch (a small network)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "artworks-bench-recipe")
    parser.add_argument("--quick", action="store_true", help="seed and modern only, 1 seed, 1 epoch (a test)")
    parser.add_argument("overrides", nargs="*", help="more train overrides for every run")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = 1, 1
        args.overrides += ["trainer.limit_train_batches=2", "trainer.limit_val_batches=2"]
    rows = run(args)
    table = format_table(rows)
    print(
        "\nSynthetic sample (50 artists, real imbalance, small images, CPU): a check that the levers act, "
        f"not a claim about paintings.\n\n{table}"
    )
    (args.dir / "recipe.md").write_text(table + "\n")


def _save(rows: list[Setting], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(
        json.dumps([{"setting": r.name, "runs": r.runs} for r in rows], indent=2)
    )


if __name__ == "__main__":
    main()
