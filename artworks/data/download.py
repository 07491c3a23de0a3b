"""Fetch Kaggle's "Best Artworks of All Time" with kagglehub, fix the Dürer folders, say where it is.

    artworks-download [DIR]        (or python -m artworks.download; the command: ``artworks.download``)

DIR (default: the project's ``data/`` folder) becomes the kagglehub cache, so the data lands in
``DIR/datasets/ikarus777/best-artworks-of-all-time/versions/1/``; ``data.root=DIR`` finds it there. Without
credentials or network it stops at once with what to do; it never prints a key.
"""

from __future__ import annotations

import logging
import os
import shutil
import unicodedata
from pathlib import Path
from types import ModuleType

from artworks.data.artists import match_folders, read_artist_names
from artworks.data.index import KAGGLE_HANDLE
from artworks.errors import ArtworksError

log = logging.getLogger(__name__)

KAGGLE_URL = "https://www.kaggle.com"
DURER = "Albrecht_Dürer"
MANUAL = (
    "Or download it by hand: sign in at kaggle.com, open kaggle.com/datasets/" + KAGGLE_HANDLE + ", click "
    "Download, unzip the archive into a folder DIR (it holds artists.csv, images/ and resized/), run "
    "`python -m artworks.data.download --fix DIR` to merge the Dürer folders, and train with `data.root=DIR`."
)


def import_kagglehub() -> ModuleType:
    """kagglehub, an optional dependency: ``pip install 'artworks[download]'``."""
    try:
        import kagglehub
        import kagglehub.config
    except ImportError as err:
        raise ArtworksError(
            "Downloading the dataset needs the kagglehub package, which is not installed. Install it with "
            "`pip install 'artworks[download]'` (or `pip install kagglehub`) and run this command again.\n\n"
            + MANUAL
        ) from err
    return kagglehub


def has_credentials() -> bool:
    """Whether kagglehub will find Kaggle credentials (environment, ~/.kaggle/kaggle.json or a token)."""
    if import_kagglehub().config.get_kaggle_credentials() is not None or os.environ.get("KAGGLE_API_TOKEN"):
        return True
    folder = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (folder / "access_token").is_file()


def check_network(url: str | None = None, timeout: float = 5.0) -> None:
    """Fail fast, with what to do, when Kaggle cannot be reached."""
    import requests

    url = url or KAGGLE_URL

    try:
        requests.head(url, timeout=timeout)
    except requests.RequestException as err:
        raise ArtworksError(
            f"Kaggle ({url}) cannot be reached from this machine ({type(err).__name__}). Run the command "
            f"on a machine with internet access and copy the folder here, or set HTTPS_PROXY if you need a "
            f"proxy.\n\n" + MANUAL
        ) from None


def fix_durer(root: Path) -> list[str]:
    """Merge every spelling of Dürer's folder (mojibake, decomposed) into ``images/images/Albrecht_Dürer``.

    Files are renamed to ``Albrecht_Dürer_<n>.jpg``; a second copy of a number is deleted. Returns the
    folders that were merged away.
    """
    images = root / "images" / "images"
    if not images.is_dir():
        return []
    csv_path = root / "artists.csv"
    names = read_artist_names(csv_path) if csv_path.is_file() else [DURER.replace("_", " ")]
    folders = sorted(p for p in images.iterdir() if p.is_dir())
    matched = match_folders([p.name for p in folders], names)
    spellings = [p for p in folders if matched[p.name] == DURER.replace("_", " ")]
    target = images / DURER
    merged = []
    for folder in spellings:
        if folder.name == DURER:
            continue
        target.mkdir(exist_ok=True)
        for path in sorted(folder.iterdir()):
            number = path.stem.rsplit("_", 1)[-1]
            name = f"{DURER}_{number}{path.suffix.lower()}" if number.isdigit() else path.name
            dest = target / name
            if dest.exists():
                path.unlink()
            else:
                shutil.move(str(path), dest)
        folder.rmdir()
        merged.append(folder.name)
    for path in target.iterdir() if target.is_dir() else []:
        normal = unicodedata.normalize("NFC", path.name)
        if normal != path.name:
            path.rename(path.with_name(normal))
    return merged


def download(directory: Path) -> Path:
    """Download (or find in the kagglehub cache under ``directory``) the dataset and fix it."""
    if not has_credentials():
        raise ArtworksError(
            "No Kaggle credentials were found. Create an API token at kaggle.com/settings (Account > API > "
            "Create New Token), then either save the downloaded kaggle.json as ~/.kaggle/kaggle.json (chmod "
            "600) or export KAGGLE_USERNAME and KAGGLE_KEY, and run this command again.\n\n" + MANUAL
        )
    check_network()
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["KAGGLEHUB_CACHE"] = str(directory.resolve())
    kagglehub = import_kagglehub()
    try:
        path = Path(kagglehub.dataset_download(KAGGLE_HANDLE))
    except Exception as err:  # kagglehub raises many types; the message never holds the key
        raise ArtworksError(
            f"kagglehub could not download {KAGGLE_HANDLE}: {type(err).__name__}: {err}. Check that your "
            f"Kaggle credentials are valid (kaggle.com/settings) and that you accepted the dataset's terms "
            f"on its page.\n\n" + MANUAL
        ) from None
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m artworks.data.download`` still works: it is the command ``artworks.download``."""
    from artworks.download import main as download_command  # noqa: PLC0415 (the command imports this module)

    download_command(argv)


if __name__ == "__main__":
    main()
