"""``make gpu-check``: its dry run exercises the GPU script's code at toy size on the CPU, so the script
cannot rot between the rare runs on a GPU machine; each part stops at its time budget with what it has."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from artworks.bench import gpu_check
from artworks.config.study import study_models


@pytest.mark.e2e
def test_dry_run_reports_every_part_and_the_five_experiments(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OUT", str(tmp_path / "device-out"))  # the device tool's folder of files to bring back
    # budgets out of reach: on a busy shared CPU the toy parts must still run to their end
    roomy = dataclasses.replace(gpu_check.dry_sizes(), budgets=dict.fromkeys(gpu_check.Report.TITLES, 3600))
    monkeypatch.setattr(gpu_check, "dry_sizes", lambda: roomy)
    report = gpu_check.main(
        ["--dry-run", "--out", str(tmp_path / "check"), "--workers", "2", "--limit-s", "7200"]
    )

    assert set(report.status) == set(gpu_check.Report.TITLES)
    assert all(status.startswith("done") for status in report.status.values()), report.status
    text = (tmp_path / "check" / "gpu-check.md").read_text()
    assert text == (tmp_path / "device-out" / "gpu-check.md").read_text()
    rows = {
        line.split("|")[1].strip(): line.split("|") for line in text.splitlines() if line.startswith("| ")
    }
    for model in study_models():
        assert float(rows[model][2].replace(",", "")) > 0, f"no img/s for {model}"
    figures = json.loads((tmp_path / "check" / "gpu-check.json").read_text())
    assert figures["train_speed"]["lightning_vs_plain"]["plain_img_per_s"] > 0
    assert (
        figures["data"]["end_to_end"]["img_per_s"] > 0
        and 0 <= figures["data"]["end_to_end"]["loader_share"] < 1
    )
    assert figures["study"]["projected_total_min"] > 0
    assert figures["ddp"]["same"] is True  # trainer=ddp_cpu devices=1 tests exactly like trainer=cpu


def test_a_part_that_overruns_its_budget_is_stopped_and_the_report_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(gpu_check, "MIN_PART_S", 0)
    report = gpu_check.Report([tmp_path], ["# GPU check"])

    def endless() -> None:
        report.lines["data"].append("- a figure measured before the budget ran out")
        while True:
            time.sleep(0.01)

    started = time.monotonic()
    gpu_check.run_part(report, "data", budget=0.3, deadline=time.monotonic() + 60, part=endless)
    assert time.monotonic() - started < 5
    assert report.status["data"].startswith("stopped at its 0 s budget")
    text = (tmp_path / "gpu-check.md").read_text()
    assert "a figure measured before the budget ran out" in text and "*not run*" in text


def test_a_part_that_fails_leaves_its_error_and_the_check_goes_on(tmp_path: Path) -> None:
    report = gpu_check.Report([tmp_path], ["# GPU check"])

    def broken() -> None:
        raise RuntimeError("CUDA error: an illegal memory access")

    gpu_check.run_part(report, "study", budget=60, deadline=time.monotonic() + 60, part=broken)
    gpu_check.run_part(report, "ddp", budget=60, deadline=time.monotonic() + 1, part=broken)
    assert "failed after 0 s: RuntimeError: CUDA error" in report.status["study"]
    assert report.status["ddp"].startswith("skipped")


def test_without_a_gpu_the_real_check_refuses_and_names_the_dry_run(monkeypatch) -> None:
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="DRY_RUN=1"):
        gpu_check.main(["--out", "/nonexistent"])
