"""Names of the CPU rollout backend, importable without verl or ray."""

ROLLOUT_NAME = "hf_cpu"
ADAPTER_FQN = "verl_dsdr.cpu.rollout.HFServerAdapter"
