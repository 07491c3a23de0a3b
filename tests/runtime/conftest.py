"""Fixtures of the runtime tests (DDP and SLURM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from artworks.data.sample import ensure_sample
from tests.helpers.ddp import DDP_SAMPLE


@pytest.fixture(scope="module")
def ddp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_sample(tmp_path_factory.mktemp("ddp") / "data", **DDP_SAMPLE)
