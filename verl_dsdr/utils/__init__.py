"""Small shared helpers (no verl or ray imports)."""
