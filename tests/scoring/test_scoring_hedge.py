"""The hedge rule (an answer states one answer and nothing more) and agreement with math-verify.

Each pair is scored end to end with ``score_correctness``; the expected values are the rule's
(docs/SCORING.md) and, for the second group, math-verify's own decision on the same pair.
"""

import pytest

from verl_dsdr.scoring.answers import answer_candidates, extract_answer
from verl_dsdr.scoring.correctness import score_correctness
from verl_dsdr.scoring.hedge import hedge_reason

HEDGES = [
    # the two examples: a guess plus a "rejected" alternative
    ("Answer: 3. Note that x=5 is extraneous.", "5", "math_dapo"),
    ("Answer: x=3 (we rejected x=5)", "5", "math_dapo"),
    ("Answer: 3. Note that x=5 is extraneous.", "5", "aime24"),  # the Answer: line as the fallback form
    (r"\boxed{3 \text{ or } 5}", "5", None),
    (r"\boxed{3, 5}", "5", None),
    (r"\boxed{3; 5}", "5", None),
    (r"\boxed{\pm 5}", "5", None),
    (r"so \boxed{3} or maybe \boxed{5}", "5", None),  # several boxes are several values
    ("Answer: 3\nAnswer: 5", "5", "math_dapo"),  # several Answer: lines too
    (r"\boxed{3 = 5}", "5", None),  # a value before the relation
    (r"\boxed{2+3 = 5}", "5", None),
    (r"\boxed{\frac{1}{2} = 5}", "5", None),
    (r"\boxed{3 \text{ if } x = 5}", "5", None),
    (r"\boxed{x = 3 \Rightarrow x = 5}", "5", None),  # more relations than the gold
    (r"\boxed{5 \text{ (we rejected 3)}}", "5", None),  # words beyond the answer
    (r"\boxed{5 \text{ apples}}", "5", None),
    (r"\boxed{3,5}", "3.5", None),  # a decimal comma is a pair, as in math-verify
]


@pytest.mark.parametrize("response, truth, source", HEDGES)
def test_hedged_answers_score_zero(response, truth, source):
    assert score_correctness(response, truth, data_source=source) == 0.0
    assert hedge_reason(extract_answer(response, source), truth) is not None


HONEST = [
    (r"\boxed{5}.", "5", None),
    ("Answer: $5$", "5", None),
    (r"\boxed{$5$}", "5", None),
    ("so the answer is $5$.\nAnswer: $5$", "5", "math_dapo"),
    ("Answer: x = 5", "5", "math_dapo"),
    ("Answer: The answer is \\boxed{5}.", "5", "math_dapo"),
    (r"\boxed{x = 5}", "5", None),
    (r"\boxed{a_1 = 5}", "5", None),
    (r"\boxed{f(x) = x^2 + 1}", "x^2+1", None),
    (r"\boxed{5 \text{ cm}}", r"5 \text{ cm}", None),  # units the gold also has
    (r"\boxed{5\text{ cm}}", "5", None),  # a unit word, dropped by math-verify
    (r"\boxed{5^\circ}", "5", None),
    (r"\boxed{\text{Evelyn}}", r"\text{Evelyn}", None),
    (r"\boxed{2xy}", "2yx", None),
    (r"\boxed{5} and again \boxed{5}", "5", None),  # the same value twice is one value
    (r"\boxed{3, 5}", "3, 5", None),  # the gold itself is a list
    (r"\boxed{5, 3}", r"\{3, 5\}", None),  # ... or a set
    (r"\boxed{3 \text{ or } 5}", r"3 \text{ or } 5", None),
    (r"\boxed{\pm 5}", r"\pm 5", None),
    (r"\boxed{x^2+2x+1}", "(x+1)^2", None),
    (r"\boxed{1{,}000}", "1000", None),  # a thousands separator is one value
    (r"\boxed{1,\!000}", "1000", None),
    (r"\boxed{\theta = \frac{\pi}{4}}", r"\frac{\pi}{4}", None),  # a Greek letter is a name
    (r"\boxed{\angle ABC = 30^\circ}", "30", None),  # so is a point name
    (r"\boxed{m+n = 17}", "17", None),
    (r"\boxed{x = 1 \text{ or } x = 2}", "1, 2", None),  # one relation per value of a list
    (r"\boxed{12 \text{ square units}}", "12", None),
    (r"\boxed{\$18.90}", "18.90", None),
    # Minerva's few-shot wrapper, common in Qwen-Math output
    ("so 12 of them.\nFinal Answer: The final answer is $12,000,023$. I hope it is correct.", "12000023", None),
    ("Final Answer: The final answer is 7.78.", "7.78", "math_dapo"),
]


@pytest.mark.parametrize("response, truth, source", HONEST)
def test_honest_forms_score_one(response, truth, source):
    assert score_correctness(response, truth, data_source=source) == 1.0


# Pairs where the verifier used to disagree with math-verify (the library's own reading of the
# gold and the prediction, checked with math_verify.parse/verify on `$gold$` and the response).
MATH_VERIFY_AGREES = [
    (r"\boxed{28}", r"28\%", 1.0),  # math-verify drops the percent sign: 28% reads as 28 ...
    (r"\boxed{28\%}", "28", 1.0),
    (r"\boxed{28 \%}", r"28\%", 1.0),
    (r"\boxed{0.28}", r"28\%", 0.0),  # ... not as 0.28
    (r"\boxed{1}\boxed{2}", r"$\boxed{1}\boxed{2}$", 1.0),  # several boxes in the gold are a set
    (r"\boxed{2, 1}", r"$\boxed{1}\boxed{2}$", 1.0),
    (r"\boxed{2}", r"$\boxed{1}\boxed{2}$", 0.0),  # not its last box
    (r"\boxed{3{,}5}", "35", 0.0),  # {,} between digits is a list separator unless it groups thousands
    (r"\boxed{3.5}", "3,5", 0.0),  # a decimal comma is the pair (3, 5), not 3.5
    (r"\boxed{12,345}", "12345", 1.0),
    (r"\boxed{32,\! 349}", "32349", 1.0),  # \! marks a thousands comma ...
    (r"\boxed{32, 349}", "32349", 0.0),  # ... a bare ", " separates values (math-verify's own test pairs)
    (r"\boxed{28 percent}", r"28\%", 1.0),
    (r"\boxed{28 pct}", r"$28\%$", 1.0),
    (r"\boxed{\{1,2\}}", "1,2", 1.0),  # sets and bare lists
    (r"\boxed{(1,3]}", "(1,3]", 1.0),  # intervals
    (r"\boxed{(1,3]}", "[1,3]", 0.0),
    (r"\boxed{y = 2x + 3}", "2x+3", 1.0),  # equations: the right side against a bare gold
    (r"\boxed{2x+3}", "y=2x+3", 1.0),
]


@pytest.mark.parametrize("response, truth, expected", MATH_VERIFY_AGREES)
def test_agrees_with_math_verify(response, truth, expected):
    assert score_correctness(response, truth) == expected


def test_candidates_follow_the_form_and_dedupe():
    assert answer_candidates(r"\boxed{3} then \boxed{ 3 } then \boxed{4}") == ["3", "4"]
    assert extract_answer(r"\boxed{3} then \boxed{4}") == "3, 4"
    # an unclosed (truncated) box means no boxed answer; the Answer: line is the fallback
    assert answer_candidates("\\boxed{3} and \\boxed{4\nAnswer: 7") == ["7"]
    assert extract_answer("no answer") is None


def test_hedge_reasons_name_the_rule():
    assert "several values" in hedge_reason("3, 5", "5")
    assert "relations" in hedge_reason("x = 3 = 5", "5")
    assert "before the relation" in hedge_reason("3 = 5", "5")
    assert "not a name" in hedge_reason(r"\text{so} x = 5", "5")
    assert "rejected" in hedge_reason(r"5 \text{ rejected}", "5")
    assert hedge_reason("x = 5", "5") is None
