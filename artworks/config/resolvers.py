"""The resolvers the configs use (``${wandb_mode:}``, ``${model_tags:...}``, the resume folders)."""

from __future__ import annotations

import netrc
import os

from omegaconf import DictConfig, OmegaConf


def wandb_mode() -> str:
    """``online`` when W&B credentials are present, else ``offline``; ``WANDB_MODE`` wins if set.

    Only checks that a key exists; the key itself is never read into the config or printed.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        auth = netrc.netrc().authenticators("api.wandb.ai")
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        auth = None
    return "online" if auth else "offline"


def model_tags(model: DictConfig) -> list[str]:
    """Tags telling the experiments apart: name, backbone, starting weights, frozen stages, modifications."""
    net = model.net
    tags = [str(model.experiment), str(net.arch), f"init:{net.weights or 'random'}"]
    tags.append("frozen:" + ("+".join(net.freeze) if net.freeze else "none"))
    mods = [str(net.activation)] if net.activation != "relu" else []
    mods += ["depthwise"] if net.depthwise else []
    mods += [str(net.attention)] if net.attention != "none" else []
    if mods:
        tags.append("mods:" + "+".join(mods))
    return tags


def register_resolvers() -> None:
    """Register ``${wandb_mode:}`` and ``${model_tags:...}``, used by ``conf/logger/wandb.yaml``."""
    if not OmegaConf.has_resolver("wandb_mode"):
        OmegaConf.register_new_resolver("wandb_mode", wandb_mode)
    if not OmegaConf.has_resolver("model_tags"):
        OmegaConf.register_new_resolver("model_tags", model_tags)
    from artworks.training.resume import register_resolvers as register_resume_resolvers  # noqa: PLC0415 (import cycle)

    register_resume_resolvers()


register_resolvers()
