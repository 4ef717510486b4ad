"""Hydra configs: dsdr_ppo.yaml (the entry config) and preset/ (cpu, none)."""
