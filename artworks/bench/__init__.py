"""Benchmarks that print figures: ``python -m artworks.bench data|train``."""
