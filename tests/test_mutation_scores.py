"""``make test-mutation``'s per-file scores (tests/helpers/mutation_scores.py) from mutmut's result lines."""

from __future__ import annotations

import io
import sys

import pytest

from tests.helpers import mutation_scores

LINES = """\
    artworks.models.stages.x_freeze_stages__mutmut_1: killed
    artworks.models.stages.x_freeze_stages__mutmut_2: timeout
    artworks.models.stages.xǁThingǁmethod__mutmut_1: survived
    artworks.models.stages.x_parameter_counts__mutmut_3: not checked
    artworks.models.cbam.x_gate__mutmut_1: not checked
"""


def _run(text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return mutation_scores.main(), capsys.readouterr().out


def test_a_file_scores_killed_and_timed_out_over_the_mutants_run(monkeypatch, capsys):
    code, out = _run(LINES, monkeypatch, capsys)
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["artworks/models/stages.py"][1:4] == ["3", "2", "66.7%"]  # "not checked" is not run
    assert rows["artworks/models/cbam.py"][1:4] == ["0", "0", "-"]  # nothing run: no score, no failure
    assert code == 1 and "below the 85% goal: artworks.models.stages" in out


def test_every_file_at_the_goal_passes(monkeypatch, capsys):
    kept = "".join(line + "\n" for line in LINES.splitlines() if "survived" not in line)
    assert _run(kept, monkeypatch, capsys)[0] == 0
    assert _run("", monkeypatch, capsys)[0] == 1  # no result at all is a failure, not a pass
