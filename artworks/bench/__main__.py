"""``python -m artworks.bench NAME [args]``: run the benchmark ``artworks.bench.NAME``."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "data": "artworks.bench.data",
    "train": "artworks.bench.train",
    "models": "artworks.bench.models",
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m artworks.bench {{{'|'.join(BENCHMARKS)}}} [args]", file=sys.stderr)
        raise SystemExit(2)
    name = sys.argv.pop(1)
    importlib.import_module(BENCHMARKS[name]).main()


if __name__ == "__main__":
    main()
