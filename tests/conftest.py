"""Shared fixtures: a tiny synthetic dataset, random weights in torchvision's format, composed configs.

Nothing here touches the network: W&B runs offline and TORCH_HOME points at an empty temporary folder.
The session ends with a line giving the disk it left behind and the peak seen at test teardowns, so a test
that starts writing big checkpoints shows up in every CI log (see ``tests/helpers/disk.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
SESSION_HOME = Path(tempfile.mkdtemp(prefix="artworks-tests-"))  # removed when the session ends
SESSION_PID = os.getpid()  # forked runners (mutmut) share the folder: only its creator removes it
os.environ["TORCH_HOME"] = str(SESSION_HOME / "torch")
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(SESSION_HOME / "hypothesis")  # not .hypothesis/ in the tree

import pytest  # noqa: E402
import torch  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hypothesis import settings  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from torchvision.models import resnet50  # noqa: E402

from artworks.data.sample import ensure_sample  # noqa: E402
from tests.helpers.compose import LAST_WEIGHTS_ONLY, TINY_ARCH, TINY_SAMPLE, compose_train  # noqa: E402
from tests.helpers.disk import DiskWatch  # noqa: E402

# 2 threads (the recorded figures of test_seed_recipe.py assume it); 1 per pytest-xdist worker (make test-fast
# runs two): more threads than cores make torch's worker threads wait on each other
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
# Property-based tests: the same examples on every run (a CI failure reproduces), bounded so they stay fast,
# and no example database written into the working tree.
settings.register_profile("artworks", max_examples=50, deadline=None, derandomize=True, database=None)
settings.load_profile("artworks")
DISK = DiskWatch()


def pytest_sessionstart(session: pytest.Session) -> None:
    DISK.watch(session.config._tmp_path_factory.getbasetemp(), SESSION_HOME)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Sample the disk before fixtures are torn down, while the test's tmp_path still holds its runs."""
    DISK.sample(item.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.getpid() == SESSION_PID:
        shutil.rmtree(SESSION_HOME, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(DISK.summary())


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-artist, 48-image synthetic dataset in the Kaggle layout (shared; do not modify)."""
    root = tmp_path_factory.mktemp("sample") / "data"
    return ensure_sample(root, **TINY_SAMPLE)


@pytest.fixture(scope="session")
def resnet50_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random ResNet-50 state dict saved the way torchvision's weight files are (1000-class head)."""
    path = tmp_path_factory.mktemp("weights") / "resnet50-11ad3fa6.pth"
    torch.manual_seed(0)
    torch.save(resnet50().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random state dict of the tiny test network (``TINY_ARCH``), for tests that start from weights."""
    import timm

    path = tmp_path_factory.mktemp("weights") / "test_resnet.pth"
    torch.manual_seed(0)
    torch.save(timm.create_model(TINY_ARCH.removeprefix("timm/")).state_dict(), path)
    return path


@pytest.fixture
def make_cfg(sample_root: Path, resnet50_weights: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train.yaml`` with tiny settings plus ``overrides``, as ``python -m artworks.train`` would."""

    def _make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        return compose_train(
            sample_root, resnet50_weights, tmp_path / "outputs", output_dir or tmp_path / "run", overrides
        )

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def trained_checkpoint(
    sample_root: Path, resnet50_weights: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Path]:
    """``trained_checkpoint(model, *overrides)``: ``last.ckpt`` of a tiny run, trained once per session.

    For tests that only need *a* trained checkpoint (prediction, export); read-only, do not modify it.
    Only ``last.ckpt`` is written, weights and hyperparameters without optimizer state (nothing reads them).
    """
    from artworks.training.task import train

    trained: dict[tuple[str, ...], Path] = {}

    def _get(model: str, *overrides: str) -> Path:
        key = (model, *overrides)
        if key not in trained:
            run_dir = tmp_path_factory.mktemp(f"trained-{model}")
            settings = [f"model={model}", "test=false", *LAST_WEIGHTS_ONLY, *overrides]
            cfg = compose_train(sample_root, resnet50_weights, run_dir / "outputs", run_dir, settings)
            train(cfg)
            GlobalHydra.instance().clear()
            trained[key] = run_dir / "checkpoints" / "last.ckpt"
        return trained[key]

    return _get


@pytest.fixture(scope="session")
def tiny_checkpoint(trained_checkpoint: Callable[..., Path]) -> Path:
    """``last.ckpt`` of ``scratch_resnet50`` on the tiny network (``TINY_ARCH``), trained once per session.

    For tests of what is done with a trained checkpoint (prediction, export, the web page), where the
    network's size is not what is tested: ~5 MB instead of ~300 MB. Read-only.
    """
    return trained_checkpoint("scratch_resnet50", f"model.net.arch={TINY_ARCH}")
