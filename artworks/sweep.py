"""The end of a multirun: compare every job (``artworks.compare``) and print the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from artworks.compare import compare
from artworks.errors import ArtworksError

COLUMNS = ("experiment", "test/macro_acc", "test/acc", "val/macro_acc_best")


def collect_metrics(sweep_dir: Path | str) -> list[dict[str, Any]]:
    """Every ``metrics.json`` under ``sweep_dir``, sorted by job directory."""
    rows = []
    for path in sorted(Path(sweep_dir).glob("*/metrics.json")):
        row = json.loads(path.read_text())
        row["run_dir"] = str(path.parent)
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``COLUMNS``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [f"{row[c]:.4f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class SweepSummary(Callback):
    """Hydra callback: ``comparison.md`` and ``comparison.png`` in the sweep directory; the table printed.

    Args:
        reference: add the seed authors' validation figures as a column.
    """

    def __init__(self, reference: bool = False) -> None:
        self.reference = reference

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            table = compare([sweep_dir], sweep_dir, reference=self.reference)
        except ArtworksError as err:
            print(f"\nNo comparison of {sweep_dir}: {err}\n")
            return
        print(f"\nResults of {sweep_dir} (comparison.md, comparison.png):\n{table}\n", flush=True)
