"""The end of a multirun: one table of every job's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

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
    """Hydra callback: print the results table and save it as ``summary.md`` in the sweep directory."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect_metrics(sweep_dir)
        if not rows:
            return
        table = format_table(rows)
        (sweep_dir / "summary.md").write_text(table + "\n")
        print(f"\nResults of {sweep_dir}:\n{table}\n")
