#!/usr/bin/env bash
# Peer: SetPO on Qwen3-1.7B, same data, budget and evaluation as DSDR.
#
#   MODEL_PATH=/models/Qwen3-1.7B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/setpo_qwen3_1.7b.sh [extra Hydra overrides]
#
# Shared settings (data, batch sizes, lr, validation, choices the paper leaves open): lib/common.sh.
# Multi-node: start Ray on every node first, then run this on the head with NNODES=<nodes> (README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# ---- Model: Qwen3-1.7B ----
MAX_RESPONSE_LENGTH=8192     # paper: 8192 for Qwen3
ENABLE_THINKING=false        # Qwen3 chat template: non-thinking mode (a choice; eval uses the same)
MODEL_ARGS=(
  "+data.apply_chat_template_kwargs.enable_thinking=$ENABLE_THINKING"
)

# ---- Method: SetPO peer (A_i + lambda * s_i, on the same pipeline) ----
SETPO_LAMBDA=1.0             # weight of the set-diversity contribution s_i (verl-dsdr's default)
SETPO_CORRECT_ONLY=false     # all rollouts get s_i
CLIP_RATIO_LOW=0.2           # same clip as DSDR, so only the diversity mechanism differs
CLIP_RATIO_HIGH=0.28
METHOD_ARGS=(
  algorithm.adv_estimator=setpo
  "algorithm.setpo.lambda_=$SETPO_LAMBDA"
  "algorithm.setpo.correct_only=$SETPO_CORRECT_ONLY"
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
)

launch "$@"
