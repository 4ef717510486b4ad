#!/usr/bin/env bash
# Table 1: DSDR on Qwen2.5-Math-1.5B (lambda_d = lambda_l = 0.001, tau = 5, clip 0.2/0.28).
#
#   MODEL_PATH=/models/Qwen2.5-Math-1.5B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/dsdr_qwen2.5_math_1.5b.sh [extra Hydra overrides]
#
# Shared settings (data, batch sizes, lr, validation, choices the paper leaves open): lib/common.sh.
# Multi-node: start Ray on every node first, then run this on the head with NNODES=<nodes> (README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# ---- Model: Qwen2.5-Math-1.5B ----
MAX_RESPONSE_LENGTH=4096     # paper: 4096 for Qwen2.5-Math-1.5B
# Its config.json declares 4096 positions; prompt + response is longer, which vLLM refuses unless
# VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 is set in every worker.
MODEL_ARGS=(
  "+ray_kwargs.ray_init.runtime_env.env_vars.VLLM_ALLOW_LONG_MAX_MODEL_LEN='1'"
)

# ---- Method: DSDR, the paper's best setting ----
LAMBDA_D=0.001               # Eq. 10: weight of the correct-only global diversity bonus
LAMBDA_L=0.001               # Eq. 16: weight of the local (token-entropy) term
TAU=5.0                      # Eq. 11: coupling temperature (multiplies d)
COUPLING=softmax             # Eq. 11 softmax weights; uniform = w/o GC (Sec. 4.3)
CLIP_RATIO_LOW=0.2
CLIP_RATIO_HIGH=0.28
METHOD_ARGS=(
  algorithm.adv_estimator=dsdr
  "algorithm.dsdr.lambda_d=$LAMBDA_D"
  "algorithm.dsdr.lambda_l=$LAMBDA_L"
  "algorithm.dsdr.tau=$TAU"
  "algorithm.dsdr.coupling=$COUPLING"
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
)

launch "$@"
