"""Training: the LightningModule, on-device preprocessing, the train task, checkpoints, resume, callbacks."""
