"""Where the Hydra configs live, and the resolvers they use.

The configs sit at the repository's top level (``conf/``) and are shipped inside the wheel as
``artworks/conf``, so both an editable and a regular ``pip install`` find them.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The folder holding ``train.yaml``: inside the installed package, else the repository's ``conf/``."""
    for candidate in (PACKAGE_DIR / "conf", PACKAGE_DIR.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"artworks configs not found next to {PACKAGE_DIR}; reinstall the package.")


def wandb_mode() -> str:
    """``online`` when W&B credentials are present, else ``offline``; ``WANDB_MODE`` wins if set.

    Only checks that a key exists; the key itself is never read into the config or printed.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        auth = netrc.netrc().authenticators("api.wandb.ai")
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        auth = None
    return "online" if auth else "offline"


def register_resolvers() -> None:
    """Register the ``${wandb_mode:}`` resolver used by ``conf/logger/wandb.yaml``."""
    if not OmegaConf.has_resolver("wandb_mode"):
        OmegaConf.register_new_resolver("wandb_mode", wandb_mode)


register_resolvers()
