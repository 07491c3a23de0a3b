"""Reading checkpoints safely: weights-only unpickling, clear errors for corrupt or mismatched files.

Use :func:`load_checkpoint` (or :func:`load_classifier`) wherever a checkpoint may come from someone
else: ``torch.load(weights_only=True)`` refuses pickled code, and every failure becomes an
:class:`~artworks.errors.ArtworksError` instead of a traceback.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from artworks.errors import ArtworksError
from artworks.storage.atomic import atomic_save_torch

# Fields of the network's hyperparameters that change the shape of its weights.
ARCHITECTURE_KEYS = ("arch", "activation", "depthwise", "attention")


def load_checkpoint(path: Path | str, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path`` as plain data (tensors, numbers, strings, lists, dicts).

    Raises ArtworksError when the file is missing, is not a checkpoint of this project, is corrupt
    (e.g. cut short), or holds pickled Python objects beyond plain data.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ArtworksError(
            f"The checkpoint {path} does not exist. Pass the path of a .ckpt file written by "
            "`python -m artworks.train` (they are under <run dir>/checkpoints/)."
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower() or "weights_only" in str(err):
            raise ArtworksError(
                f"The checkpoint {path} contains pickled Python objects, not only weights and plain data, "
                "so it was not loaded: unpickling can run arbitrary code. Use a checkpoint written by "
                "`python -m artworks.train`, or re-save its state_dict and hyper_parameters as plain data."
            ) from err
        raise _corrupt(path, err) from err
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise _corrupt(path, err) from err
    if (
        not isinstance(checkpoint, dict)
        or "state_dict" not in checkpoint
        or "hyper_parameters" not in checkpoint
    ):
        raise ArtworksError(
            f"The file {path} is a PyTorch file but not a checkpoint of this project (it has no "
            "state_dict and hyper_parameters). Pass a .ckpt file written by `python -m artworks.train`."
        )
    return checkpoint


def _corrupt(path: Path, err: BaseException) -> ArtworksError:
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ArtworksError(
        f"The checkpoint {path} is corrupt or not a PyTorch file ({first_line}). It may have been cut "
        "short by a full disk or a copy that did not finish. Use another checkpoint of the run (the "
        "checkpoints/ folder keeps the best epoch and last.ckpt), copy the file again, or retrain."
    )


def check_compatible(
    checkpoint: dict[str, Any], path: Path | str, net: dict[str, Any], class_names: list[str]
) -> None:
    """Raise ArtworksError unless ``checkpoint`` was trained for this network and this list of classes."""
    saved = checkpoint["hyper_parameters"]
    saved_net = saved.get("net", {})
    differences = [
        f"model.net.{key} is {saved_net.get(key)!r} in the checkpoint but {net.get(key)!r} now"
        for key in ARCHITECTURE_KEYS
        if saved_net.get(key) != net.get(key)
    ]
    if differences:
        raise ArtworksError(
            f"The checkpoint {path} belongs to another model ({'; '.join(differences)}). Pick the model it "
            f"was trained with (its experiment was {saved.get('experiment')!r}), or another checkpoint."
        )
    saved_classes = list(saved.get("class_names", []))
    if saved_classes != list(class_names):
        missing = sorted(set(class_names) - set(saved_classes))
        extra = sorted(set(saved_classes) - set(class_names))
        detail = (
            f"{len(saved_classes)} classes in the checkpoint, {len(class_names)} in the data; "
            f"only in the data: {', '.join(missing[:5]) or 'none'}; "
            f"only in the checkpoint: {', '.join(extra[:5]) or 'none'}"
        )
        raise ArtworksError(
            f"The checkpoint {path} was trained on another list of artists ({detail}). Use the data root "
            "it was trained on (data.root=...), or train a new model on this data."
        )


def load_classifier(path: Path | str, map_location: Any = "cpu") -> Any:
    """An ``ArtistClassifier`` rebuilt from a checkpoint alone, in eval mode (evaluation, prediction).

    Its ``temperature`` attribute is the checkpoint's calibration (1 for checkpoints without one).
    """
    from artworks.training.module import ArtistClassifier

    checkpoint = load_checkpoint(path, map_location=map_location)
    model = ArtistClassifier(**checkpoint["hyper_parameters"], load_weights=False)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise ArtworksError(
            f"The weights in {path} do not fit the network its own settings describe "
            f"({str(err).splitlines()[0]}). The file was probably written by another version of this "
            "project; retrain or use another checkpoint."
        ) from err
    model.temperature = temperature(checkpoint)
    return model.eval()


def temperature(checkpoint: dict[str, Any]) -> float:
    """The checkpoint's calibration temperature (probabilities = softmax(logits / T)); 1 when it has none."""
    return float((checkpoint.get("calibration") or {}).get("temperature", 1.0))


def store_calibration(path: Path | str, calibration: dict[str, float]) -> None:
    """Add ``calibration`` (plain data, e.g. ``{"temperature": 1.7}``) to the checkpoint at ``path``.

    Top-level and plain, so weights-only loading reads it and Lightning ignores it; the file is replaced
    atomically (a kill leaves the old checkpoint, never a torn one).
    """
    checkpoint = load_checkpoint(path)
    checkpoint["calibration"] = dict(calibration)
    atomic_save_torch(path, checkpoint)
