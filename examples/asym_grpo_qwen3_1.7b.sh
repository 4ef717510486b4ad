#!/usr/bin/env bash
# Peer: AsymGRPO on Qwen3-1.7B, same data, budget and evaluation as DSDR.
#
#   MODEL_PATH=/models/Qwen3-1.7B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/asym_grpo_qwen3_1.7b.sh [extra Hydra overrides]
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

# ---- Method: AsymGRPO peer (separate exponents for correct and incorrect advantages) ----
BETA_POS=0.9                 # +((1-p)/p)^beta_pos for correct rollouts
BETA_NEG=0.4                 # -(p/(1-p))^beta_neg for incorrect rollouts
CLIP_RATIO_LOW=0.2           # same clip as DSDR, so only the advantage shaping differs
CLIP_RATIO_HIGH=0.28
METHOD_ARGS=(
  algorithm.adv_estimator=asym_grpo
  "algorithm.asym_grpo.beta_pos=$BETA_POS"
  "algorithm.asym_grpo.beta_neg=$BETA_NEG"
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
)

launch "$@"
