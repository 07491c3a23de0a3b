"""The five experiments of the study, read from the one place they are written (conf/experiment/study.yaml).

``make sweep`` runs that file as a multirun; the demo, the benches and the tests take the list from here, so
adding or renaming an experiment is one edit.
"""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from artworks.config.location import config_dir


def study_models() -> list[str]:
    """The ``model=`` options of the study, in the order the sweep runs them."""
    previous = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("train", overrides=["experiment=study"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
        if previous is not None:  # a caller inside a composed session keeps it
            GlobalHydra.instance().initialize(previous)
    return [m.strip() for m in str(cfg.hydra.sweeper.params.model).split(",")]
