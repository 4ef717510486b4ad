"""The toy arithmetic task: answers, solution forms, parsing, splits and verl's row schema."""

from __future__ import annotations

import pandas as pd
import pytest

from verl_dsdr.assets.task import (
    DATA_SOURCE,
    KINDS,
    ArithProblem,
    _allocate,
    all_problems,
    answer,
    classify_form,
    extract_boxed,
    facts,
    is_correct,
    is_mistake,
    mistake_forms,
    parse_question,
    prompt_text,
    question,
    solution_forms,
    split_problems,
    to_row,
    write_parquet,
)

WEIGHTS = {"add": 1.0, "sub": 1.0, "mul": 1.0, "add_mul": 2.0, "mul_add": 2.0}


def test_answers_follow_operator_precedence():
    assert answer(ArithProblem("add_mul", (3, 4, 2))) == 11  # 4*2 = 8, 3 + 8 = 11
    assert answer(ArithProblem("mul_add", (7, 8, 9))) == 65  # 7*8 = 56, 56 + 9 = 65
    assert answer(ArithProblem("sub", (9, 4))) == 5
    assert answer(ArithProblem("mul", (6, 7))) == 42
    assert answer(ArithProblem("add", (8, 9))) == 17


def test_solution_forms_for_the_example_problem():
    p = ArithProblem("add_mul", (3, 4, 2))
    assert question(p) == "Compute 3 + 4 * 2."
    assert prompt_text(p) == "Compute 3 + 4 * 2. Put the final answer in \\boxed{}."
    assert solution_forms(p) == [
        "4 * 2 = 8, then 3 + 8 = 11. The answer is \\boxed{11}.",
        "3 + 4 * 2 = 3 + 8 = 11. The answer is \\boxed{11}.",
        "$3 + 4 \\times 2 = 3 + 8 = 11$, so the answer is \\boxed{11}.",
        "$4 \\times 2 = 8$ and $8 + 3 = 11$, so the answer is \\boxed{11}.",
        "The answer is \\boxed{11}.",
    ]


def test_subtraction_forms_check_by_addition():
    assert solution_forms(ArithProblem("sub", (9, 4))) == [
        "9 - 4 = 5. The answer is \\boxed{5}.",
        "$9 - 4 = 5$, so the answer is \\boxed{5}.",
        "4 + 5 = 9, so 9 - 4 = 5. The answer is \\boxed{5}.",
        "The answer is \\boxed{5}.",
    ]


def test_every_form_is_distinct_and_correct():
    for kind in KINDS:
        for p in all_problems(kind):
            forms = solution_forms(p)
            assert len(set(forms)) == len(forms) >= 4
            assert all(is_correct(f, str(answer(p))) for f in forms)
            assert [classify_form(p, f) for f in forms] == list(range(len(forms)))


def test_classify_form_rejects_other_texts():
    p = ArithProblem("add", (2, 3))
    assert classify_form(p, "2 + 3 = 5. The answer is \\boxed{5}.") == 0
    assert classify_form(p, "2 + 3 = 5.  The answer is \\boxed{5}.") is None


def test_extract_boxed_takes_the_last_balanced_box():
    assert extract_boxed("\\boxed{3} then \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}"
    assert extract_boxed("no box here") is None
    assert extract_boxed("\\boxed{12") is None
    assert is_correct("so \\boxed{ 11 }", "11")
    assert not is_correct("so \\boxed{111}", "11")


def test_parse_question_inverts_question_for_every_problem():
    for kind in KINDS:
        for p in all_problems(kind):
            assert parse_question(question(p)) == p


@pytest.mark.parametrize("text", ["Compute 3 / 4.", "What is 3 + 4?", "Compute 3 + .", ""])
def test_parse_question_rejects_foreign_text(text):
    with pytest.raises(ValueError):
        parse_question(text)


def test_invalid_problems_are_rejected():
    with pytest.raises(ValueError, match="unknown problem kind"):
        ArithProblem("div", (4, 2))
    with pytest.raises(ValueError, match="takes 3 operands"):
        ArithProblem("add_mul", (1, 2))
    with pytest.raises(ValueError, match="positive result"):
        ArithProblem("sub", (3, 3))


def test_problem_counts_per_kind():
    # add 9*9, sub pairs 9>=a>b>=1 with a>=2: 8+7+...+1 = 36, mul 8*8, two-op 9*8*8 and 8*8*9
    assert [len(all_problems(k)) for k in KINDS] == [81, 36, 64, 576, 576]


def test_allocate_uses_largest_remainders():
    # 10 * w / 7: 1.43, 1.43, 1.43, 2.86, 2.86 -> floors 1,1,1,2,2 (7); the 3 left go to the
    # two .86 remainders, then to the first .43 by name ("add")
    assert _allocate(10, WEIGHTS) == {"add": 2, "sub": 1, "mul": 1, "add_mul": 3, "mul_add": 3}
    with pytest.raises(ValueError, match="positive sum"):
        _allocate(3, {"add": 0.0})


def test_split_is_deterministic_disjoint_and_sized():
    train, val = split_problems(200, 40, 7, WEIGHTS)
    again = split_problems(200, 40, 7, WEIGHTS)
    assert (train, val) == again
    assert len(train) == 200 and len(val) == 40 and len(set(val)) == 40
    assert not set(train) & set(val)
    # 40 * 2/7 = 11.43 -> 11 add_mul validation problems (remainders go to .71 and .43 kinds first)
    assert sum(p.kind == "add_mul" for p in val) == _allocate(40, WEIGHTS)["add_mul"]
    assert split_problems(200, 40, 8, WEIGHTS) != (train, val)


def test_split_rejects_unknown_kinds_and_oversized_validation():
    with pytest.raises(ValueError, match="unknown kinds"):
        split_problems(10, 2, 0, {"div": 1.0})
    with pytest.raises(ValueError, match="lower n_val"):
        split_problems(10, 200, 0, {"sub": 1.0})


def test_row_schema_matches_verl():
    row = to_row(ArithProblem("add_mul", (3, 4, 2)), 5, "train")
    assert row == {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": "Compute 3 + 4 * 2. Put the final answer in \\boxed{}."}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": "11"},
        "extra_info": {"index": 5, "split": "train", "question": "Compute 3 + 4 * 2."},
    }


def test_parquet_round_trip_with_pandas(tmp_path):
    problems = [ArithProblem("add", (1, 2)), ArithProblem("mul_add", (2, 3, 4))]
    frame = pd.read_parquet(write_parquet(problems, "val", tmp_path / "v.parquet"))
    assert list(frame.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert list(frame["prompt"][1]) == [{"role": "user", "content": prompt_text(problems[1])}]
    assert frame["reward_model"][1] == {"style": "rule", "ground_truth": "10"}  # 2*3 + 4
    assert frame["extra_info"][1] == {"index": 1, "split": "val", "question": "Compute 2 * 3 + 4."}


def test_commutative_forms_stay_distinct_when_operands_are_equal():
    assert solution_forms(ArithProblem("mul", (3, 3))) == [
        "3 * 3 = 9. The answer is \\boxed{9}.",
        "$3 \\times 3 = 9$, so the answer is \\boxed{9}.",
        "3 * 3 = 9, so the answer is \\boxed{9}.",
        "The answer is \\boxed{9}.",
    ]


# ---- the toy's procedure task: a systematic mistake, facts, held-out coverage ----------------------


def test_mistake_forms_evaluate_left_to_right_in_every_style():
    problem = ArithProblem("add_mul", (3, 4, 2))  # right: 3 + 8 = 11; mistake: (3 + 4) * 2 = 14
    forms = mistake_forms(problem)
    assert len(forms) == 4 and len(set(forms)) == 4
    assert forms[0] == "3 + 4 = 7, then 7 * 2 = 14. The answer is \\boxed{14}."
    assert all(extract_boxed(f) == "14" and not is_correct(f, "11") for f in forms)
    assert all(is_mistake(problem, f) for f in forms)
    assert not any(is_mistake(problem, f) for f in solution_forms(problem))
    # other kinds have no such slip: left to right is right for a * b + c
    assert mistake_forms(ArithProblem("mul_add", (3, 4, 2))) == []
    assert not is_mistake(ArithProblem("mul_add", (3, 4, 2)), "The answer is \\boxed{14}.")


def test_mistake_never_equals_the_answer():
    for problem in all_problems("add_mul"):
        a, b, c = problem.operands
        assert (a + b) * c != answer(problem)


def test_facts_by_hand():
    assert facts(ArithProblem("add_mul", (3, 4, 2))) == {("*", 2, 4), ("+", 3, 8)}
    assert facts(ArithProblem("mul_add", (9, 2, 5))) == {("*", 2, 9), ("+", 5, 18)}
    assert facts(ArithProblem("sub", (9, 2))) == {("+", 2, 7)}
    assert facts(ArithProblem("mul", (7, 3))) == {("*", 3, 7)}


def test_covered_split_holds_out_new_combinations_of_known_facts():
    weights = {"add": 1.0, "mul": 1.0, "add_mul": 3.0, "mul_add": 2.0}
    val_weights = {"add_mul": 3.0, "mul_add": 1.0}
    train, val = split_problems(512, 32, 5, weights, val_weights, covered_facts=True)
    assert len(train) == 512 and len(val) == 32 and len(set(val)) == 32
    assert {p.kind for p in val} == {"add_mul", "mul_add"}
    assert sum(p.kind == "add_mul" for p in val) == 24
    assert not set(val) & set(train)
    known = set().union(*(facts(p) for p in train))
    assert all(facts(p) <= known for p in val)
    assert split_problems(512, 32, 5, weights, val_weights, covered_facts=True) == (train, val)


def test_covered_split_refuses_what_training_cannot_cover():
    with pytest.raises(ValueError, match="have every fact in training"):
        split_problems(4, 8, 0, {"add_mul": 1.0}, {"add_mul": 1.0}, covered_facts=True)
