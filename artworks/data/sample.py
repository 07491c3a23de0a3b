"""A synthetic dataset in the exact Kaggle layout, for demos and tests.

Each artist gets a procedural style that a network can learn: a palette around its own hue, a background
tone, a stroke direction, stroke length and width, and a stroke density. Images of one artist vary in
positions and small jitters of all of these. Per-artist counts can follow the real dataset's imbalance.

    python -m artworks.data.sample DIR [--artists N] [--images-per-artist M] [--image-size S] [--seed K]
"""

from __future__ import annotations

import argparse
import colorsys
import csv
import json
import math
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from artworks.errors import ArtworksError
from artworks.runtime.command import command
from artworks.storage import atomic_write_json

MARKER = "sample.json"
CSV_COLUMNS = ["id", "name", "years", "genre", "nationality", "bio", "wikipedia", "paintings"]


def real_counts() -> dict[str, int]:
    """Real per-artist image counts (folder name -> images), shipped with the package."""
    text = resources.files("artworks.data").joinpath("artist_image_counts.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {row["folder"]: int(row["images"]) for row in rows}


def choose_artists(n: int) -> list[tuple[str, int]]:
    """``n`` real artists spread over the size ranking, so the sample keeps big and small classes."""
    counts = sorted(real_counts().items(), key=lambda kv: -kv[1])
    if not 2 <= n <= len(counts):
        raise ArtworksError(f"--artists must be between 2 and {len(counts)}, got {n}.")
    picks = np.linspace(0, len(counts) - 1, n).round().astype(int)
    return [counts[i] for i in picks]


def _style(rng: np.random.Generator, artist_idx: int, n_artists: int) -> dict:
    hue = (artist_idx / n_artists + rng.uniform(-0.02, 0.02)) % 1.0
    return {
        "hue": hue,
        "background": rng.uniform(0.15, 0.9),
        "angle": rng.uniform(0, math.pi),
        "length": rng.uniform(0.1, 0.6),
        "width": rng.uniform(0.01, 0.06),
        "strokes": int(rng.integers(15, 70)),
    }


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def render(style: dict, size: int, rng: np.random.Generator) -> Image.Image:
    """One painting in ``style``: a tinted background covered with jittered, oriented strokes."""
    bg = _rgb(style["hue"] + 0.5, 0.25, style["background"] + rng.uniform(-0.08, 0.08))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    for _ in range(style["strokes"]):
        angle = style["angle"] + rng.normal(0, 0.15)
        length = style["length"] * size * rng.uniform(0.6, 1.4)
        x, y = rng.uniform(0, size, 2)
        dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
        colour = _rgb(style["hue"] + rng.normal(0, 0.04), rng.uniform(0.5, 1.0), rng.uniform(0.4, 1.0))
        width = max(1, int(style["width"] * size * rng.uniform(0.7, 1.3)))
        draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=colour, width=width)
    return img


def image_counts(artists: list[tuple[str, int]], images_per_artist: int, imbalance: str) -> list[int]:
    if imbalance == "none":
        return [images_per_artist] * len(artists)
    if imbalance != "real":
        raise ArtworksError(f"imbalance must be 'real' or 'none', got {imbalance!r}.")
    mean = sum(c for _, c in artists) / len(artists)
    return [max(5, round(c / mean * images_per_artist)) for _, c in artists]


def write_sample(
    root: Path | str,
    artists: int = 8,
    images_per_artist: int = 40,
    image_size: int = 96,
    seed: int = 0,
    imbalance: str = "real",
) -> Path:
    """Write the sample under ``root`` (``artists.csv`` + ``images/images/<Artist>/<Artist>_<n>.jpg``)."""
    root = Path(root)
    chosen = choose_artists(artists)
    counts = image_counts(chosen, images_per_artist, imbalance)
    image_root = root / "images" / "images"
    if image_root.exists():
        shutil.rmtree(image_root)
    rows = []
    for idx, ((folder, _), count) in enumerate(zip(chosen, counts, strict=True)):
        rng = np.random.default_rng([seed, idx])
        style = _style(rng, idx, len(chosen))
        folder_path = image_root / folder
        folder_path.mkdir(parents=True)
        for n in range(1, count + 1):
            render(style, image_size, rng).save(folder_path / f"{folder}_{n}.jpg", quality=90)
        name = folder.replace("_", " ")
        rows.append([idx, name, "", "synthetic", "", f"Synthetic style standing in for {name}.", "", count])
    with open(root / "artists.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return root


def ensure_sample(root: Path | str, **settings) -> Path:
    """Generate the sample at ``root`` unless one with the same settings is already there."""
    root = Path(root)
    marker = root / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return root
    if root.exists() and any(root.iterdir()) and not marker.is_file():
        raise ArtworksError(
            f"{root} holds files that are not an artworks sample, so no sample is written there. "
            f"Point data.root at an empty or new folder."
        )
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".artworks"):
        shutil.rmtree(stale)
    # the marker says "a sample, being written" first and "this sample, complete" last: a run killed
    # half-way leaves a folder the next run recognises and writes again (every file of it, artists.csv too)
    atomic_write_json(marker, {**settings, "complete": False})
    write_sample(root, **settings)
    atomic_write_json(marker, settings)
    return root


@command
def main(argv: list[str] | None = None) -> None:
    """``python -m artworks.data.sample DIR``: write the synthetic dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="where to write the dataset")
    parser.add_argument("--artists", type=int, default=8)
    parser.add_argument("--images-per-artist", type=int, default=40, help="mean images per artist")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--imbalance", choices=["real", "none"], default="real")
    args = parser.parse_args(argv)
    settings = {
        "artists": args.artists,
        "images_per_artist": args.images_per_artist,
        "image_size": args.image_size,
        "seed": args.seed,
        "imbalance": args.imbalance,
    }
    root = ensure_sample(args.dir, **settings)
    n = sum(1 for _ in (root / "images" / "images").rglob("*.jpg"))
    print(f"Wrote {n} images of {args.artists} artists to {root}")


if __name__ == "__main__":
    main()
