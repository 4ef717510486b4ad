#!/usr/bin/env bash
# Laptop-scale reproduction of DSDR's comparison on the embedded toy task, with verl's real PPO
# trainer on CPU: GRPO, DAPO and DSDR (DSDR w/o GD and w/o GC on request) from the same warm start,
# several seeds each; every final policy is evaluated (pass@k, accuracy, diversity of correct answers) and
# runs/toy/report.md gets the tables and figures (docs/TOY_REPRODUCTION.md explains them).
#
#   bash scripts/reproduce_toy.sh                      # GRPO, DAPO, DSDR x 3 seeds (see docs/TOY_REPRODUCTION.md)
#   SEEDS=1 bash scripts/reproduce_toy.sh              # fewer seeds (or --seeds 1)
#   bash scripts/reproduce_toy.sh --first-seed 10 --out runs/toy_s10   # seeds 10, 11, 12
#   bash scripts/reproduce_toy.sh --methods grpo,dapo,dsdr,dsdr_wo_gd,dsdr_wo_gc --out runs/toy_all  # + ablations
#   bash scripts/reproduce_toy.sh --methods grpo,dsdr  # a subset of methods
#   bash scripts/reproduce_toy.sh --smoke --methods grpo,dsdr    # CI: 1 seed, 2 steps, into runs/toy_smoke
#   bash scripts/reproduce_toy.sh -- actor_rollout_ref.actor.optim.lr=1e-3   # extra verl overrides for every run
#
# Interrupted (Ctrl-C or SIGTERM: the running run's processes are stopped, exit 130 / 143)? Run the
# same command again: finished (method, seed) runs are skipped (each leaves
# runs/toy/runs/<method>/seed<k>/DONE) and a half-finished one is restarted from the warm start.
# A folder trained with a different plan is refused: use another --out.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
INTERRUPTED="[verl-dsdr] interrupted before training started"
stop_on_signals
START=$SECONDS
ensure_venv

OUT=""
SMOKE=0
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
  case "${ARGS[$i]}" in
    --) break ;;
    --smoke) SMOKE=1 ;;
    --out) OUT="${ARGS[$((i + 1))]:?--out needs a folder}" ;;
    --out=*) OUT="${ARGS[$i]#--out=}" ;;
  esac
done
if [ -z "$OUT" ]; then
  if [ "$SMOKE" = 1 ]; then OUT="runs/toy_smoke"; else OUT="runs/toy"; fi
fi

PRESET=toy
if [ "$SMOKE" = 1 ]; then PRESET=toy_smoke; fi
echo "[verl-dsdr] building the toy's warm start (cached after the first run; a few minutes the first time)"
"$PYTHON" -m verl_dsdr.assets build --preset "$PRESET"

echo "[verl-dsdr] training and evaluating (results in $OUT)"
export VERL_DSDR_TOY_COMMAND="bash scripts/reproduce_toy.sh${*:+ $*}"  # recorded in provenance.json
INTERRUPTED=""  # the toy says it was interrupted, where the logs are and how to resume
interruptible "$PYTHON" -m verl_dsdr.toy run --out "$OUT" "$@"
INTERRUPTED="[verl-dsdr] interrupted while writing the report; run the same command again to finish it"
interruptible "$PYTHON" -m verl_dsdr.toy report --out "$OUT" --wall-s "$((SECONDS - START))"
echo "[verl-dsdr] done in $(((SECONDS - START) / 60)) min $(((SECONDS - START) % 60)) s: $OUT/report.md"
