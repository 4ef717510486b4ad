"""The reward of the "pipeline learns" check (verl_dsdr.toy.learn_check), on hand-made responses."""

import pytest

from verl_dsdr.assets.task import KINDS, ArithProblem, all_problems, solution_forms
from verl_dsdr.toy.learn_check import compute_score, opens_with_mark


@pytest.mark.parametrize(
    "response, expected",
    [
        ("$3 \\times 4 = 12$, so the answer is \\boxed{12}.", True),
        ("  \n$x$", True),  # leading blanks do not count as an opening
        ("3 * 4 = 12. The answer is \\boxed{12}.", False),
        ("The answer is $12$.", False),  # a `$` later in the text is not an opening
        ("\\$5", False),
        ("", False),
    ],
)
def test_only_a_response_that_opens_with_a_dollar_earns_the_reward(response, expected):
    result = compute_score("verl_dsdr/arith", response, "12", extra_info={"index": 0})
    assert result == {"score": 1.0 if expected else 0.0, "acc": expected}
    assert opens_with_mark(response) is expected


def test_the_ground_truth_is_ignored():
    text = "$2 + 2 = 5$, so the answer is \\boxed{5}."
    assert compute_score("any", text, "4")["score"] == compute_score("any", text, "5")["score"] == 1.0


def test_extra_keyword_arguments_verl_passes_are_accepted():
    assert compute_score("s", "$1$", "1", None, reward_router_address=None, time_limit=2.0)["score"] == 1.0


def test_a_non_string_response_is_refused_with_its_type():
    with pytest.raises(TypeError, match="solution_str must be a str, got int"):
        compute_score("s", 12, "12")


def test_the_warm_start_forms_earn_it_about_a_third_of_the_time():
    """Among the task's correct solution forms (what the warm start imitates), the share that opens
    with `$` is 1 in 4 for one-operation kinds and 2 in 5 for two-operation kinds."""
    shares = {}
    for kind in KINDS:
        forms = solution_forms(all_problems(kind)[0])
        shares[kind] = sum(compute_score("s", f, "0")["score"] for f in forms) / len(forms)
    assert shares == {"add": 0.25, "sub": 0.25, "mul": 0.25, "add_mul": 0.4, "mul_add": 0.4}
    assert solution_forms(ArithProblem("add", (3, 4)))[1].startswith("$3 + 4 = 7$")
