"""Per-trajectory scoring placeholder during development."""
