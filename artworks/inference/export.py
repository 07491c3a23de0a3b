"""A trained checkpoint as one self-contained file for ONNX Runtime or TorchScript.

The exported model takes **uint8** RGB images, shape N×3×S×S (S = the training image size, values 0-255, as
``artworks.data.images.load_image`` makes them) and normalises them itself; it returns ``(logits,
probabilities)``, both N×classes. Class names, mean/std and S travel with the file: ONNX ``metadata_props``,
TorchScript ``_extra_files["metadata.json"]`` (see :func:`export_metadata`).

ONNX goes through ``torch.onnx.export``'s ``dynamo=True`` (torch.export-based) exporter, which needs
``onnxscript`` (a PyPI package, so it installs offline from a wheel cache like everything else); the older
TorchScript-based exporter is deprecated since torch 2.9.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from artworks.errors import ArtworksError
from artworks.inference.predictor import input_size
from artworks.storage import atomic_path
from artworks.training.checkpoint import load_classifier
from artworks.training.module import ArtistClassifier

log = logging.getLogger(__name__)
# onnxscript's graph passes log every deduplicated initializer at INFO
logging.getLogger("onnx_ir").setLevel(logging.WARNING)

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "probabilities")


class DeployableClassifier(nn.Module):
    """uint8 N×3×S×S RGB in, (logits, probabilities) out: the training normalisation happens inside."""

    def __init__(self, module: ArtistClassifier) -> None:
        super().__init__()
        self.preprocess = module.preprocess
        self.net = module.net
        self.temperature = float(getattr(module, "temperature", 1.0))  # the checkpoint's calibration

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(self.preprocess(images, augment=False))
        return logits, (logits / self.temperature).softmax(dim=1)


def export_metadata(module: ArtistClassifier, image_size: int, source: Path) -> dict[str, str]:
    """What a user of the exported file needs besides the graph, as string key/value pairs (JSON values)."""
    preprocess = module.hparams.preprocess
    return {
        "class_names": json.dumps(module.class_names),
        "mean": json.dumps(list(preprocess["mean"])),
        "std": json.dumps(list(preprocess["std"])),
        "image_size": str(image_size),
        "input": f"{INPUT_NAME}: uint8 RGB, N x 3 x {image_size} x {image_size}, values 0-255; "
        "normalised inside as (x/255 - mean) / std",
        "outputs": "logits, probabilities (softmax of logits / temperature), both N x len(class_names)",
        "temperature": str(float(getattr(module, "temperature", 1.0))),
        "experiment": str(module.hparams.get("experiment", "")),
        "source_checkpoint": source.name,
    }


def export_onnx(
    model: DeployableClassifier, example: torch.Tensor, path: Path, metadata: dict[str, str]
) -> None:
    """ONNX with a dynamic batch dimension and ``metadata`` as ``metadata_props``."""
    try:
        import onnx
    except ImportError as err:
        raise ArtworksError(
            "ONNX export needs the onnx and onnxscript packages: pip install 'artworks[export]' "
            "(or pip install onnx onnxscript onnxruntime)."
        ) from err
    try:
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,  # the torch.export-based exporter (the default only since torch 2.9)
            verbose=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    except ImportError as err:
        raise ArtworksError(f"ONNX export needs onnxscript: pip install 'artworks[export]' ({err}).") from err
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    with atomic_path(path, keep_suffix=True) as tmp:  # a kill or a full disk never leaves half a model
        onnx.save(proto, str(tmp))


def export_torchscript(
    model: DeployableClassifier, example: torch.Tensor, path: Path, metadata: dict[str, str]
) -> None:
    """A traced TorchScript module with ``metadata`` as ``metadata.json`` in its extra files.

    TorchScript is deprecated upstream (torch warns on every call) but still the format C++/LibTorch and older
    serving stacks load; the warning is silenced because the user asked for this format.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        traced = torch.jit.trace(model, example, check_trace=False)
        with atomic_path(path, keep_suffix=True) as tmp:
            torch.jit.save(traced, str(tmp), _extra_files={"metadata.json": json.dumps(metadata)})


def read_torchscript(path: Path | str) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """An exported TorchScript model and its metadata (JSON values decoded)."""
    files = {"metadata.json": ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        model = torch.jit.load(str(path), map_location="cpu", _extra_files=files)
    return model, decode_metadata(json.loads(files["metadata.json"]))


def decode_metadata(metadata: dict[str, str]) -> dict[str, Any]:
    """Metadata strings back to values: class names and mean/std as lists, image size as int."""
    decoded: dict[str, Any] = dict(metadata)
    for key in ("class_names", "mean", "std", "image_size"):
        decoded[key] = json.loads(metadata[key])
    return decoded


def export(
    ckpt_path: Path | str,
    format: str = "onnx",
    output: Path | str | None = None,
    image_size: int | None = None,
) -> Path:
    """Export ``ckpt_path`` to ``output`` (default: next to the checkpoint, with the format's suffix)."""
    if format not in FORMATS:
        raise ArtworksError(f"format={format} is not supported; choose one of {', '.join(FORMATS)}.")
    source = Path(ckpt_path).expanduser()
    module = load_classifier(source)
    size = input_size(module, image_size)
    path = Path(output) if output else source.with_suffix(FORMATS[format])
    path.parent.mkdir(parents=True, exist_ok=True)
    model = DeployableClassifier(module).eval()
    example = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
    metadata = export_metadata(module, size, source)
    with torch.no_grad():
        if format == "onnx":
            export_onnx(model, example, path, metadata)
        else:
            export_torchscript(model, example, path, metadata)
    log.info("Exported %s to %s (input: uint8 N x 3 x %d x %d).", source, path, size, size)
    return path
