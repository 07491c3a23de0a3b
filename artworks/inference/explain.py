"""Why did the model pick that artist? Grad-CAM for the predicted class, and CBAM's spatial attention.

Grad-CAM comes from the maintained ``grad-cam`` package (``pytorch_grad_cam``) on the backbone's last
feature stage (:func:`target_layer`: ``layer4`` of a torchvision ResNet, the last ``feature_info`` stage of a
timm model), whose maps are the finest that still carry class evidence. For networks with CBAM
(``model.net.attention=cbam``) forward hooks on each stage's last ``SpatialGate`` also record the attention
map it multiplied the features by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from artworks.errors import ArtworksError
from artworks.models.cbam import SpatialGate

STAGES = ("layer1", "layer2", "layer3", "layer4")


@dataclass
class Explanation:
    gradcam: np.ndarray  # H×W in [0, 1] at the input's size, for the target class
    attention: dict[str, np.ndarray]  # stage -> h×w spatial attention in (0, 1); empty without CBAM


def import_grad_cam() -> ModuleType:
    """``pytorch_grad_cam``, an optional dependency: ``pip install 'artworks[explain]'``."""
    try:
        import pytorch_grad_cam
        import pytorch_grad_cam.utils.image
        import pytorch_grad_cam.utils.model_targets
    except ImportError as err:
        raise ArtworksError(
            "Explanations (explain=true, the heat maps of the try-it page) need the grad-cam package, "
            "which is not installed. Install it with `pip install 'artworks[explain]'` (or `pip install "
            "grad-cam`), or leave explain off."
        ) from err
    return pytorch_grad_cam


def target_layer(net: nn.Module) -> nn.Module:
    """The backbone's last feature stage, Grad-CAM's layer: each timm model lists its stages in
    ``feature_info`` (deepest last); torchvision's ResNets end in ``layer4``."""
    feature_info = getattr(net, "feature_info", None)
    if feature_info:
        return net.get_submodule(feature_info[-1]["module"])
    if isinstance(getattr(net, "layer4", None), nn.Module):
        return net.layer4
    raise ArtworksError(
        f"Grad-CAM needs the network's last feature stage, and {type(net).__name__} has neither timm's "
        "feature_info nor a ResNet's layer4. Use a torchvision ResNet or a timm model (model.net.arch), "
        "or leave explain off."
    )


def _spatial_maps(activations: torch.Tensor) -> torch.Tensor:
    """Grad-CAM weighs N×C×h×w feature maps; token sequences (vision transformers) have no such map."""
    if activations.ndim != 4:
        raise ArtworksError(
            f"Grad-CAM needs N×C×h×w feature maps, but this network's last stage gives shape "
            f"{tuple(activations.shape)} (a vision transformer's tokens?). Explanations work for "
            "convolutional backbones (ResNets, ConvNeXt, EfficientNet...); leave explain off for this one."
        )
    return activations


def gradcam(
    net: nn.Module, images: torch.Tensor, targets: Sequence[int], layer: nn.Module | None = None
) -> np.ndarray:
    """Grad-CAM maps (N×H×W, each scaled to [0, 1]) of class ``targets[i]`` for normalised image ``i``.

    ``layer`` defaults to :func:`target_layer`. Gradients flow from the input, so networks with frozen
    stages are explained too.
    """
    layer = layer if layer is not None else target_layer(net)
    # an input that requires grad makes the target layer's output require it even when every stage is frozen
    leaf = images.detach().requires_grad_(True)
    grad_cam = import_grad_cam()
    cam = grad_cam.GradCAM(model=net, target_layers=[layer], reshape_transform=_spatial_maps)
    with torch.enable_grad(), cam:
        classes = [grad_cam.utils.model_targets.ClassifierOutputTarget(int(t)) for t in targets]
        maps = cam(input_tensor=leaf, targets=classes)
    net.zero_grad(set_to_none=True)
    return maps


def spatial_attention(net: nn.Module, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Per stage, the N×h×w map of its last CBAM spatial gate; ``{}`` when the network has no CBAM."""
    gates = {}
    for stage in STAGES:
        module = getattr(net, stage, None)  # timm backbones name their stages otherwise (and have no CBAM)
        found = [m for m in module.modules() if isinstance(m, SpatialGate)] if module is not None else []
        if found:
            gates[stage] = found[-1]
    maps: dict[str, np.ndarray] = {}

    def record(stage: str):
        def hook(gate: SpatialGate, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            maps[stage] = gate.attention(inputs[0])[:, 0].float().cpu().numpy()

        return hook

    handles = [gate.register_forward_hook(record(stage)) for stage, gate in gates.items()]
    try:
        with torch.no_grad():
            net(images)
    finally:
        for handle in handles:
            handle.remove()
    return maps


def explain(net: nn.Module, images: torch.Tensor, targets: Sequence[int]) -> list[Explanation]:
    """Grad-CAM and (for CBAM networks) spatial attention for each normalised image of the batch."""
    cams = gradcam(net, images, targets)
    attention = spatial_attention(net, images)
    return [Explanation(cams[i], {stage: m[i] for stage, m in attention.items()}) for i in range(len(cams))]


def gradcam_overlay(rgb: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The H×W×3 uint8 image with the Grad-CAM map laid over it as a heat map."""
    return import_grad_cam().utils.image.show_cam_on_image(rgb.astype(np.float32) / 255, cam, use_rgb=True)


def save_attention_figure(path: Path, rgb: np.ndarray, attention: dict[str, np.ndarray]) -> None:
    """One panel per stage: the attention map (absolute scale 0-1) stretched over the image."""
    fig = Figure(figsize=(3 * len(attention), 3.4), layout="constrained")
    height, width = rgb.shape[:2]
    axes = fig.subplots(1, len(attention), squeeze=False)[0]
    for ax, (stage, amap) in zip(axes, attention.items(), strict=True):
        ax.imshow(rgb)
        shown = ax.imshow(amap, cmap="jet", alpha=0.5, vmin=0, vmax=1, extent=(0, width, height, 0))
        ax.set_title(f"{stage} ({amap.shape[0]}×{amap.shape[1]})")
        ax.axis("off")
    fig.colorbar(shown, ax=axes.tolist(), shrink=0.8)
    fig.savefig(path, dpi=100)


def write_explanations(
    net: nn.Module, images: torch.Tensor, rgb: torch.Tensor, targets: Sequence[int], stems: Sequence[Path]
) -> list[Path]:
    """Write ``<stem>.gradcam.png`` (and ``<stem>.attention.png`` for CBAM) per image; return the files.

    ``images`` is the normalised batch the network sees, ``rgb`` the same batch as uint8 NCHW.
    """
    written = []
    pixels = rgb.permute(0, 2, 3, 1).cpu().numpy()
    for explanation, image, stem in zip(explain(net, images, targets), pixels, stems, strict=True):
        stem.parent.mkdir(parents=True, exist_ok=True)
        cam_path = stem.with_name(stem.name + ".gradcam.png")
        Image.fromarray(gradcam_overlay(image, explanation.gradcam)).save(cam_path)
        written.append(cam_path)
        if explanation.attention:
            attention_path = stem.with_name(stem.name + ".attention.png")
            save_attention_figure(attention_path, image, explanation.attention)
            written.append(attention_path)
    return written
