"""What every command runs inside: DDP process handling, the sweep's summary and failures, W&B, provenance."""
