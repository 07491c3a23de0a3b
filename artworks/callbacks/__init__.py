"""Lightning callbacks that keep a run safe to interrupt and resume (see ``conf/callbacks/default.yaml``)."""

from artworks.callbacks.atomic_checkpoint import AtomicCheckpointing, AtomicCheckpointIO
from artworks.callbacks.finite_loss import StopOnNonFiniteLoss
from artworks.callbacks.rng_state import RNGState

__all__ = ["AtomicCheckpointIO", "AtomicCheckpointing", "RNGState", "StopOnNonFiniteLoss"]
