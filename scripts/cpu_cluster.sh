#!/usr/bin/env bash
# A local Ray cluster of two nodes on this machine, each with its own logical GPU, for CPU runs
# across nodes (a debugging stand-in for a real cluster; verl_dsdr/cpu/local_cluster.py):
#   eval "$(bash scripts/cpu_cluster.sh up)"     # start; prints the variables a run needs
#   bash scripts/cpu_cluster.sh status           # nodes, and the actors that ran on each
#   bash scripts/cpu_cluster.sh down             # stop this cluster's processes only
# A run joins it with
#   +ray_kwargs.ray_init.address=$VERL_DSDR_CLUSTER_ADDRESS trainer.nnodes=2 trainer.n_gpus_per_node=1
# Loopback only, token authentication on; one short folder holds everything
# (VERL_DSDR_CLUSTER_DIR, default /tmp/vdsdr_cluster_<uid>). `--nodes N` starts N nodes.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
[ $# -ge 1 ] || { echo "usage: bash scripts/cpu_cluster.sh up|down|env|status [--dir D] [--nodes N]" >&2; exit 2; }
exec "$PYTHON" -m verl_dsdr.cpu.local_cluster "$@"
