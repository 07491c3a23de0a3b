"""The data tools: download (offline behaviour, Dürer fix), the data report (files, W&B, CLI, at training
start) and the data benchmark."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import pytest
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from PIL import Image

from artworks.data import download
from artworks.data.index import scan_images
from artworks.data.report import write_data_report
from artworks.training.task import train
from tests.helpers.compose import LAST_WEIGHTS_ONLY, TINY_ARCH

DURER = ["Albrecht_Du╠êrer", "Albrecht_DuΓòá├¬rer"]
SECRET = "s3cr3t-kaggle-key-0123456789"


@pytest.fixture
def no_kaggle(monkeypatch, tmp_path):
    """No credentials anywhere kagglehub looks, and Kaggle's address pointed at a closed local port."""
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "home" / ".kaggle"))
    monkeypatch.setattr(download, "KAGGLE_URL", "http://127.0.0.1:9")


def test_download_without_credentials_says_what_to_do(no_kaggle, tmp_path, capsys):
    started = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        download.main([str(tmp_path / "data")])
    assert exit_info.value.code == 2 and time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert "No Kaggle credentials" in err and "kaggle.json" in err and "KAGGLE_KEY" in err
    assert "data.root=DIR" in err


def test_download_without_network_fails_fast_and_never_prints_the_key(
    no_kaggle, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    started = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        download.main([str(tmp_path / "data")])
    assert exit_info.value.code == 2 and time.perf_counter() - started < 10
    out = capsys.readouterr()
    assert "cannot be reached" in out.err and "by hand" in out.err
    assert SECRET not in out.err + out.out


def test_fix_merges_the_durer_folders(tmp_path, capsys):
    images = tmp_path / "images" / "images"
    for folder in DURER:
        (images / folder).mkdir(parents=True)
        for n in (1, 2, 3):
            Image.new("RGB", (8, 8), (40 * n, 0, 0)).save(images / folder / f"{folder}_{n}.jpg")
    Image.new("RGB", (8, 8)).save(images / DURER[1] / f"{DURER[1]}_4.jpg")
    (images / "Edgar_Degas").mkdir()
    Image.new("RGB", (8, 8)).save(images / "Edgar_Degas" / "Edgar_Degas_1.jpg")
    download.main(["--fix", str(tmp_path)])
    assert "Merged Dürer folders" in capsys.readouterr().out
    assert sorted(p.name for p in images.iterdir()) == ["Albrecht_Dürer", "Edgar_Degas"]
    assert sorted(p.name for p in (images / "Albrecht_Dürer").iterdir()) == [
        f"Albrecht_Dürer_{n}.jpg" for n in (1, 2, 3, 4)
    ]
    assert scan_images(tmp_path).classes == ["Albrecht Dürer", "Edgar Degas"]


class RecordingWandbLogger(WandbLogger):
    """A WandbLogger that records what it is asked to log instead of starting a run."""

    def __init__(self) -> None:  # no super().__init__: nothing is started
        self.calls: dict[str, object] = {}
        self.summary: dict[str, object] = {}

    @property
    def experiment(self):
        return type("Run", (), {"summary": self.summary})()

    def log_table(self, key, columns=None, data=None, **kwargs) -> None:
        self.calls[key] = (columns, data)

    def log_image(self, key, images, **kwargs) -> None:
        self.calls[key] = images


def test_report_files_and_wandb_logging(make_cfg, tmp_path):
    datamodule = instantiate(make_cfg().data)
    datamodule.setup("fit")
    logger = RecordingWandbLogger()
    out = write_data_report(datamodule, tmp_path, [logger])
    with open(out / "images_per_artist.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["artist"] for r in rows[:-1]] == sorted(datamodule.classes)  # balanced sample: ties by name
    assert rows[-1]["artist"] == "total" and int(rows[-1]["total"]) == len(datamodule.index)
    assert int(rows[-1]["test"]) == len(datamodule.datasets["test"])
    assert Image.open(out / "images_per_artist.png").size[0] > 400
    summary = json.loads((out / "summary.json").read_text())
    assert all(0 < m < 1 for m in summary["train_mean"]) and all(0 < s < 0.5 for s in summary["train_std"])
    assert summary["artists"] == datamodule.num_classes and summary["skipped_files"] == 0
    assert set(logger.calls) == {
        "data/images_per_artist",
        "data/skipped_files",
        "data/duplicate_groups",
        "data/images_per_artist_plot",
    }
    assert logger.calls["data/images_per_artist"][1][-1][0] == "total"
    assert logger.summary["data/images"] == len(datamodule.index)


def test_report_command_prints_the_table(tmp_path, capsys):
    from artworks.data.report import main

    root = tmp_path / "sample"
    main(
        [
            "--out",
            str(tmp_path / "out"),
            "data=sample",
            f"data.root={root}",
            "data.image_size=32",
            "data.num_workers=0",
            "data.sample.artists=3",
            "data.sample.images_per_artist=6",
            "data.sample.image_size=40",
        ]
    )
    out = capsys.readouterr().out
    assert "artist" in out and "total" in out and "train mean (R, G, B)" in out
    assert (tmp_path / "out" / "data-report" / "images_per_artist.png").is_file()


def test_training_writes_the_data_report(make_cfg, tmp_path):
    cfg = make_cfg(
        "model=scratch_resnet50",
        f"model.net.arch={TINY_ARCH}",  # the report is what is tested, not the network
        "test=false",
        "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1",
        *LAST_WEIGHTS_ONLY,
    )
    train(cfg)
    report = Path(cfg.paths.output_dir) / "data-report"
    assert (report / "images_per_artist.csv").is_file() and (report / "summary.json").is_file()


def test_data_benchmark_runs_and_prints_every_figure(tmp_path, capsys):
    from artworks.bench.data import main, megapixel_sizes

    sizes = megapixel_sizes(300)
    assert 0.7 < sorted(sizes)[150] < 0.9 and max(sizes) == pytest.approx(10.0)
    tiny = {"--images": 6, "--batch-size": 2, "--workers": 0, "--image-size": 32, "--seconds": 0}
    main([*(str(x) for kv in tiny.items() for x in kv), "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    for figure in (
        "(a) plain",
        "(b) project, uncached",
        "(c) project, cached",
        "one-time first-run preparation",
    ):
        assert figure in out
    assert "x (a)" in out
    # R is against a pass of (a) over the same files just before the first run, printed on its own line
    adjacent = re.search(
        r"^\(a\) plain, one pass just before the first run \(R below\) +(\d+\.\d) img/s$", out, re.M
    )
    line = re.search(
        r"^first-run preparation: (\d+) img/s, (\d+\.\d\d) x the plain loader$", out, re.MULTILINE
    )
    assert adjacent and line
    assert float(line[2]) == pytest.approx(int(line[1]) / float(adjacent[1]), rel=0.05, abs=0.01)


@pytest.mark.parametrize(
    ("option", "value"), [("--images", "0"), ("--batch-size", "-1"), ("--workers", "-2")]
)
def test_data_benchmark_refuses_counts_out_of_range_in_one_line(option, value, tmp_path, capsys):
    from artworks.bench.data import main

    with pytest.raises(SystemExit) as exit_info:
        main([option, value, "--dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {value} is below" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # refused before generating anything
