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
import sys
from collections.abc import Sequence
from pathlib import Path

from artworks.errors import ArtworksError
from artworks.reports.compare import compare


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="a multirun directory, or run directories")
    parser.add_argument("--out", type=Path, help="where to write (default: the one PATH given, else .)")
    parser.add_argument("--reference", action="store_true", help="add the seed authors' validation figures")
    args = parser.parse_args(argv)
    out = args.out or (args.paths[0] if len(args.paths) == 1 else Path("."))
    try:
        table = compare(args.paths, out, args.reference)
    except ArtworksError as err:
        print(f"\nartworks: {err.render()}\n", file=sys.stderr)
        sys.exit(2)
    print(f"{table}\n\nWrote {out / 'comparison.md'} and {out / 'comparison.png'}")


if __name__ == "__main__":
    main()
