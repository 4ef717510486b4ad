"""Names and sizes of the CPU rollout backend, importable without verl or ray."""

ROLLOUT_NAME = "hf_cpu"
ADAPTER_FQN = "verl_dsdr.cpu.rollout.HFServerAdapter"
SERVER_CPUS = 1  # logical CPUs each hf_cpu rollout server holds (verl_dsdr.cpu.resources counts them)
