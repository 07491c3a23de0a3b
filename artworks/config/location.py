"""Where the Hydra configs live.

The configs sit at the repository's top level (``conf/``) and are shipped inside the wheel as
``artworks/conf``, so both an editable and a regular ``pip install`` find them.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def config_dir() -> Path:
    """The folder holding ``train.yaml``: inside the installed package, else the repository's ``conf/``."""
    for candidate in (PACKAGE_DIR / "conf", PACKAGE_DIR.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"artworks configs not found next to {PACKAGE_DIR}; reinstall the package.")
