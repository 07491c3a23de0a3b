"""Compose a job's config in-process, set up as Hydra sets one up for ``python -m artworks.<command>``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig


def compose_job(config_name: str, overrides: Sequence[str], output_dir: Path | str) -> DictConfig:
    """``config_name`` (``train``, ``evaluate``, ...) with ``overrides``, writing to ``output_dir``.

    For code that runs a job without Hydra's launcher (the GPU check, tests): the run folder is
    ``output_dir`` and ``HydraConfig`` is set, so the job reads ``hydra.runtime`` as under ``@hydra.main``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict, read_write

    from artworks.config.location import config_dir
    from artworks.config.resolvers import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig().set_config(cfg)
    return cfg
