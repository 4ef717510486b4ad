"""Hydra configs: dsdr_ppo.yaml (the entry config) and preset/ (cpu, none); hf_cpu.py types the hf_cpu rollout's keys."""
