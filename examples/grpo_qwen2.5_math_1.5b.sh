#!/usr/bin/env bash
# Table 1 baseline: GRPO on Qwen2.5-Math-1.5B (clip 0.2/0.2), same data and budget as DSDR.
#
#   MODEL_PATH=/models/Qwen2.5-Math-1.5B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/grpo_qwen2.5_math_1.5b.sh [extra Hydra overrides]
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

# ---- Method: GRPO baseline (symmetric clip, as in the paper) ----
CLIP_RATIO_LOW=0.2
CLIP_RATIO_HIGH=0.2
METHOD_ARGS=(
  algorithm.adv_estimator=grpo
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
)

launch "$@"
