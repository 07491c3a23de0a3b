"""Fetch Kaggle's "Best Artworks of All Time", fix the Dürer folders, say where the data is.

    artworks-download [DIR]          (python -m artworks.download, or python -m artworks.data.download)
    artworks-download --fix DIR      only merge the Dürer folders of a hand-unzipped DIR

Needs the ``download`` extra (kagglehub) and a Kaggle account; the work is done by ``artworks.data.download``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from artworks.data.download import DURER, download, fix_durer
from artworks.data.index import resolve_root
from artworks.runtime.command import command


@command
def main(argv: Sequence[str] | None = None) -> None:
    """``artworks-download``: download (or find) the dataset, merge the Dürer folders, print its root."""
    parser = argparse.ArgumentParser(prog="artworks-download", description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=Path("data"), help="where to keep the data")
    parser.add_argument("--fix", action="store_true", help="only fix the Dürer folders of an unzipped DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = resolve_root(args.dir) if args.fix else download(args.dir)
    merged = fix_durer(root)
    if merged:
        print(f"Merged Dürer folders {merged} into images/images/{DURER}.")
    print(f"The dataset is in {root}\nTrain on it with: python -m artworks.train data.root={root}")


if __name__ == "__main__":
    main()
