# shellcheck shell=bash
# Settings shared by every run of the paper's Table 1 (DSDR, Sec. 4.1 and Appendix A), sourced by
# examples/*.sh. A run script sets its model block (MAX_RESPONSE_LENGTH, MODEL_ARGS) and its method
# block (METHOD_ARGS), then calls `launch "$@"`. Everything else is here, so methods differ only in
# their method block and compare on the same data, budget and evaluation.
#
# From the paper: verl; DAPO-Math-17K (deduplicated); train batch 256 prompts; 8 rollouts per prompt;
# PPO mini-batch 16 (prompts, verl's unit); lr 1e-6; rollout temperature 1.0; clip (0.2, 0.28) for
# DSDR and DAPO, (0.2, 0.2) for GRPO (set in each method block); max response 4096 for
# Qwen2.5-Math-1.5B and 8192 for Qwen3 (model block); Avg@16 = 16 samples at temperature 0.7,
# top_p 0.9.
#
# Choices the paper leaves open (docs/REPRODUCE.md explains each):
#   - KL: none (actor.use_kl_loss=false, algorithm.use_kl_in_reward=false), so no reference model.
#   - Entropy bonus: none (actor.entropy_coeff=0); DSDR's local term is its own (Eq. 16).
#   - Loss aggregation: token-mean for every method (verl's default, DAPO's token-level loss).
#   - Total steps: 120 (the paper's figures run ~100-120 steps), about 1.8 epochs of the 17.4k
#     deduplicated problems at 256 prompts per step.
#   - Optimizer: verl's defaults besides lr (AdamW, weight decay 0.01, grad clip 1.0, no warm-up,
#     constant lr), the same for every method.
#   - Dynamic sampling (algorithm.filter_groups) and the overlong penalty: off here; the DAPO
#     scripts switch both on in their method block (DAPO's recipe), nothing else does.
#   - Prompts: at most 2048 tokens; longer ones are dropped (filter_overlong_prompts, training and
#     validation files alike; the problems are far shorter).
#   - Reward: the project's verifier (1 correct / 0 wrong) for every method; Qwen3 in non-thinking
#     chat mode (set in the model block; evaluation uses the same template).
#   - Validation during training: verl's own, on the five benchmarks, with the paper's Avg@16
#     sampling, before training and every 20 steps; val-core/<benchmark>/acc/mean@16 is Avg@16.
#   - Checkpoints every 20 steps, the last 2 kept (each holds the optimizer state).
#   - Memory knobs (dynamic micro-batches of at most one full-length sequence per GPU for the
#     update, two for log-probs; vLLM at 60% of GPU memory, tensor parallel 1) are a starting point
#     for 8 x 80 GB GPUs, not a measured optimum; they do not change the algorithm.
#
# Environment:
#   MODEL_PATH      local Hugging Face model folder (or a hub id when the nodes are online)
#   TRAIN_FILE      training parquet (python -m verl_dsdr.data dapo_math_17k ... -> train.parquet)
#   VAL_FILES       comma-separated benchmark parquets (aime24,aime25,math500,minerva,olympiadbench)
#   CKPT_DIR        where runs go: $CKPT_DIR/$EXPERIMENT/{global_step_*,metrics.jsonl,hydra/}
#   NNODES          nodes of the Ray cluster (default 1; >1: start Ray first, see examples/README.md)
#   GPUS_PER_NODE   GPUs per node (default 8)
#   EXPERIMENT      run name (default: the script's name)
#   PYTHON          interpreter (default python3)
#   LOGGERS         verl trackers, comma-separated (default console,file; add wandb if configured)
#   VERL_DSDR_DRY_RUN=1  print the final override list, one per line, and exit without training
#   VERL_DSDR_CPU_SMOKE=1  run this script's own overrides on CPU for 2 steps, with validation and one
#                   checkpoint save, before a cluster run (lib/smoke.sh: what is swapped and why)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "examples/lib/common.sh is sourced by the scripts in examples/, not run" >&2
  exit 2
fi

set -euo pipefail
shopt -s inherit_errexit   # a failed check inside $(...) stops the script too

source "$(dirname "${BASH_SOURCE[0]}")/smoke.sh"

# ---- The paper's shared hyperparameters ----
TRAIN_BATCH_SIZE=256          # prompts per training step
ROLLOUT_N=8                   # rollouts per prompt (the group size G)
PPO_MINI_BATCH_SIZE=16        # prompts per PPO mini-batch (x ROLLOUT_N responses): 16 updates per step
LEARNING_RATE=1e-6
ROLLOUT_TEMPERATURE=1.0
ROLLOUT_TOP_P=1.0
VAL_N=16                      # Avg@16
VAL_TEMPERATURE=0.7
VAL_TOP_P=0.9

# ---- Choices (see the header and docs/REPRODUCE.md) ----
TOTAL_TRAINING_STEPS=120
TOTAL_EPOCHS=100              # an upper bound only: TOTAL_TRAINING_STEPS ends the run
MAX_PROMPT_LENGTH=2048
LOSS_AGG_MODE=token-mean
ENTROPY_COEFF=0
USE_KL_LOSS=false
USE_KL_IN_REWARD=false
SAVE_FREQ=20
TEST_FREQ=20
VAL_BEFORE_TRAIN=true
MAX_ACTOR_CKPT_TO_KEEP=2
ROLLOUT_GPU_MEMORY_UTILIZATION=0.6
ROLLOUT_TENSOR_PARALLEL_SIZE=1
PROJECT_NAME=verl_dsdr_table1

die() {
  echo "[verl-dsdr] error: $*" >&2
  exit 2
}

# require_env NAME HINT: the variable must be set and non-empty.
require_env() {
  local name="$1" hint="$2"
  if [[ -z "${!name:-}" ]]; then
    die "$name is not set: $hint"
  fi
}

# hydra_string VALUE: VALUE as a quoted Hydra string, so paths with '=', ',' or ':' stay one value.
hydra_string() {
  local value="$1"
  [[ "$value" != *"'"* ]] || die "path '$value' contains a single quote, which Hydra overrides cannot carry: rename it"
  printf "'%s'" "$value"
}

# absolute PATH: PATH made absolute against the current folder (Ray workers do not share it).
absolute() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$PWD" "${1#./}" ;;
  esac
}

# require_file NAME PATH HINT: a data file named by environment variable NAME must exist.
require_file() {
  local name="$1" path="$2" hint="$3"
  [[ -f "$path" ]] || die "$name names '$path', which is not a file: $hint"
}

# val_files_list: VAL_FILES (comma-separated) as a Hydra list of quoted paths; every file must exist.
val_files_list() {
  local -a files=()
  local file quoted_file items=()
  IFS=',' read -r -a files <<<"$VAL_FILES"
  for file in "${files[@]}"; do
    file="${file#"${file%%[![:space:]]*}"}"
    file="${file%"${file##*[![:space:]]}"}"
    [[ -n "$file" ]] || continue
    require_file VAL_FILES "$file" "prepare each benchmark with 'python -m verl_dsdr.data <benchmark> --input ... --out DIR'"
    quoted_file="$(hydra_string "$(absolute "$file")")" || exit 2
    items+=("$quoted_file")
  done
  [[ "${#items[@]}" -gt 0 ]] || die "VAL_FILES='$VAL_FILES' names no file: give a comma-separated list of benchmark parquets"
  local joined
  joined="$(IFS=','; echo "${items[*]}")"
  printf '[%s]' "$joined"
}

# shared_args: the overrides every run shares; needs the run script's model block.
shared_args() {
  local total_length=$((MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH))
  local -a loggers=()
  local logger quoted=()
  IFS=',' read -r -a loggers <<<"${LOGGERS:-console,file}"
  for logger in "${loggers[@]}"; do quoted+=("'$logger'"); done
  local logger_list train_file val_files model_path run_dir hydra_dir
  logger_list="$(IFS=','; echo "${quoted[*]}")"
  # Each value is computed before the array so that set -e stops on a bad path.
  train_file="$(hydra_string "$(absolute "$TRAIN_FILE")")"
  val_files="$(val_files_list)"
  model_path="$(hydra_string "$MODEL_PATH")"
  run_dir="$(hydra_string "$RUN_DIR")"
  hydra_dir="$(hydra_string "$RUN_DIR/hydra/$(date +%Y%m%d-%H%M%S)")"
  SHARED_ARGS=(
    # data
    "data.train_files=$train_file"
    "data.val_files=$val_files"
    "data.train_batch_size=$TRAIN_BATCH_SIZE"
    "data.max_prompt_length=$MAX_PROMPT_LENGTH"
    "data.max_response_length=$MAX_RESPONSE_LENGTH"
    "data.filter_overlong_prompts=true"
    "data.truncation=error"
    "data.shuffle=true"
    # model
    "actor_rollout_ref.model.path=$model_path"
    "actor_rollout_ref.model.use_remove_padding=true"
    "actor_rollout_ref.model.enable_gradient_checkpointing=true"
    # actor update
    "actor_rollout_ref.actor.optim.lr=$LEARNING_RATE"
    "actor_rollout_ref.actor.ppo_mini_batch_size=$PPO_MINI_BATCH_SIZE"
    "actor_rollout_ref.actor.use_dynamic_bsz=true"
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$total_length"
    "actor_rollout_ref.actor.loss_agg_mode=$LOSS_AGG_MODE"
    "actor_rollout_ref.actor.entropy_coeff=$ENTROPY_COEFF"
    "actor_rollout_ref.actor.use_kl_loss=$USE_KL_LOSS"
    "algorithm.use_kl_in_reward=$USE_KL_IN_REWARD"
    # rollout (training)
    "actor_rollout_ref.rollout.name=vllm"
    "actor_rollout_ref.rollout.mode=async"
    "actor_rollout_ref.rollout.n=$ROLLOUT_N"
    "actor_rollout_ref.rollout.temperature=$ROLLOUT_TEMPERATURE"
    "actor_rollout_ref.rollout.top_p=$ROLLOUT_TOP_P"
    "actor_rollout_ref.rollout.top_k=-1"
    "actor_rollout_ref.rollout.tensor_model_parallel_size=$ROLLOUT_TENSOR_PARALLEL_SIZE"
    "actor_rollout_ref.rollout.gpu_memory_utilization=$ROLLOUT_GPU_MEMORY_UTILIZATION"
    "actor_rollout_ref.rollout.max_model_len=$total_length"
    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=$((2 * total_length))"
    # validation: the paper's Avg@16 sampling
    "actor_rollout_ref.rollout.val_kwargs.n=$VAL_N"
    "actor_rollout_ref.rollout.val_kwargs.temperature=$VAL_TEMPERATURE"
    "actor_rollout_ref.rollout.val_kwargs.top_p=$VAL_TOP_P"
    "actor_rollout_ref.rollout.val_kwargs.top_k=-1"
    "actor_rollout_ref.rollout.val_kwargs.do_sample=true"
    # trainer
    "trainer.nnodes=$NNODES"
    "trainer.n_gpus_per_node=$GPUS_PER_NODE"
    "trainer.total_training_steps=$TOTAL_TRAINING_STEPS"
    "trainer.total_epochs=$TOTAL_EPOCHS"
    "trainer.save_freq=$SAVE_FREQ"
    "trainer.test_freq=$TEST_FREQ"
    "trainer.val_before_train=$VAL_BEFORE_TRAIN"
    "trainer.max_actor_ckpt_to_keep=$MAX_ACTOR_CKPT_TO_KEEP"
    "trainer.resume_mode=auto"
    "trainer.project_name=$PROJECT_NAME"
    "trainer.experiment_name=$EXPERIMENT"
    "trainer.default_local_dir=$run_dir"
    "trainer.logger=[$logger_list]"
    "hydra.run.dir=$hydra_dir"
  )
}

# launch "$@": check the environment, assemble the overrides (shared, model, method, then the
# caller's, which win) and start python -m verl_dsdr.main_ppo (or print them: VERL_DSDR_DRY_RUN=1).
launch() {
  if smoke_requested; then smoke_environment; fi
  require_env MODEL_PATH "point it at the model folder, e.g. MODEL_PATH=/models/Qwen3-1.7B"
  require_env TRAIN_FILE "prepare it with 'python -m verl_dsdr.data dapo_math_17k --input ... --out DIR' and set TRAIN_FILE=DIR/train.parquet"
  require_env VAL_FILES "set VAL_FILES=DIR/aime24.parquet,DIR/aime25.parquet,DIR/math500.parquet,DIR/minerva.parquet,DIR/olympiadbench.parquet"
  require_env CKPT_DIR "set CKPT_DIR to a folder with room for checkpoints (tens of GB per run)"
  require_file TRAIN_FILE "$TRAIN_FILE" "prepare it with 'python -m verl_dsdr.data dapo_math_17k --input ... --out DIR'"
  : "${MAX_RESPONSE_LENGTH:?the run script must set MAX_RESPONSE_LENGTH in its model block}"
  [[ "${METHOD_ARGS+set}" == set ]] || die "the run script must set METHOD_ARGS in its method block"
  [[ "${MODEL_ARGS+set}" == set ]] || MODEL_ARGS=()

  # Local paths become absolute; a MODEL_PATH that is not a local path (a hub id) is kept as given.
  if [[ -e "$MODEL_PATH" ]]; then MODEL_PATH="$(absolute "$MODEL_PATH")"; fi
  CKPT_DIR="$(absolute "$CKPT_DIR")"

  NNODES="${NNODES:-1}"
  GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
  [[ "$NNODES" =~ ^[1-9][0-9]*$ ]] || die "NNODES='$NNODES' must be a positive integer"
  [[ "$GPUS_PER_NODE" =~ ^[1-9][0-9]*$ ]] || die "GPUS_PER_NODE='$GPUS_PER_NODE' must be a positive integer"
  EXPERIMENT="${EXPERIMENT:-$(basename "${BASH_SOURCE[1]}" .sh)}"
  [[ "$EXPERIMENT" =~ ^[A-Za-z0-9._-]+$ ]] || die "EXPERIMENT='$EXPERIMENT' may hold only letters, digits, '.', '_' and '-'"
  RUN_DIR="${CKPT_DIR%/}/$EXPERIMENT"

  shared_args
  local -a args=("${SHARED_ARGS[@]}" "${MODEL_ARGS[@]}" "${METHOD_ARGS[@]}")
  if smoke_requested; then
    smoke_overrides "${args[@]}"
    args=("${SMOKE_ARGS[@]}")
  fi
  args+=("$@")

  if [[ "${VERL_DSDR_DRY_RUN:-0}" == 1 ]]; then
    printf '%s\n' "${args[@]}"
    exit 0
  fi

  mkdir -p "$RUN_DIR"
  # verl's file logger truncates its file: keep an earlier attempt's metrics when resuming.
  if [[ -s "$RUN_DIR/metrics.jsonl" ]]; then
    mv "$RUN_DIR/metrics.jsonl" "$RUN_DIR/metrics.until-$(date +%Y%m%d-%H%M%S).jsonl"
  fi
  if smoke_requested; then smoke_run "${args[@]}"; fi
  export VERL_FILE_LOGGER_PATH="$RUN_DIR/metrics.jsonl"
  export TOKENIZERS_PARALLELISM=false
  echo "[verl-dsdr] $EXPERIMENT on $NNODES node(s) x $GPUS_PER_NODE GPU(s); run folder $RUN_DIR"
  exec "${PYTHON:-python3}" -m verl_dsdr.main_ppo "${args[@]}"
}
