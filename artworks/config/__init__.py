"""Configs: where they live, the resolvers they use, and the checks run before anything starts."""

from artworks.config.compose import compose_job
from artworks.config.location import config_dir
from artworks.config.resolvers import model_tags, register_resolvers, wandb_mode

__all__ = ["compose_job", "config_dir", "model_tags", "register_resolvers", "wandb_mode"]
