"""The command layer: every console script, one wrapper (exit codes, one paragraph), config ranges, SLURM.

Commands run in this process (their ``main()``) where they can; one subprocess checks an installed script.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import artworks
from artworks.config import config_dir
from artworks.config.schema import EVALUATE, EXPORT, PREDICT, SERVE, TRAIN, check_config
from artworks.errors import ArtworksError
from artworks.runtime import sweep_failures
from artworks.runtime.command import run_command, tracebacks_requested
from tests.helpers.commands import assert_one_paragraph, run_main

# the installed package's scripts (pyproject.toml [project.scripts]; `make install` reinstalls on a change)
SCRIPTS = {
    ep.name: ep.value
    for ep in importlib.metadata.distribution("artworks").entry_points
    if ep.group == "console_scripts"
}
COMMANDS = {
    "artworks-train", "artworks-evaluate", "artworks-predict", "artworks-export", "artworks-compare",
    "artworks-serve", "artworks-download", "artworks-bench",
}  # fmt: skip


def entry_point(script: str):
    module, function = SCRIPTS[script].split(":")
    return getattr(importlib.import_module(module), function)


def compose_config(name: str, *overrides: str, hydra: bool = False):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides), return_hydra_config=hydra)
    GlobalHydra.instance().clear()
    return cfg


# -- console scripts -----------------------------------------------------------------------------------


def test_every_command_has_a_console_script_installed():
    assert set(SCRIPTS) >= COMMANDS
    bin_dir = Path(sys.executable).parent
    missing = [s for s in SCRIPTS if not (bin_dir / s).is_file()]
    assert not missing, f"not installed (make install): {missing}"


@pytest.mark.parametrize("script", sorted(COMMANDS))
def test_help_of_every_console_script(script, monkeypatch, capsys):
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        entry_point(script)()
    GlobalHydra.instance().clear()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "usage:" in out or ("Configuration groups" in out and "Powered by Hydra" in out), out


def test_an_installed_script_runs_as_a_program():
    script = Path(sys.executable).parent / "artworks-bench"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "models" in result.stdout and "data" in result.stdout


def test_one_version_string():
    assert artworks.__version__ == importlib.metadata.version("artworks")
    assert (Path(artworks.__file__).parent / "py.typed").is_file()


# -- the wrapper: exit codes and tracebacks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "argv", "shown"),
    [
        ("1", [], True),
        ("0", [], False),
        ("true", [], False),
        (None, [], False),
        (None, ["traceback=true"], True),
    ],
)
def test_only_hydra_full_error_1_or_traceback_true_show_tracebacks(monkeypatch, value, argv, shown):
    if value is None:
        monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    else:
        monkeypatch.setenv("HYDRA_FULL_ERROR", value)
    assert tracebacks_requested(argv) is shown


def test_wrapper_exit_codes_and_environment(monkeypatch, capsys):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")

    def user_error():
        assert os.environ["HYDRA_FULL_ERROR"] == "1"  # Hydra re-raises to the wrapper
        raise ArtworksError("Something the user can fix.")

    with pytest.raises(SystemExit) as exit_info:
        run_command(user_error, [])
    assert exit_info.value.code == 2 and os.environ["HYDRA_FULL_ERROR"] == "0"
    assert_one_paragraph(capsys.readouterr().err, "Something the user can fix.")

    with pytest.raises(SystemExit) as exit_info:
        run_command(lambda: sweep_failures.failed_sweeps.append(Path("sweep")), [])
    sweep_failures.failed_sweeps.pop()
    assert exit_info.value.code == 1

    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_command(lambda: 1 / 0, [])
    with pytest.raises(ArtworksError):  # asked for
        run_command(user_error, ["traceback=true"])
    assert run_command(lambda: None, []) is None


# -- an output path that cannot be written: exit 2, one paragraph, also with HYDRA_FULL_ERROR=0 -----------


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


def _fake_run(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text('{"experiment": "scratch_resnet50", "test/macro_acc": 0.5}')
    return run_dir


# a committed tiny checkpoint (timm/test_resnet, 32 px): predict and export need a model, not its quality
CHECKPOINT = Path(__file__).resolve().parent / "fixtures" / "legacy-v0.1-test_resnet.ckpt"


def _unwritable_output_args(command: str, a_file: Path, tmp_path: Path, request) -> list[str]:
    """The command line of ``command`` with its output under a regular file (all else valid)."""
    if command in ("train", "evaluate"):
        return [
            "data=sample",
            "ckpt_path=any.ckpt" if command == "evaluate" else "seed=1",
            f"hydra.run.dir={a_file}/run",
        ]
    if command == "compare":
        return [str(_fake_run(tmp_path / "run")), "--out", f"{a_file}/out"]
    pytest.importorskip("timm")
    common = [
        f"ckpt_path={CHECKPOINT}",
        f"paths.log_dir={tmp_path / 'outputs'}",
    ]
    if command == "export":
        return [*common, "format=torchscript", f"output={a_file}/model.pt"]
    image = min((request.getfixturevalue("sample_root") / "images" / "images").rglob("*.jpg"))
    return [*common, f"inputs={image}", f"output={a_file}/p.csv", "num_workers=0", "device=cpu"]


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "export", "compare"])
def test_an_output_path_under_a_file_is_exit_2_in_one_paragraph(
    command, a_file, tmp_path, monkeypatch, capsys, request
):
    """With HYDRA_FULL_ERROR=0 exported: still the paragraph (only 1 turns tracebacks on, as in Hydra)."""
    args = _unwritable_output_args(command, a_file, tmp_path, request)
    code, err = run_main(entry_point(f"artworks-{command}"), monkeypatch, capsys, *args, full_error="0")
    assert code == 2, err
    assert_one_paragraph(err, str(a_file), "regular file, not a folder")
    assert "\n\n" not in err.split("artworks: ", 1)[1].strip()  # one paragraph, not a list


# -- config ranges -------------------------------------------------------------------------------------


def test_negative_batch_size_is_exit_2_naming_the_key(monkeypatch, capsys, sample_root, tmp_path):
    main = entry_point("artworks-train")
    code, err = run_main(
        main, monkeypatch, capsys, "data=sample", f"data.root={sample_root}", "data.batch_size=-4",
        f"paths.log_dir={tmp_path}", "logger=none", full_error="0",
    )  # fmt: skip
    assert code == 2
    assert_one_paragraph(err, "data.batch_size=-4 is not allowed", "at least 1")
    assert "Error executing job" not in err and "Seed set" not in err  # nothing before the paragraph


@pytest.mark.parametrize(
    ("key", "value", "phrase"),
    [
        ("data.batch_size", 2.5, "a whole number of at least 1"),
        ("data.num_workers", -1, "of at least 0"),
        ("data.image_size", 2048, "from 32 to 1024"),
        ("data.image_size", 16, "at least 32 pixels"),
        ("model.optimizer.lr", 0.0, "greater than 0"),
        ("model.optimizer.lr", float("nan"), "greater than 0"),
        ("trainer.max_epochs", 0, "of at least 1 or -1"),
    ],
)
def test_out_of_range_values_name_their_key(key, value, phrase):
    cfg = compose_config("train", "data=sample")
    check_config(cfg, TRAIN)  # the defaults pass
    OmegaConf.update(cfg, key, value)
    with pytest.raises(ArtworksError) as err:
        check_config(cfg, TRAIN)
    assert f"{key}={value!r} is not allowed" in str(err.value) and phrase in str(err.value)


def test_unlimited_epochs_and_null_image_size_are_allowed():
    cfg = compose_config("train", "data=sample", "trainer.max_epochs=-1")
    check_config(cfg, TRAIN)
    check_config(compose_config("predict", "ckpt_path=x", "inputs=y"), PREDICT)


@pytest.mark.parametrize(
    ("config", "bounds"), [("train", TRAIN), ("evaluate", EVALUATE), ("predict", PREDICT), ("export", EXPORT),
                           ("serve", SERVE)],
)  # fmt: skip
def test_every_checked_key_exists_in_its_config(config, bounds):
    """A renamed key would silently drop its check: each one must be in the composed config."""
    cfg = compose_config(config)
    missing = [b.key for b in bounds if OmegaConf.select(cfg, b.key, default="<absent>") == "<absent>"]
    assert not missing


# -- SLURM: GPUs only for a GPU trainer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("trainer", "gpus", "tasks"), [("ddp_cpu", None, 2), ("cpu", None, 1), ("ddp", 2, 2), ("gpu", 1, 1)]
)
def test_slurm_asks_for_gpus_only_for_a_gpu_trainer(trainer, gpus, tasks):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'artworks[slurm]'")
    cfg = compose_config("train", "hydra/launcher=slurm", f"trainer={trainer}", hydra=True)
    launcher = cfg.hydra.launcher
    assert launcher.gpus_per_node == gpus and launcher.tasks_per_node == tasks and launcher.nodes == 1


# -- optional dependencies: a clear message naming the extra --------------------------------------------


@pytest.mark.parametrize(
    ("module", "importer", "extra"),
    [
        ("pytorch_grad_cam", "artworks.inference.explain:import_grad_cam", "artworks[explain]"),
        ("kagglehub", "artworks.data.download:import_kagglehub", "artworks[download]"),
    ],
)
def test_a_missing_extra_is_named(monkeypatch, module, importer, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    module_name, function = importer.split(":")
    with pytest.raises(ArtworksError, match=re.escape(f"pip install '{extra}'")):
        getattr(importlib.import_module(module_name), function)()


# -- make demo: one line per experiment; a failed job is exit 1 and one paragraph -----------------------

FAKE_SWEEP = """
import json, pathlib, sys
sweep = pathlib.Path({sweep!r})
done = sweep / "0_scratch_resnet50"
done.mkdir(parents=True)
metrics = {{"test/macro_acc": 0.5, "val/macro_acc_best": 0.6, "wall_time_s": 3}}
(done / "metrics.json").write_text(json.dumps(metrics))
failed = sweep / "1_cbam_resnet50"
failed.mkdir()
failure = {{"job": 1, "overrides": ["model=cbam_resnet50"], "error": "Out of memory (boom).",
            "log": str(failed / "train.log"), "job_dir": str(failed)}}
(failed / "failure.json").write_text(json.dumps(failure))
print("Traceback (most recent call last): the job's own, kept in the log")
sys.exit(1)
"""
CONFIG_ERROR = "print('noise'); print(); print('artworks: data.root=/x does not exist.'); raise SystemExit(2)"


@pytest.mark.parametrize("case", ["failed job", "config error"])
def test_demo_ends_a_failed_sweep_with_exit_1_and_one_paragraph(case, tmp_path, monkeypatch, capsys):
    from artworks import demo

    sweep = tmp_path / "sweep"
    script = FAKE_SWEEP.format(sweep=str(sweep)) if case == "failed job" else CONFIG_ERROR
    monkeypatch.setattr(demo, "SWEEP_DIR", sweep)
    monkeypatch.setattr(demo, "TRAIN_COMMAND", [sys.executable, "-c", script])
    monkeypatch.setattr(demo, "main_body", lambda: demo.run_sweep(["scratch_resnet50", "cbam_resnet50"], []))
    with pytest.raises(SystemExit) as exit_info:
        demo.main([])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "Traceback" not in out + err and err.strip().startswith("artworks demo:")
    assert "\n\n" not in err.strip()
    err = " ".join(err.split())
    if case == "failed job":
        assert "[1/2] scratch_resnet50     test macro acc 0.500  (best val 0.600)  3 s" in out
        assert f"[2/2] cbam_resnet50        FAILED (log: {sweep / '1_cbam_resnet50' / 'train.log'})" in out
        assert "1 of 2 experiments failed" in err and "Out of memory (boom)." in err
    else:
        assert "exit status 2: data.root=/x does not exist." in err and str(sweep / demo.LOG_NAME) in err
