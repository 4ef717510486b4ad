"""Fast unit tests of the toy reproduction's pieces on small hand-made inputs (no training)."""

import json
import math
import struct

import pytest

from verl_dsdr.assets.task import ArithProblem, solution_forms
from verl_dsdr.toy.convert import (
    DumpError,
    convert_dump,
    dump_of_step,
    dump_rows_to_samples,
    latest_dump,
    question_of,
    read_jsonl,
)
from verl_dsdr.toy.forms import form_stats, rollout_form_stats
from verl_dsdr.toy.methods import FULL_PLAN, ToyPlan, method_overrides, parse_methods, plan_overrides
from verl_dsdr.toy.plots import band, colours_for
from verl_dsdr.toy.report import (
    format_spread,
    load_runs,
    rollout_metrics,
    series,
    smooth,
    spread,
    tail_mean,
    write_report,
)
from verl_dsdr.toy.runs import BENCHMARK, DONE, WARM_START, RunTarget, build_overrides, run_dir, sample_label

PROMPT = "user\nCompute 3 + 4 * 2. Put the final answer in \\boxed{}.\nassistant\n"


def _dump_row(output, gts="11", prompt=PROMPT):
    return {"input": prompt, "output": output, "gts": gts, "score": 0.0, "step": 4, "uid": "u_0_0"}


# ---- convert ------------------------------------------------------------------------------------


def test_question_is_found_inside_the_decoded_prompt():
    assert question_of(PROMPT) == "Compute 3 + 4 * 2."
    assert question_of("user\nCompute 9 - 1. Put the final answer in \\boxed{}.") == "Compute 9 - 1."
    with pytest.raises(ValueError, match="no 'Compute"):
        question_of("user\nhello")


def test_dump_rows_map_to_eval_rows_in_order():
    rows = [_dump_row("The answer is \\boxed{11}."), _dump_row("x", gts=7)]
    samples = dump_rows_to_samples(rows, "grpo-seed0", BENCHMARK)
    assert samples == [
        {
            "method": "grpo-seed0",
            "benchmark": BENCHMARK,
            "problem_id": "Compute 3 + 4 * 2.",
            "ground_truth": "11",
            "response": "The answer is \\boxed{11}.",
        },
        {
            "method": "grpo-seed0",
            "benchmark": BENCHMARK,
            "problem_id": "Compute 3 + 4 * 2.",
            "ground_truth": "7",
            "response": "x",
        },
    ]


def test_bad_dump_rows_name_the_row():
    with pytest.raises(DumpError, match=r"row 2: missing \['gts'\]"):
        dump_rows_to_samples([_dump_row("a"), {"input": PROMPT, "output": "b"}], "m", "b")
    with pytest.raises(DumpError, match="row 1: no 'Compute"):
        dump_rows_to_samples([_dump_row("a", prompt="user\nwhat?")], "m", "b")


def test_latest_dump_orders_steps_numerically(tmp_path):
    for step in (2, 10, 0):
        (tmp_path / f"{step}.jsonl").write_text(json.dumps(_dump_row("a")) + "\n")
    (tmp_path / "notes.jsonl").write_text("{}\n")
    assert latest_dump(tmp_path).name == "10.jsonl"  # not "2.jsonl" (string order)
    assert dump_of_step(tmp_path, 0).name == "0.jsonl"
    assert dump_of_step(tmp_path, 3) is None
    with pytest.raises(DumpError, match="validation_data_dir"):
        latest_dump(tmp_path / "missing")


def test_convert_dump_writes_eval_rows(tmp_path):
    dump = tmp_path / "4.jsonl"
    dump.write_text("\n".join(json.dumps(_dump_row(o)) for o in ("a", "b", "c")) + "\n")
    path, n = convert_dump(dump, tmp_path / "samples.jsonl", "dsdr-seed1", BENCHMARK)
    assert n == 3 and [r["response"] for r in read_jsonl(path)] == ["a", "b", "c"]
    dump.write_text('{"input": 1}\n{not json\n')
    with pytest.raises(DumpError, match=r"4.jsonl:2: not valid JSON"):
        convert_dump(dump, tmp_path / "x.jsonl", "m", "b")


# ---- forms --------------------------------------------------------------------------------------


def test_form_stats_counts_forms_by_hand():
    p1 = ArithProblem("add_mul", (3, 4, 2))  # 5 listed forms; index 4 is the bare answer
    f1 = solution_forms(p1)
    p2 = ArithProblem("add", (2, 3))
    f2 = solution_forms(p2)
    rows = [
        {"problem_id": "Compute 3 + 4 * 2.", "ground_truth": "11", "response": f1[0]},
        {"problem_id": "Compute 3 + 4 * 2.", "ground_truth": "11", "response": f1[0]},
        {"problem_id": "Compute 3 + 4 * 2.", "ground_truth": "11", "response": f1[4]},
        {
            "problem_id": "Compute 3 + 4 * 2.",
            "ground_truth": "11",
            "response": "so it is \\boxed{11}",
        },  # correct, unlisted
        {"problem_id": "Compute 3 + 4 * 2.", "ground_truth": "11", "response": "The answer is \\boxed{12}."},  # wrong
        {"problem_id": "Compute 2 + 3.", "ground_truth": "5", "response": f2[1]},
        {"problem_id": "Compute 9 - 1.", "ground_truth": "8", "response": "The answer is \\boxed{7}."},  # no correct
    ]
    stats = form_stats(rows)
    assert stats["problems_with_correct"] == 2
    # problem 1: listed forms {0, 4} -> 2; problem 2: {1} -> 1; mean 1.5
    assert stats["forms_per_problem"] == pytest.approx(1.5)
    # problem 1 counts {0: 2, 4: 1, other: 1} of 4: -(1/2 log2 1/2 + 2 * 1/4 log2 1/4) = 0.5 + 1.0 = 1.5 bits;
    # problem 2 has one correct answer, so no entropy
    assert stats["form_entropy_bits"] == pytest.approx(1.5)
    assert stats["bare_share"] == pytest.approx(1 / 5)  # 1 bare of 5 correct answers
    assert stats["unlisted_share"] == pytest.approx(1 / 5)  # 1 unlisted of 5


def test_form_stats_without_correct_answers_is_none():
    stats = form_stats([{"problem_id": "Compute 2 + 3.", "ground_truth": "5", "response": "no"}])
    assert stats == {
        "problems_with_correct": 0,
        "forms_per_problem": None,
        "form_entropy_bits": None,
        "bare_share": None,
        "unlisted_share": None,
    }


def _rollout(output, uid, gts="11", prompt=PROMPT):
    return {"input": prompt, "output": output, "gts": gts, "score": 0.0, "step": 1, "uid": uid}


def test_rollout_form_stats_groups_by_uid_not_by_problem():
    f = solution_forms(ArithProblem("add_mul", (3, 4, 2)))
    rows = [
        _rollout(f[0], "g1_0_0"),
        _rollout(f[1], "g1_1_0"),
        _rollout("wrong", "g1_2_0"),
        # the same prompt drawn again is another group: two correct answers in one form
        _rollout(f[4], "g2_0_0"),
        _rollout(f[4], "g2_1_0"),
        _rollout("The answer is \\boxed{3}.", "g3_0_0"),  # a group without a correct rollout
    ]
    stats = rollout_form_stats(rows)
    assert stats["problems_with_correct"] == 2  # groups g1 and g2
    assert stats["forms_per_problem"] == pytest.approx(1.5)  # g1: {0, 1} -> 2, g2: {4} -> 1
    assert stats["form_entropy_bits"] == pytest.approx(0.5)  # g1: 1 bit (1:1), g2: 0 bits
    assert stats["bare_share"] == pytest.approx(2 / 4)  # 2 bare of 4 correct


def test_rollout_metrics_read_one_value_per_step(tmp_path):
    f = solution_forms(ArithProblem("add_mul", (3, 4, 2)))
    (tmp_path / "1.jsonl").write_text(
        json.dumps(_rollout(f[0], "a_0_0")) + "\n" + json.dumps(_rollout(f[2], "a_1_0")) + "\n"
    )
    (tmp_path / "2.jsonl").write_text(json.dumps(_rollout("no", "b_0_0")) + "\n")
    wrong = "3 + 4 = 7, then 7 * 2 = 14. The answer is \\boxed{14}."  # left to right
    (tmp_path / "3.jsonl").write_text(json.dumps(_rollout(wrong, "c_0_0")) + "\n" + json.dumps(_rollout(f[0], "c_0_1")))
    metrics = rollout_metrics(tmp_path)
    assert metrics[1] == {
        "toy/forms_per_group": 2.0,
        "toy/form_entropy_bits": 1.0,
        "toy/bare_share": 0.0,
        "toy/mistake_share": 0.0,
    }
    assert metrics[2] == {"toy/mistake_share": 0.0}  # no correct rollout: no form numbers
    assert metrics[3]["toy/mistake_share"] == 0.5  # one of the two a + b * c rollouts went left to right
    assert rollout_metrics(tmp_path / "missing") == {}


# ---- methods ------------------------------------------------------------------------------------


def test_methods_differ_only_in_their_block():
    plan = FULL_PLAN
    blocks = {m: method_overrides(m, plan) for m in parse_methods("grpo,dapo,dsdr,dsdr_wo_gd,dsdr_wo_gc")}
    assert "actor_rollout_ref.actor.clip_ratio_high=0.2" in blocks["grpo"]
    assert "actor_rollout_ref.actor.clip_ratio_high=0.28" in blocks["dapo"]
    assert set(blocks["dsdr"]) ^ set(blocks["dsdr_wo_gd"]) == {
        "algorithm.dsdr.lambda_d=0.001",
        "algorithm.dsdr.lambda_d=0.0",
    }
    assert set(blocks["dsdr"]) ^ set(blocks["dsdr_wo_gc"]) == {
        "algorithm.dsdr.coupling=softmax",
        "algorithm.dsdr.coupling=uniform",
    }
    for block in blocks.values():  # every key once, so no override silently replaces another
        keys = [o.split("=")[0] for o in block + plan_overrides(plan)]
        assert len(keys) == len(set(keys))
    assert not any("filter_groups" in o for o in blocks["dapo"])
    assert "algorithm.filter_groups.enable=true" in method_overrides("dapo", plan.with_(dapo_dynamic_sampling=True))


def test_registry_arms_take_their_values_from_the_methods_typed_config():
    """The toy keeps no defaults of its own: the DSDR arms write what DSDRConfig holds, checked by it."""
    from verl_dsdr.methods import METHODS
    from verl_dsdr.methods.params import ConfigError, build
    from verl_dsdr.toy.methods import ARMS, Arm

    defaults = build(METHODS["dsdr"].config_cls, {})
    block = ARMS["dsdr"].overrides
    for key in ("lambda_d", "lambda_l", "tau", "coupling"):
        assert f"algorithm.dsdr.{key}={getattr(defaults, key)}" in block
    assert {a.estimator for a in ARMS.values()} - set(METHODS) == {"grpo"}  # verl's own estimator
    with pytest.raises(ConfigError, match="algorithm.dsdr.lambda_x"):
        _ = Arm("typo", "typo", "dsdr", clip_high=0.2, changes=(("lambda_x", 1.0),)).overrides
    with pytest.raises(ConfigError, match="algorithm.dsdr.tau"):
        _ = Arm("bad", "bad", "dsdr", clip_high=0.2, changes=(("tau", -1.0),)).overrides
    with pytest.raises(ValueError, match="not a registered method"):
        Arm("grpo_x", "x", "grpo", clip_high=0.2, changes=(("tau", 1.0),))


def test_plan_overrides_follow_the_plan():
    plan = ToyPlan(steps=7, batch_prompts=6, rollouts=8, mini_batch_prompts=3, lr=1e-3, val_n=16, val_problems=None)
    o = plan_overrides(plan)
    # 3 prompts x 8 rollouts = 24 samples per mini-batch; 6 x 8 = 48 per step
    assert "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=24" in o
    assert "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=48" in o
    assert "trainer.test_freq=7" in o and "trainer.total_training_steps=7" in o
    assert "actor_rollout_ref.rollout.val_kwargs.n=16" in o


def test_bad_plans_and_methods_are_refused():
    with pytest.raises(ValueError, match="multiple of mini_batch_prompts"):
        ToyPlan(steps=1, batch_prompts=6, rollouts=8, mini_batch_prompts=4, lr=1e-3, val_n=4, val_problems=None)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        ToyPlan(steps=0, batch_prompts=4, rollouts=8, mini_batch_prompts=4, lr=1e-3, val_n=4, val_problems=None)
    with pytest.raises(ValueError, match="choose from grpo"):
        parse_methods("grpo,ppo")
    assert parse_methods("dsdr, grpo,dsdr") == ["dsdr", "grpo"]


def test_command_puts_method_block_after_the_plan_and_extra_last(tmp_path):
    target = RunTarget("/m", "/t.parquet", "/v.parquet")
    command = build_overrides("dsdr", 2, FULL_PLAN, target, tmp_path, ("x=1",), validate_before=True)
    assert command[0] == "preset=cpu"
    assert "data.seed=2" in command and f"trainer.validation_data_dir={tmp_path / 'val'}" in command
    assert command.index("algorithm.adv_estimator=dsdr") > command.index("trainer.val_before_train=false")
    assert command.index("trainer.val_before_train=true") > command.index("trainer.val_before_train=false")
    assert command[-1] == "x=1"


# ---- report pieces ------------------------------------------------------------------------------


def test_series_uses_the_first_key_present_and_skips_non_finite():
    rows = [
        {"step": 1, "dsdr/frac_all_correct": 0.5},
        {"step": 2, "dsdr/frac_all_correct": float("nan")},
        {"step": 3, "dsdr/frac_all_correct": 0.25},
    ]
    assert series(rows, ("groups/frac_all_correct", "dsdr/frac_all_correct")) == ([1, 3], [0.5, 0.25])
    assert series(rows, ("missing",)) == ([], [])


def test_spread_and_tail_by_hand():
    # [1, 2, 3]: mean 2, sample std sqrt(((1-2)^2 + 0 + (3-2)^2) / 2) = 1
    assert spread([1.0, 2.0, None, 3.0]) == {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0, "n": 3}
    assert spread([None]) is None
    assert format_spread(spread([0.1, 0.3]), scale=100, digits=1) == f"20.0 ± {100 * math.sqrt(0.02):.1f} (10.0–30.0)"
    assert format_spread(spread([0.5])) == "0.500"
    assert tail_mean([1, 2, 3, 4, 5, 6, 7], n=5) == 5.0  # (3+4+5+6+7)/5
    assert smooth([3.0, 6.0, 9.0, 0.0], window=3) == [3.0, 4.5, 6.0, 5.0]  # 3; (3+6)/2; (3+6+9)/3; (6+9+0)/3
    with pytest.raises(ValueError, match="window"):
        smooth([1.0], window=0)


def test_band_aligns_seeds_on_common_steps():
    xs, mean, lo, hi = band([([1, 2, 3], [0.0, 1.0, 2.0]), ([1, 2], [2.0, 3.0])])
    assert xs == [1, 2] and mean == [1.0, 2.0] and lo == [0.0, 1.0] and hi == [2.0, 3.0]
    assert band([]) == ([], [], [], [])
    colours = colours_for(["warm_start", "grpo", "dsdr"], reference="warm_start")
    assert colours["warm_start"] == "#7f7f7f" and len(set(colours.values())) == 3


def _is_png(path):
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    width, height = struct.unpack(">II", data[16:24])
    return width > 100 and height > 100


def _fake_run(out, method, seed, rewards, with_warm=False):
    folder = run_dir(out, method, seed)
    (folder / "val").mkdir(parents=True)
    rows = []
    for step, reward in enumerate(rewards, start=1):
        data = {
            "critic/score/mean": reward,
            "actor/entropy": 0.2 - 0.01 * step,
            "groups/frac_all_correct": 0.1 * step,
            "timing_s/step": 5.0,
        }
        if method.startswith("dsdr"):
            data.update({"dsdr/d_correct_mean": 0.1, "dsdr/frac_all_correct": 0.1 * step})
            del data["groups/frac_all_correct"]
        rows.append(json.dumps({"step": step, "data": data}))
    (folder / "metrics.jsonl").write_text("\n".join(rows) + "\n")
    p = ArithProblem("add", (2, 3))
    (folder / "rollouts").mkdir()
    for step in range(1, len(rewards) + 1):
        (folder / "rollouts" / f"{step}.jsonl").write_text(
            json.dumps(
                _rollout(
                    solution_forms(p)[step % 2],
                    "u_0_0",
                    "5",
                    "user\nCompute 2 + 3. Put the final answer in \\boxed{}.\nassistant\n",
                )
            )
            + "\n"
        )
    samples = [
        {
            "method": sample_label(method, seed),
            "benchmark": BENCHMARK,
            "problem_id": "Compute 2 + 3.",
            "ground_truth": "5",
            "response": r,
        }
        for r in (solution_forms(p)[0], solution_forms(p)[3], "no")
    ]
    (folder / "samples.jsonl").write_text("\n".join(map(json.dumps, samples)) + "\n")
    done = {
        "method": method,
        "seed": seed,
        "steps": len(rewards),
        "wall_s": 100.0,
        "train_s": 5.0 * len(rewards),
        "validation_s": 20.0,
        "overhead_s": 80.0 - 5.0 * len(rewards),
        "warm_start_samples": None,
    }
    if with_warm:
        (folder / "samples_warm_start.jsonl").write_text(
            "\n".join(json.dumps(s | {"method": sample_label(WARM_START, 0)}) for s in samples) + "\n"
        )
        done["warm_start_samples"] = str((folder / "samples_warm_start.jsonl").relative_to(out))
    (folder / DONE).write_text(json.dumps(done))
    return {
        "arith_val": {
            "problems": 1,
            "samples_per_problem": 3,
            "mean_accuracy": 2 / 3,
            "pass@k": {"1": 2 / 3, "2": 1.0},
            "unequal_sample_counts": {},
            "diversity": {
                "problems_with_2plus_correct": 1,
                "semantic_dissimilarity": 0.05,
                "formula_uniqueness": 0.1,
                "distinct_solutions": 2.0,
                "cluster_threshold": 0.9,
            },
        }
    }


def test_report_writes_every_file_from_synthetic_runs(tmp_path):
    eval_metrics = {}
    eval_metrics[sample_label("grpo", 0)] = _fake_run(tmp_path, "grpo", 0, [0.4, 0.5, 0.6], with_warm=True)
    eval_metrics[sample_label(WARM_START, 0)] = eval_metrics[sample_label("grpo", 0)]
    eval_metrics[sample_label("grpo", 1)] = _fake_run(tmp_path, "grpo", 1, [0.3, 0.5, 0.7])
    eval_metrics[sample_label("dsdr", 0)] = _fake_run(tmp_path, "dsdr", 0, [0.4, 0.4, 0.5])
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "metrics.json").write_text(json.dumps(eval_metrics))
    paths = write_report(
        tmp_path,
        ["grpo", "dsdr"],
        [0, 1],
        plan=FULL_PLAN.as_dict(),
        command="bash x.sh",
        timing={"invocations": [{"wall_s": 600.0, "eval_s": 30.0}]},
        wall_s=660.0,
    )
    for name in ("training_curves", "dsdr_diversity", "pass_at_k", "eval_diversity"):
        assert _is_png(paths[name]), name
    text = paths["report"].read_text()
    assert "| GRPO | 2 |" in text and "| DSDR | 1 |" in text and "| warm start (reference) | 1 |" in text
    assert "Missing (not finished): dsdr seed 1." in text
    assert "11.0 min** (660 s)" in text  # 660 s stated as the reproduction's wall time
    # GRPO's two seeds: Avg@n 66.7 % each, so std 0
    assert "| GRPO | 2 | 66.7 ± 0.0 (66.7–66.7)" in text
    grpo0 = next(r for r in load_runs(tmp_path, ["grpo"], [0]) if r.method == "grpo")
    assert [row["toy/forms_per_group"] for row in grpo0.rows] == [1.0, 1.0, 1.0]  # one correct rollout per step
    csv_lines = paths["summary_csv"].read_text().splitlines()
    assert len(csv_lines) == 1 + 4  # header + warm start + 3 runs


def test_report_without_finished_runs_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="toy run"):
        write_report(tmp_path, ["grpo"], [0], plan={}, command="x")


def test_first_seed_shifts_the_seeds_and_default_methods_are_the_three_baselines(capsys):
    from verl_dsdr.toy.__main__ import main
    from verl_dsdr.toy.methods import DEFAULT_METHODS

    assert DEFAULT_METHODS == ("grpo", "dapo", "dsdr")
    assert main(["run", "--dry-run", "--first-seed", "10", "--seeds", "2", "--out", "runs/toy_dry"]) == 0
    out = capsys.readouterr().out
    assert "methods ['grpo', 'dapo', 'dsdr']; seeds [10, 11]" in out
    assert "data.seed=10" in out and "data.seed=11" in out and "data.seed=0 " not in out
    with pytest.raises(SystemExit):
        main(["run", "--dry-run", "--first-seed", "-1"])
