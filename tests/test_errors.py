"""Bad input and faults: one paragraph saying what is wrong and what to do, a non-zero exit, no traceback."""

from __future__ import annotations

import errno
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from artworks import train as train_module
from artworks.errors import ArtworksError, user_message
from artworks.training.callbacks import AtomicCheckpointIO
from artworks.training.checkpoint import check_compatible, load_checkpoint
from artworks.training.module import ArtistClassifier
from artworks.training.task import train
from tests.helpers.commands import assert_one_paragraph
from tests.helpers.commands import run_main as run_command_main


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """``python -m artworks.train ARGS`` in this process: (exit status, stderr)."""
    return run_command_main(train_module.main, monkeypatch, capsys, *args)


# -- command line --------------------------------------------------------------------------------------


def test_missing_data_root_on_the_command_line(monkeypatch, capsys, tmp_path):
    code, err = run_main(
        monkeypatch, capsys, f"data.root={tmp_path / 'nowhere'}", f"paths.log_dir={tmp_path}"
    )
    assert code == 2
    assert_one_paragraph(err, "does not exist", "data=sample")


def test_unknown_model_lists_the_valid_ones(monkeypatch, capsys, tmp_path):
    code, err = run_main(monkeypatch, capsys, "model=resnet9000", f"paths.log_dir={tmp_path}")
    assert code == 2
    assert_one_paragraph(err, "model/resnet9000", "cbam_resnet50", "freeze14_resnet50")


def test_a_sweep_naming_an_unknown_option_starts_no_job(monkeypatch, capsys, tmp_path):
    sweep_dir = tmp_path / "sweep"
    code, err = run_main(
        monkeypatch, capsys, "-m", "model=scratch_resnet50,resnet9000", f"hydra.sweep.dir={sweep_dir}"
    )
    assert code == 2
    assert_one_paragraph(
        err, "model=resnet9000 is not an option", "no job of the sweep was started", "cbam_resnet50"
    )
    assert not sweep_dir.exists()


def test_value_of_the_wrong_type(monkeypatch, capsys, sample_root, tmp_path):
    code, err = run_main(
        monkeypatch,
        capsys,
        "data=sample",
        f"data.root={sample_root}",
        "data.batch_size=abc",
        f"paths.log_dir={tmp_path}",
    )
    assert code == 2
    assert_one_paragraph(err, "data.batch_size='abc' has the wrong type", "a number")


def test_traceback_on_request(monkeypatch, capsys, tmp_path):
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["artworks.train", f"data.root={tmp_path / 'x'}", "traceback=true"])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(ArtworksError):
        train_module.main()
    GlobalHydra.instance().clear()


def test_unwritable_output_folder(monkeypatch, capsys, tmp_path):
    blocked = tmp_path / "readonly"

    def refuse(self: Path, *args, **kwargs) -> None:
        if str(self).startswith(str(blocked)):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    real_mkdir = Path.mkdir
    monkeypatch.setattr(Path, "mkdir", refuse)
    code, err = run_main(monkeypatch, capsys, f"paths.log_dir={blocked}")
    assert code == 2
    assert_one_paragraph(err, "Cannot write to", "Permission denied", "paths.log_dir=DIR")


# -- config checks before training ----------------------------------------------------------------------


def test_image_size_too_small_for_resnet50(make_cfg):
    with pytest.raises(ArtworksError, match="at least 32 pixels"):
        train(make_cfg("data.image_size=16"))


def test_batch_larger_than_the_train_split(make_cfg):
    with pytest.raises(ArtworksError, match="fewer than data.batch_size"):
        train(make_cfg("data.batch_size=500"))


def test_empty_data_root(make_cfg, tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = make_cfg(f"data.root={tmp_path / 'empty'}")
    cfg.data.sample = None
    with pytest.raises(ArtworksError, match="not in the Kaggle layout"):
        train(cfg)


def test_unreadable_artists_csv(make_cfg, sample_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".artworks"))
    (root / "artists.csv").write_bytes(b"\xff\xfe\x00garbage without a name column\n")
    cfg = make_cfg(f"data.root={root}")
    cfg.data.sample = None
    with pytest.raises(ArtworksError, match="artists.csv could not be read"):
        train(cfg)


# -- checkpoints ----------------------------------------------------------------------------------------


def _fake_checkpoint(path: Path, net: dict, classes: list[str]) -> Path:
    torch.save({"state_dict": {}, "hyper_parameters": {"net": net, "class_names": classes}}, path)
    return path


def test_checkpoint_of_another_model_or_class_list(tmp_path):
    net = {"arch": "resnet50", "activation": "relu", "depthwise": False, "attention": None}
    ckpt = load_checkpoint(_fake_checkpoint(tmp_path / "a.ckpt", net, ["A", "B"]))
    check_compatible(ckpt, "a.ckpt", net, ["A", "B"])
    with pytest.raises(ArtworksError, match="belongs to another model.*attention"):
        check_compatible(ckpt, "a.ckpt", {**net, "attention": "cbam"}, ["A", "B"])
    with pytest.raises(ArtworksError, match="another list of artists.*only in the data: C"):
        check_compatible(ckpt, "a.ckpt", net, ["A", "B", "C"])


def test_training_from_a_checkpoint_of_another_model_stops_before_fit(make_cfg, tmp_path):
    net = {"arch": "resnet50", "activation": "gelu", "depthwise": True, "attention": "cbam"}
    ckpt = _fake_checkpoint(tmp_path / "cbam.ckpt", net, ["x"])
    with pytest.raises(ArtworksError, match="belongs to another model"):
        train(make_cfg("model=freeze14_resnet50", f"ckpt_path={ckpt}"))


def test_corrupt_and_missing_checkpoints(tmp_path):
    good = _fake_checkpoint(tmp_path / "good.ckpt", {"arch": "resnet50"}, ["A"])
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ArtworksError, match="corrupt"):
        load_checkpoint(cut)
    with pytest.raises(ArtworksError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")


class Payload:
    """Stands for arbitrary pickled code in an untrusted checkpoint."""


def test_untrusted_checkpoint_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "extra": Payload()}, path)
    with pytest.raises(ArtworksError, match="pickled Python objects"):
        load_checkpoint(path)


# -- faults during training -----------------------------------------------------------------------------


@pytest.mark.e2e
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(make_cfg, monkeypatch, tmp_path):
    real_step = ArtistClassifier.training_step

    def poisoned(self, batch, batch_idx):
        loss = real_step(self, batch, batch_idx)
        return loss * math.nan if self.trainer.global_step == 2 else loss

    monkeypatch.setattr(ArtistClassifier, "training_step", poisoned)
    cfg = make_cfg(
        "model=freeze14_resnet50",
        "trainer.limit_train_batches=4",
        "callbacks.last_checkpoint.every_n_train_steps=1",
        output_dir=tmp_path,
    )
    with pytest.raises(
        ArtworksError, match=r"became NaN at step 3 .*last good checkpoint is .*last.ckpt"
    ) as err:
        train(cfg)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 2
    assert all(torch.isfinite(t).all() for k, t in last["state_dict"].items() if k.startswith("net."))
    assert not (tmp_path / "metrics.json").exists()
    print(err.value.render())


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(monkeypatch, tmp_path):
    io = AtomicCheckpointIO(inner=None)
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, target)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError) as err:
        io.save_checkpoint({"step": 2}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind
    message = user_message(err.value)
    assert "The disk is full" in message and "resume=auto" in message


@pytest.mark.e2e
def test_disk_full_while_writing_metrics_is_explained(make_cfg, monkeypatch, tmp_path):
    import artworks.storage.atomic as atomic

    real_sync = atomic._fsync_file

    def sync(path: Path) -> None:  # where a full disk shows on file systems that allocate late (NFS)
        if path.name.startswith("metrics.json.tmp"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_sync(path)

    monkeypatch.setattr(atomic, "_fsync_file", sync)
    with pytest.raises(OSError) as err:
        train(make_cfg("model=freeze14_resnet50", output_dir=tmp_path))
    assert f"The disk is full while writing {tmp_path / 'metrics.json'}" in " ".join(
        user_message(err.value).split()
    )
