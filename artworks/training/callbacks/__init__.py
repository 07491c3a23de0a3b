"""Lightning callbacks of a training run (see ``conf/callbacks/default.yaml``).

Safe to interrupt and resume: atomic checkpoints, the NaN/inf guard, RNG state. Evidence for later
comparison: the per-epoch history and the training throughput.
"""

from artworks.training.callbacks.atomic_checkpoint import AtomicCheckpointing, AtomicCheckpointIO
from artworks.training.callbacks.finite_loss import StopOnNonFiniteLoss
from artworks.training.callbacks.history import EpochHistory
from artworks.training.callbacks.rng_state import RNGState
from artworks.training.callbacks.step_checkpoint import StepCheckpoint
from artworks.training.callbacks.throughput import TrainThroughput

__all__ = [
    "AtomicCheckpointIO",
    "AtomicCheckpointing",
    "EpochHistory",
    "RNGState",
    "StepCheckpoint",
    "StopOnNonFiniteLoss",
    "TrainThroughput",
]
