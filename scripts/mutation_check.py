"""Mutation check of the verl glue: apply plausible bugs one at a time and see whether the fast tests catch them.

Each mutation replaces one exact snippet in one file of a scratch copy of the package (the
working tree is never touched) and runs the fast test files that guard that code. A mutation
is "killed" when those tests fail. Not part of the test suite (it runs the suite's files many
times); run it after changing the glue:

    python scripts/mutation_check.py                 # all mutations, table on stdout
    python scripts/mutation_check.py --only coef     # mutations whose name contains "coef"
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository
    old: str  # exact text, must occur once
    new: str
    tests: tuple[str, ...]


LOSS, TRAINER, PRIVATE = (
    "verl_dsdr/methods/dsdr.py",
    "verl_dsdr/glue/group_trainer.py",
    "verl_dsdr/glue/verl_private.py",
)
T_LOSS, T_TRAINER, T_EST, T_STATS = (
    "tests/glue/test_loss.py",
    "tests/glue/test_group_trainer.py",
    "tests/glue/test_estimators.py",
    "tests/glue/test_group_stats.py",
)

MUTATIONS = [
    Mutation(
        "local term ignores dp_size",
        LOSS,
        "**config.global_batch_info\n",
        '**{**config.global_batch_info, "dp_size": 1}\n',
        (T_LOSS,),
    ),
    Mutation(
        "full estimator sign flipped",
        LOSS,
        'return no_padding_2_padding(model_output["entropy"], data), mask',
        'return -no_padding_2_padding(model_output["entropy"], data), mask',
        (T_LOSS,),
    ),
    Mutation(
        "detach_ratio ignored",
        LOSS,
        "local_entropy_tokens(log_prob, old_log_prob, settings.detach_ratio)",
        "local_entropy_tokens(log_prob, old_log_prob, False)",
        (T_LOSS,),
    ),
    Mutation(
        "local term logged but not subtracted", LOSS, "return loss - term, metrics", "return loss, metrics", (T_LOSS,)
    ),
    Mutation(
        "local term aggregated like the policy term",
        LOSS,
        "loss_agg_mode=LOCAL_TERM_AGG",
        "loss_agg_mode=config.loss_agg_mode",
        (T_LOSS,),
    ),
    Mutation(
        "estimator ignores sigma_d from config",
        "verl_dsdr/methods/dsdr.py",
        "dsdr.lambda_d, dsdr.sigma_d)",
        "dsdr.lambda_d, 1.0)",
        (T_EST,),
    ),
    Mutation(
        "estimator ignores lambda_d from config",
        "verl_dsdr/methods/dsdr.py",
        "dsdr.lambda_d, dsdr.sigma_d)",
        "0.001, dsdr.sigma_d)",
        (T_EST, T_TRAINER),
    ),
    Mutation(
        "peers=correct ignored",
        "verl_dsdr/methods/dsdr.py",
        'peer_mask = inputs.correct if settings.peers == "correct" else inputs.real',
        "peer_mask = inputs.real",
        (T_STATS,),
    ),
    Mutation("coupling ignores tau", "verl_dsdr/methods/dsdr.py", "tau=settings.tau,", "tau=1.0,", (T_STATS,)),
    Mutation(
        "trainer writes dsdr_coef in reversed sample order",
        TRAINER,
        "fields = TensorDict({k: v.float() for k, v in result.sample_fields.items()}",
        "fields = TensorDict({k: v.flip(0).float() for k, v in result.sample_fields.items()}",
        (T_TRAINER,),
    ),
    Mutation(
        "trainer never publishes the estimator inputs",
        TRAINER,
        "with context.step_inputs(uids, result.estimator_inputs):",
        "with context.step_inputs(uids, {}):",
        (T_TRAINER,),
    ),
    Mutation(
        "dsdr_coef put after verl's put (never reaches the actor)",
        TRAINER,
        "        if result.sample_fields:\n",
        "        if result.sample_fields and False:\n",
        (T_TRAINER,),
    ),
    Mutation(
        "validation prompts never flagged",
        PRIVATE,
        "        with flagged_validation(self, self.validation_flag()):\n"
        "            return super()._validate(*args, **kwargs)",
        "        return super()._validate(*args, **kwargs)",
        (T_TRAINER,),
    ),
    Mutation(
        "verl's padding rows taken for real ones",
        PRIVATE,
        'return [bool(tag.get("is_padding", False))',
        "return [False",
        (T_TRAINER,),
    ),
    Mutation(
        "reward batcher hands results to the wrong trajectories",
        "verl_dsdr/utils/batching.py",
        "for (_, future), result in zip(taken, results):",
        "for (_, future), result in zip(taken, results[::-1]):",
        ("tests/glue/test_reward_manager.py",),
    ),
    Mutation(
        "validation flag ignored by the reward manager",
        "verl_dsdr/methods/wire.py",
        "        return bool(non_tensor[VALIDATE])",
        "        return False",
        ("tests/glue/test_reward_manager.py",),
    ),
    Mutation(
        "config range check skipped",
        "verl_dsdr/methods/params.py",
        "            checked = _check_value(",
        "            checked = value if True else _check_value(",
        ("tests/glue/test_config_checks.py",),
    ),
    Mutation(
        "group size minimum not enforced",
        "verl_dsdr/config_checks.py",
        "if spec is not None and n < spec.min_group_size:",
        "if spec is not None and n < 1:",
        ("tests/glue/test_config_checks.py",),
    ),
    Mutation(
        "separate_async allowed on CPU",
        "verl_dsdr/config_checks.py",
        'CPU_TRAINER_MODES = ("sync", "colocate_async")',
        'CPU_TRAINER_MODES = ("sync", "colocate_async", "separate_async")',
        ("tests/glue/test_config_checks.py",),
    ),
    Mutation(
        "full estimator leaves verl's memory-heavy path",
        "verl_dsdr/methods/dsdr.py",
        '"actor_rollout_ref.model.use_fused_kernels": True,',
        "",
        ("tests/glue/test_method_configs.py",),
    ),
]


def scratch_copy(root: Path) -> Path:
    """The package, its tests and pytest.ini under ``root`` (caches stay the repository's)."""
    for name in ("verl_dsdr", "tests", "docs"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.png"))
    shutil.copy(REPO / "pytest.ini", root / "pytest.ini")
    found = subprocess.run(
        [sys.executable, "-c", "import verl_dsdr; print(verl_dsdr.__file__)"],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not found.startswith(str(root)):
        raise RuntimeError(f"the scratch copy is not the package imported ({found}): mutations would not be seen")
    return root


def _env(root: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=str(root),
        VERL_DSDR_CACHE=str(REPO / ".cache" / "verl_dsdr"),
        HF_HOME=str(REPO / ".cache" / "huggingface"),
        PYTHONDONTWRITEBYTECODE="1",
    )


def run_tests(root: Path, tests: tuple[str, ...], timeout_s: float) -> tuple[bool, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=root,
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout_s,
    )
    return proc.returncode == 0, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run the mutations whose name contains this text")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per test run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.only in m.name]
    with tempfile.TemporaryDirectory(prefix="vdsdr_mut_") as tmp:
        root = scratch_copy(Path(tmp))
        files = sorted({t for m in chosen for t in m.tests})
        passed, _ = run_tests(root, tuple(files), args.timeout)
        if not passed:
            print(f"the unmutated tests fail ({' '.join(files)}): fix them first", file=sys.stderr)
            return 2
        rows = []
        for m in chosen:
            target = root / m.path
            original = target.read_text()
            if original.count(m.old) != 1:
                rows.append((m.name, "NOT APPLIED (snippet not found once)", m.tests, 0.0))
                continue
            target.write_text(original.replace(m.old, m.new))
            try:
                survived, seconds = run_tests(root, m.tests, args.timeout)
            finally:
                target.write_text(original)
            rows.append((m.name, "survived" if survived else "killed", m.tests, seconds))
            print(f"{rows[-1][1]:>9}  {m.name}", flush=True)
    print("\n| mutation | result | tests run |\n| --- | --- | --- |")
    for name, result, tests, _ in rows:
        print(f"| {name} | {result} | {', '.join(Path(t).name for t in tests)} |")
    killed = sum(r[1] == "killed" for r in rows)
    print(f"\n{killed} of {len(rows)} killed")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
