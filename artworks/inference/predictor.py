"""Inference from a trained checkpoint alone: the Predictor, image-file discovery, batch prediction, tables.

The checkpoint carries everything needed: the network's config and weights, the class names and the
preprocessing (mean/std buffers and the training image size), so no data root or training config is involved.
Images are decoded exactly as in training (``artworks.data.images.load_image``, JPEG draft mode) in DataLoader
workers, overlapping the network, and normalised by the model's own ``BatchPreprocess``. Checkpoints are read
weights-only (``artworks.training.checkpoint``): a file cannot run code.

On the CPU the network can run in ONNX Runtime: the same logits as PyTorch to ~1e-5 and several times faster
there (``python -m artworks.bench predict``). ``backend=onnx`` always uses it; ``auto`` (the predict command's
default) uses it on the CPU when onnxruntime and onnxscript are installed and the export pays back: the model
is exported once per weights and input size into a cache folder (seconds), so for a folder of at least
``AUTO_ONNX_MIN_IMAGES`` images, or whenever that model's export is already cached.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from artworks.data.images import load_image
from artworks.data.validate import IMAGE_SUFFIXES
from artworks.errors import ArtworksError
from artworks.inference import tta as tta_views
from artworks.storage import atomic_open
from artworks.training.checkpoint import load_classifier
from artworks.training.module import ArtistClassifier

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "auto")
DEFAULT_ONNX_CACHE = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "artworks" / "onnx"
# backend=auto exports only for this many images or more: a ResNet-50 export takes ~5-15 s on 2 cores and
# ONNX Runtime saves ~0.1-0.2 s per image there
AUTO_ONNX_MIN_IMAGES = 100


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
        tta: test-time augmentation (``artworks.inference.tta``): ``none``, ``flip``, ``rot90`` or
            ``multicrop`` (images are then read at ``tta.input_size``, larger than ``image_size``).
        backend: what runs the network: ``torch``; ``onnx`` (ONNX Runtime on the CPU); ``auto``: ONNX
            Runtime on the CPU when it is installed, else PyTorch.
        onnx_cache: folder of the exported models (onnx, auto); default ``~/.cache/artworks/onnx``.
    """

    def __init__(
        self,
        module: ArtistClassifier,
        image_size: int | None = None,
        device: str = "cpu",
        tta: str = "none",
        backend: str = "torch",
        onnx_cache: Path | str | None = None,
    ) -> None:
        self.image_size = input_size(module, image_size)
        self.tta = tta_views.check_mode(tta)
        self.read_size = tta_views.input_size(tta, self.image_size)  # the size images are decoded at
        self.device = resolve_device(device)
        self.module = module.eval().to(self.device)
        self.class_names = module.class_names
        if backend not in BACKENDS:
            raise ArtworksError(f"backend={backend} is not a backend; choose one of {', '.join(BACKENDS)}.")
        self.backend = backend
        self.onnx_cache = Path(onnx_cache or DEFAULT_ONNX_CACHE).expanduser()
        self.onnx: OnnxNetwork | None = None
        if backend == "onnx":
            self.onnx = self._onnx_network(export=True)
        elif self._auto_onnx():
            self.onnx = self._onnx_network(export=False)  # only an export made before: free to load

    @classmethod
    def from_checkpoint(
        cls,
        ckpt_path: Path | str,
        image_size: int | None = None,
        device: str = "auto",
        tta: str = "none",
        backend: str = "torch",
        onnx_cache: Path | str | None = None,
    ) -> Predictor:
        return cls(
            load_classifier(ckpt_path), image_size, device, tta, backend=backend, onnx_cache=onnx_cache
        )

    def plan(self, images: int) -> None:
        """Before predicting ``images`` files: with ``backend=auto``, export for ONNX Runtime if it pays."""
        if self.onnx is None and self._auto_onnx() and images >= AUTO_ONNX_MIN_IMAGES:
            self.onnx = self._onnx_network(export=True)

    def _auto_onnx(self) -> bool:
        return self.backend == "auto" and self.device.type == "cpu" and onnx_installed()

    def _onnx_network(self, export: bool) -> OnnxNetwork | None:
        """The ONNX Runtime session of this model (exported now if ``export``); ``None``: PyTorch it is."""
        if self.device.type != "cpu":
            raise ArtworksError(
                f"backend=onnx runs on the CPU, but device={self.device}. "
                "Use backend=torch (or auto) on a GPU."
            )
        path = onnx_path(self.module, self.image_size, self.onnx_cache)
        if not path.is_file():
            if not export:
                return None
            try:
                export_onnx_file(self.module, self.image_size, path)
            except Exception as err:  # auto: a model the exporter cannot handle still predicts, in PyTorch
                if self.backend == "onnx":
                    raise
                log.warning("ONNX export failed (%s: %s); predicting with PyTorch.", type(err).__name__, err)
                return None
        return OnnxNetwork(path)

    @property
    def net(self) -> torch.nn.Module:
        return self.module.net

    def read(self, source: Path | str) -> torch.Tensor:
        """An image file (or file object) as the uint8 CHW tensor training would have made of it."""
        return torch.from_numpy(load_image(source, self.read_size)).permute(2, 0, 1).contiguous()

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """A uint8 NCHW batch as the normalised float batch on the model's device (no augmentation)."""
        return self.module.preprocess(images.to(self.device), augment=False, size=self.image_size)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The network's logits for an NCHW batch (uint8, or float 0-255 views of test-time augmentation)."""
        if self.onnx is not None and images.dtype == torch.uint8:
            return self.onnx.logits(images)
        return self.net(self.normalise(images))

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax over ``class_names`` for a uint8 NCHW batch, on the CPU (averaged over the TTA views).

        The logits are divided by the checkpoint's calibration temperature first (1 when it has none).
        """
        temperature = getattr(self.module, "temperature", 1.0)
        score = lambda views: self.logits(views) / temperature  # noqa: E731
        return tta_views.probabilities(score, images.to(self.device), self.tta, self.image_size).cpu()

    def top(self, probabilities: torch.Tensor, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely artists of each row, best first."""
        values, indices = probabilities.topk(min(k, len(self.class_names)), dim=1)
        return [
            [(self.class_names[i], float(p)) for i, p in zip(row_i.tolist(), row_p.tolist(), strict=True)]
            for row_i, row_p in zip(indices, values, strict=True)
        ]


def onnx_installed() -> bool:
    """ONNX Runtime to run the model and onnxscript to export it (``pip install 'artworks[export]'``)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnxscript"))


class OnnxNetwork:
    """An exported classifier (uint8 images in, normalised inside) as an ONNX Runtime CPU session."""

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise ArtworksError(
                "backend=onnx needs ONNX Runtime: pip install 'artworks[export]' (or use backend=torch)."
            ) from err
        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(["logits"], {"images": images.cpu().numpy()})
        return torch.from_numpy(logits)


def onnx_path(module: ArtistClassifier, image_size: int, cache: Path) -> Path:
    """Where ``module``'s export at ``image_size`` lives in ``cache``: named by a hash of its weights."""
    digest = hashlib.sha256(f"{torch.__version__}/{image_size}".encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return cache / f"{module.hparams.get('experiment', 'model')}-{digest.hexdigest()[:16]}.onnx"


def export_onnx_file(module: ArtistClassifier, image_size: int, path: Path) -> None:
    """Export ``module`` (normalisation included) to ``path`` via a temporary file: never half-written."""
    from artworks.inference.export import DeployableClassifier, export_metadata, export_onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    model = DeployableClassifier(module).to("cpu").eval()
    example = torch.randint(0, 256, (2, 3, image_size, image_size), dtype=torch.uint8)
    fd, partial = tempfile.mkstemp(dir=path.parent, suffix=".onnx.partial")
    os.close(fd)
    try:
        with torch.no_grad():
            export_onnx(model, example, Path(partial), export_metadata(module, image_size, path))
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    log.info("Exported the model for ONNX Runtime to %s (once per model).", path)


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
        self.image_size = predictor.read_size

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
    predictor.plan(len(paths))
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
                from artworks.inference import explain  # grad-cam: an optional extra

                targets = probabilities.argmax(dim=1).tolist()
                stems = [_explanation_stem(explain_dir, paths[i], base) for i, _ in good]
                shown = tta_views.whole_image(images, predictor.image_size)  # multicrop reads them larger
                explain.write_explanations(predictor.net, predictor.normalise(shown), shown, targets, stems)
    for item in skipped:
        log.warning("Skipped %s: %s", item.path, item.reason)
    return predictions, skipped


def _explanation_stem(explain_dir: Path, path: Path, base: Path | None) -> Path:
    relative = path.relative_to(base) if base is not None and path.is_relative_to(base) else Path(path.name)
    return explain_dir / relative.with_suffix("")


def write_csv(predictions: Sequence[Prediction], path: Path | str, topk: int) -> Path:
    """One row per image: ``path, artist_1, probability_1, ..., artist_k, probability_k``."""
    path = Path(path)
    k = min(topk, max((len(p.top) for p in predictions), default=topk))
    with atomic_open(path, newline="") as f:  # whole or absent: a kill never leaves a cut-off table
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
