"""Per-file mutation scores from ``mutmut results --all true`` (stdin); exit 1 below the 85 % goal.

mutmut names a mutant ``<module>.x_<function>__mutmut_<n>`` (methods: ``<module>.xǁ<Class>ǁ<method>...``)
and prints one ``name: status`` line each. Killed = the tests failed (or timed out) on the mutant.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable

GOAL = 0.85
LINE = re.compile(r"^\s*(?P<module>[\w.]+)\.x[_ǁ]\S*__mutmut_\d+: (?P<status>.+?)\s*$")
KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped"}


def scores(lines: Iterable[str]) -> dict[str, Counter]:
    """Status counts per module."""
    by_module: dict[str, Counter] = defaultdict(Counter)
    for line in lines:
        match = LINE.match(line)
        if match:
            by_module[match["module"]][match["status"]] += 1
    return by_module


def main() -> int:
    by_module = scores(sys.stdin)
    below = []
    print(f"{'file':<36} {'mutants':>7} {'killed':>7} {'score':>6}  other")
    for module, counts in sorted(by_module.items()):
        run = sum(n for status, n in counts.items() if status not in NOT_RUN)
        killed = sum(counts[s] for s in KILLED)
        score = f"{killed / run:>6.1%}" if run else f"{'-':>6}"  # a file not run this time has no score
        other = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()) if s != "killed")
        print(f"{module.replace('.', '/') + '.py':<36} {run:>7} {killed:>7} {score}  {other}")
        if run and killed / run < GOAL:
            below.append(module)
    if below:
        print(f"below the {GOAL:.0%} goal: {', '.join(below)} (survivors: `mutmut results`)")
    return 1 if below or not by_module else 0


if __name__ == "__main__":
    sys.exit(main())
