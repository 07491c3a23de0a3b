"""Inference from a trained checkpoint alone: the Predictor, image-file discovery, batch prediction, tables.

The checkpoint carries everything needed: the network's config and weights, the class names and the
preprocessing (mean/std buffers and the training image size), so no data root or training config is involved.
Images are decoded exactly as in training (``artworks.data.images.load_image``) and normalised by the model's
own ``BatchPreprocess``. Checkpoints are read weights-only (``artworks.training.checkpoint``): a file cannot
run code.
"""

from __future__ import annotations

import csv
import glob
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from artworks.data.images import load_image
from artworks.data.validate import IMAGE_SUFFIXES
from artworks.errors import ArtworksError
from artworks.inference import explain
from artworks.training.checkpoint import load_classifier
from artworks.training.module import ArtistClassifier

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``auto`` is the first CUDA device when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def input_size(module: ArtistClassifier, image_size: int | None = None) -> int:
    """``image_size`` if given (a warning when it differs from training), else the checkpoint's own."""
    recorded = module.preprocess.image_size
    if image_size is None and recorded is None:
        raise ArtworksError(
            "This checkpoint does not record the image size it was trained at (it predates that field). "
            "Pass image_size= the data.image_size of its training run, e.g. image_size=224."
        )
    if image_size is not None and recorded is not None and image_size != recorded:
        log.warning("Using image_size=%d; the model was trained at %d.", image_size, recorded)
    return int(image_size or recorded)


class Predictor:
    """A trained classifier ready for inference: eval-mode network, preprocessing, class names, input size.

    Args:
        module: the trained classifier.
        image_size: square input size; ``None`` takes the one the checkpoint recorded (checkpoints written
            before it was recorded need it passed).
        device: where the network runs.
    """

    def __init__(self, module: ArtistClassifier, image_size: int | None = None, device: str = "cpu") -> None:
        self.image_size = input_size(module, image_size)
        self.device = resolve_device(device)
        self.module = module.eval().to(self.device)
        self.class_names = module.class_names

    @classmethod
    def from_checkpoint(
        cls, ckpt_path: Path | str, image_size: int | None = None, device: str = "auto"
    ) -> Predictor:
        return cls(load_classifier(ckpt_path), image_size=image_size, device=device)

    @property
    def net(self) -> torch.nn.Module:
        return self.module.net

    def read(self, source: Path | str) -> torch.Tensor:
        """An image file (or file object) as the uint8 CHW tensor training would have made of it."""
        return torch.from_numpy(load_image(source, self.image_size)).permute(2, 0, 1).contiguous()

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """A uint8 NCHW batch as the normalised float batch on the model's device (no augmentation)."""
        return self.module.preprocess(images.to(self.device), augment=False)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax over ``class_names`` for a uint8 NCHW batch, on the CPU."""
        return self.net(self.normalise(images)).softmax(dim=1).float().cpu()

    def top(self, probabilities: torch.Tensor, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely artists of each row, best first."""
        values, indices = probabilities.topk(min(k, len(self.class_names)), dim=1)
        return [
            [(self.class_names[i], float(p)) for i, p in zip(row_i.tolist(), row_p.tolist(), strict=True)]
            for row_i, row_p in zip(indices, values, strict=True)
        ]


@dataclass
class Prediction:
    path: Path
    top: list[tuple[str, float]]  # (artist, probability), best first


@dataclass
class Skipped:
    path: Path
    reason: str


def find_images(inputs: str) -> tuple[list[Path], Path]:
    """Files named by ``inputs`` (a file, a folder searched recursively, or a glob), and their folder."""
    root = Path(inputs).expanduser()
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    elif glob.has_magic(inputs):
        files = sorted(Path(f) for f in glob.glob(str(root), recursive=True) if Path(f).is_file())
    else:
        raise ArtworksError(f"inputs={inputs} is neither a file, a folder nor a glob that matches anything.")
    if not files:
        raise ArtworksError(
            f"No image files under inputs={inputs} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}). "
            "Pass an image, a folder of images, or a quoted glob such as 'photos/*.jpg'."
        )
    base = root if root.is_dir() else Path(*_common_parts([f.parent for f in files]))
    return files, base


def _common_parts(folders: Sequence[Path]) -> tuple[str, ...]:
    parts = folders[0].parts
    for folder in folders[1:]:
        n = 0
        while n < min(len(parts), len(folder.parts)) and parts[n] == folder.parts[n]:
            n += 1
        parts = parts[:n]
    return parts or (".",)


class _ImageFiles(Dataset):
    """(index, uint8 CHW tensor or None, error or None): a file that fails to decode does not stop the run."""

    def __init__(self, paths: Sequence[Path], predictor: Predictor) -> None:
        self.paths = paths
        self.image_size = predictor.image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            array = load_image(self.paths[i], self.image_size)
        except Exception as err:  # any decode failure is reported per file, never fatal
            return i, None, f"{type(err).__name__}: {err}"
        return i, torch.from_numpy(array).permute(2, 0, 1).contiguous(), None


def predict_files(
    predictor: Predictor,
    paths: Sequence[Path],
    topk: int = 5,
    batch_size: int = 16,
    num_workers: int = 0,
    explain_dir: Path | None = None,
    base: Path | None = None,
) -> tuple[list[Prediction], list[Skipped]]:
    """Top-k predictions for every readable file, in order, and the files that could not be read.

    With ``explain_dir``, each image's Grad-CAM overlay (and CBAM attention maps) are written there, at the
    file's path relative to ``base``.
    """
    loader = DataLoader(
        _ImageFiles(paths, predictor), batch_size=batch_size, num_workers=num_workers, collate_fn=list
    )
    predictions: list[Prediction] = []
    skipped: list[Skipped] = []
    with tqdm(total=len(paths), unit="img", desc="predict", file=sys.stderr) as progress:
        for items in loader:
            skipped += [Skipped(paths[i], error) for i, _, error in items if error is not None]
            good = [(i, image) for i, image, error in items if error is None]
            progress.update(len(items))
            if not good:
                continue
            images = torch.stack([image for _, image in good])
            probabilities = predictor.probabilities(images)
            tops = predictor.top(probabilities, topk)
            predictions += [Prediction(paths[i], top) for (i, _), top in zip(good, tops, strict=True)]
            if explain_dir is not None:
                targets = probabilities.argmax(dim=1).tolist()
                stems = [_explanation_stem(explain_dir, paths[i], base) for i, _ in good]
                explain.write_explanations(predictor.net, predictor.normalise(images), images, targets, stems)
    for item in skipped:
        log.warning("Skipped %s: %s", item.path, item.reason)
    return predictions, skipped


def _explanation_stem(explain_dir: Path, path: Path, base: Path | None) -> Path:
    relative = path.relative_to(base) if base is not None and path.is_relative_to(base) else Path(path.name)
    return explain_dir / relative.with_suffix("")


def write_csv(predictions: Sequence[Prediction], path: Path | str, topk: int) -> Path:
    """One row per image: ``path, artist_1, probability_1, ..., artist_k, probability_k``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = min(topk, max((len(p.top) for p in predictions), default=topk))
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["path"] + [col for r in range(1, k + 1) for col in (f"artist_{r}", f"probability_{r}")]
        )
        for p in predictions:
            writer.writerow([str(p.path)] + [v for artist, prob in p.top for v in (artist, f"{prob:.6f}")])
    return path


def format_table(predictions: Sequence[Prediction], base: Path | None = None) -> str:
    """A plain-text table: image, then ``artist (probability)`` for each rank."""
    if not predictions:
        return "(no predictions)"
    k = max(len(p.top) for p in predictions)
    header = ["image"] + [f"top-{r}" for r in range(1, k + 1)]
    rows = [
        [str(p.path.relative_to(base) if base is not None and p.path.is_relative_to(base) else p.path)]
        + [f"{artist} ({prob:.3f})" for artist, prob in p.top]
        for p in predictions
    ]
    widths = [max(len(row[c]) if c < len(row) else 0 for row in [header, *rows]) for c in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
