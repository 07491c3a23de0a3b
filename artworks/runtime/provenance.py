"""What produced a run: ``provenance.json`` in the run directory (next to Hydra's ``.hydra/`` configs).

Records the git commit and whether the tree had uncommitted changes, the versions of the packages that
shape results, the command line and the machine. A resumed run appends one entry per session.
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from artworks.storage import atomic_write_json

PACKAGES = (
    "artworks",
    "torch",
    "torchvision",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "numpy",
    "pillow",
    "scikit-learn",
    "wandb",
)
PROVENANCE_FILE = "provenance.json"


def git_state(repo: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the source tree this package runs from; ``{}`` outside a git checkout."""
    repo = repo or Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def session_record() -> dict[str, Any]:
    return {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "host": socket.gethostname(),
        "git": git_state(),
        "versions": package_versions(),
    }


def write_provenance(output_dir: Path) -> Path:
    """Append this session to ``provenance.json`` (the first entry is the run's start)."""
    path = output_dir / PROVENANCE_FILE
    sessions = json.loads(path.read_text())["sessions"] if path.is_file() else []
    sessions.append(session_record())
    atomic_write_json(path, {"sessions": sessions}, indent=2)  # read back by every resumed session
    return path
