"""``python -m artworks.bench recipe``: seed vs modern vs each lever alone, on the imbalanced sample."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from artworks.bench import recipe


@pytest.mark.slow
def test_each_lever_alone_is_the_seed_recipe_with_only_its_keys_from_modern(tmp_path):
    from artworks.training.task import train  # noqa: F401 - registers the config's resolvers

    base = ["data=sample", "trainer=cpu", "logger=none", "model=scratch_resnet50"]
    rows = recipe.settings(base, tmp_path)
    names = [r.name for r in rows]
    assert names[:2] == ["recipe=seed", "recipe=modern"]
    assert {"seed + loss", "seed + augment", "seed + optimizer", "seed + ema"} <= set(names)
    seed = recipe._compose([*base, "recipe=seed"], tmp_path)
    modern = recipe._compose([*base, "recipe=modern"], tmp_path)
    loss = next(r for r in rows if r.name == "seed + loss")
    cfg = recipe.run_config(loss, base, 0, tmp_path)
    assert OmegaConf.to_container(cfg.model.loss) == OmegaConf.to_container(modern.model.loss)
    assert OmegaConf.to_container(cfg.model.scheduler) == OmegaConf.to_container(seed.model.scheduler)
    assert cfg.model.augment == seed.model.augment and cfg.seed == 0


def test_accuracy_on_the_smallest_artists(tmp_path):
    (tmp_path / "test_predictions.csv").write_text("path,artist,predicted\na,A,A\nb,A,B\nc,B,B\nd,C,A\n")
    counts = {"A": 5, "B": 6, "C": 100}
    assert recipe.smallest_artists_accuracy(tmp_path, counts, n=2) == pytest.approx((0.5 + 1.0) / 2)
    assert recipe.smallest_artists_accuracy(tmp_path, counts, n=3) == pytest.approx((0.5 + 1.0 + 0.0) / 3)


@pytest.mark.slow
def test_quick_bench_trains_seed_and_modern_and_writes_the_table(tmp_path, capsys):
    recipe.main(["--quick", "--images-per-artist", "8", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "a check that the levers act, not a claim about paintings" in out
    runs = json.loads((tmp_path / "recipe.json").read_text())
    assert [r["setting"] for r in runs] == ["recipe=seed", "recipe=modern"]
    assert all(0.0 <= run["macro_acc"] <= 1.0 for r in runs for run in r["runs"])
    assert "| recipe=modern |" in (tmp_path / "recipe.md").read_text()
