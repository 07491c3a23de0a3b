"""Compare finished runs from their local outputs alone: one table, one plot.

    python -m artworks.compare outputs/multiruns/<sweep>            # every run under a multirun directory
    python -m artworks.compare RUN_DIR RUN_DIR ... [--out DIR] [--reference]

Writes ``comparison.md`` (one row per experiment: mean ± std over its runs, e.g. seeds; then one row per run)
and ``comparison.png`` (``val/macro_acc`` per epoch of every experiment). Reads each run's ``metrics.json``,
``history.csv`` and, when Hydra wrote it, ``.hydra/overrides.yaml``: runs differing in an override other
than ``seed`` and ``model`` are kept apart (e.g. ``-m model=a,b optimizer.lr=1e-3,1e-4 seed=1,2``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from artworks.reports.compare import compare
from artworks.runtime.command import command


@command
def main(argv: Sequence[str] | None = None) -> None:
    """``python -m artworks.compare`` / ``artworks-compare``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="a multirun directory, or run directories")
    parser.add_argument("--out", type=Path, help="where to write (default: the one PATH given, else .)")
    parser.add_argument("--reference", action="store_true", help="add the seed authors' validation figures")
    parser.add_argument(
        "--reference-experiment",
        metavar="NAME",
        help="test every experiment against this one, paired on the test images (default: finetune_resnet50)",
    )
    args = parser.parse_args(argv)
    out = args.out or (args.paths[0] if len(args.paths) == 1 else Path("."))
    table = compare(args.paths, out, args.reference, args.reference_experiment)
    print(f"{table}\n\nWrote {out / 'comparison.md'} and {out / 'comparison.png'}")


if __name__ == "__main__":
    main()
