"""Why did the model pick that artist? Grad-CAM for the predicted class, and CBAM's spatial attention.

Grad-CAM comes from the maintained ``grad-cam`` package (``pytorch_grad_cam``) on the last Bottleneck of
``layer4``. For networks with CBAM (``model.net.attention=cbam``) forward hooks on each stage's last
``SpatialGate`` also record the attention map it multiplied the features by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from artworks.models.cbam import SpatialGate

STAGES = ("layer1", "layer2", "layer3", "layer4")


@dataclass
class Explanation:
    gradcam: np.ndarray  # H×W in [0, 1] at the input's size, for the target class
    attention: dict[str, np.ndarray]  # stage -> h×w spatial attention in (0, 1); empty without CBAM


def gradcam(
    net: nn.Module, images: torch.Tensor, targets: Sequence[int], target_layer: nn.Module | None = None
) -> np.ndarray:
    """Grad-CAM maps (N×H×W, each scaled to [0, 1]) of class ``targets[i]`` for normalised image ``i``.

    ``target_layer`` defaults to ``net.layer4[-1]``. Gradients flow from the input, so networks with frozen
    stages are explained too.
    """
    layer = target_layer if target_layer is not None else net.layer4[-1]
    # an input that requires grad makes the target layer's output require it even when every stage is frozen
    leaf = images.detach().requires_grad_(True)
    with torch.enable_grad(), GradCAM(model=net, target_layers=[layer]) as cam:
        maps = cam(input_tensor=leaf, targets=[ClassifierOutputTarget(int(t)) for t in targets])
    net.zero_grad(set_to_none=True)
    return maps


def spatial_attention(net: nn.Module, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Per stage, the N×h×w map of its last CBAM spatial gate; ``{}`` when the network has no CBAM."""
    gates = {}
    for stage in STAGES:
        found = [m for m in getattr(net, stage).modules() if isinstance(m, SpatialGate)]
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
    return show_cam_on_image(rgb.astype(np.float32) / 255, cam, use_rgb=True)


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
