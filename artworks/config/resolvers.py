"""The resolvers the configs use (``${wandb_mode:}``, ``${model_tags:...}``, ``${slurm_gpus:...}``, the resume
folders), registered in one place: :func:`register_resolvers`, called by the command wrapper
(``artworks.runtime.command``); code that composes configs itself (tests, notebooks) calls it first."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from artworks.runtime.wandb_run import wandb_mode


def model_tags(model: DictConfig | None) -> list[str]:
    """Tags telling the experiments apart: name, backbone, starting weights, frozen stages, modifications.

    ``None`` (a command without a ``model`` config, e.g. ``evaluate``, which tags its run itself): none.
    """
    if model is None:
        return []
    net = model.net
    tags = [str(model.experiment), str(net.arch), f"init:{net.weights or 'random'}"]
    tags.append("frozen:" + ("+".join(net.freeze) if net.freeze else "none"))
    mods = [str(net.activation)] if net.activation != "relu" else []
    mods += ["depthwise"] if net.depthwise else []
    mods += [str(net.attention)] if net.attention != "none" else []
    if mods:
        tags.append("mods:" + "+".join(mods))
    return tags


GPU_ACCELERATORS = {"gpu", "cuda", "auto"}  # auto: Lightning takes the GPUs when the node has them


def slurm_gpus(accelerator: str, devices: Any) -> int | None:
    """GPUs per node to ask SLURM for: ``trainer.devices`` on a GPU trainer, none on a CPU one.

    ``None`` leaves ``--gpus-per-node`` out of the job script: any GPU request, even of 0, names a generic
    resource that a CPU-only cluster refuses ("Invalid generic resource (gres) specification"). A device
    count that is not a number (``auto``, ``-1``: all the node has) also leaves the choice to the cluster.
    """
    if str(accelerator) not in GPU_ACCELERATORS:
        return None
    if isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices):
        return len(devices)
    if isinstance(devices, int) and devices > 0:
        return devices
    return None


def resume_run_dir(default: str, *, _root_: DictConfig) -> str:
    """``hydra.run.dir``: ``default``, or the folder of the run ``resume`` continues (training.resume)."""
    from artworks.training import resume  # noqa: PLC0415 (it imports Lightning: commands start faster)

    return resume.resume_run_dir(default, _root_=_root_)


def resume_sweep_dir(default: str, *, _root_: DictConfig) -> str:
    """``hydra.sweep.dir``: ``default``, or the sweep ``resume=auto`` continues (training.resume)."""
    from artworks.training import resume  # noqa: PLC0415

    return resume.resume_sweep_dir(default, _root_=_root_)


def scaled_size(size: int, factor: float) -> int:
    """``size x factor`` rounded to a multiple of 8, e.g. a cache with room for crops: 224 x 1.15 -> 256."""
    return max(8, round(size * factor / 8) * 8)


def register_resolvers() -> None:
    """Register every resolver the configs use; safe to call more than once."""
    resolvers = {
        "wandb_mode": wandb_mode,
        "model_tags": model_tags,
        "slurm_gpus": slurm_gpus,
        "scaled_size": scaled_size,  # data.cache_image_size of recipe=modern (conf/recipe/modern.yaml)
        "resume_run_dir": resume_run_dir,  # hydra.run.dir / hydra.sweep.dir (conf/hydra/default.yaml)
        "resume_sweep_dir": resume_sweep_dir,
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


# Also at import, not only in the command wrapper: a SLURM job (submitit) unpickles the task in a fresh
# interpreter that never ran the wrapper, and in-process callers (tests, notebooks) compose configs directly.
register_resolvers()
