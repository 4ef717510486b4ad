"""Rule-based verifier: extraction, fast path, math-verify equivalences, DAPO form, bad input."""

import importlib.util
import inspect
import time
from pathlib import Path

import pytest

from verl_dsdr.scoring import correctness
from verl_dsdr.scoring.correctness import TAIL_CHARS, compute_score, extract_answer, score_correctness


def test_extract_boxed_all_and_nested():
    # every box counts: two different boxes are two values (math-verify reads them as a set)
    assert extract_answer(r"first \boxed{1}, finally \boxed{\frac{1}{\sqrt{2}}}.") == r"1, \frac{1}{\sqrt{2}}"
    assert (
        extract_answer(r"so \boxed{\frac{1}{\sqrt{2}}}, that is \boxed{ \frac{1}{\sqrt{2}} }.") == r"\frac{1}{\sqrt{2}}"
    )
    assert extract_answer(r"\boxed{\boxed{5}}") == "5"
    assert extract_answer(r"\fbox{7}") == "7"
    assert extract_answer(r"\boxed{$12$}") == "12"
    assert extract_answer("no answer at all") is None
    assert extract_answer(r"truncated \boxed{12") is None
    assert extract_answer("") is None


def test_extract_dapo_form_and_precedence():
    text = "work...\\boxed{41}\nAnswer: 42"
    # DAPO data sources read the "Answer:" line first; others read the last box first
    assert extract_answer(text, "math_dapo") == "42"
    assert extract_answer(text, "aime24") == "41"
    # without any box the Answer: line is used for every data source
    assert extract_answer("so\nanswer:  $3\\pi$.", None) == "3\\pi"
    # markdown emphasis around the line is not part of the answer
    assert extract_answer("**Answer:** $17$", "math_dapo") == "17"
    # DAPO source without an Answer: line falls back to the box
    assert extract_answer("\\boxed{5}", "DAPO-Math-17K") == "5"


def test_only_the_tail_is_searched():
    early = r"\boxed{9}" + "x" * TAIL_CHARS
    assert extract_answer(early) is None
    assert extract_answer("x" * 100_000 + r"\boxed{9}") == "9"


@pytest.mark.parametrize(
    "response, truth",
    [
        (r"so \boxed{11}", "11"),
        (r"\boxed{\frac{1}{2}}", "0.5"),
        (r"\boxed{\frac{1}{2}}", "1/2"),
        (r"\boxed{2\sqrt{2}}", r"\sqrt{8}"),  # sqrt(8) = 2 sqrt(2)
        (r"\boxed{\{1, 2, 3\}}", r"\{3,2,1\}"),  # sets are unordered
        (r"\boxed{[2, \infty)}", r"[2,\infty)"),
        (r"\boxed{(1, 3]}", "(1,3]"),
        (r"\boxed{x \in (0, 1)}", "(0,1)"),
        (r"\boxed{\dfrac{3}{4}}", r"\frac{3}{4}"),
        (r"\boxed{1,000}", "1000"),  # thousands separator
        (r"\boxed{x = 3}", "3"),
        ("reasoning\nAnswer: 42", "42"),
    ],
)
def test_equivalent_answers_score_one(response, truth):
    assert score_correctness(response, truth) == 1.0


@pytest.mark.parametrize(
    "response, truth",
    [
        (r"\boxed{12}", "11"),
        (r"\boxed{(1, 3]}", "[1,3]"),  # open vs closed endpoint
        (r"\boxed{\{1, 2\}}", r"\{1,2,3\}"),
        (r"\boxed{\frac{1}{3}}", "0.3"),
        ("no final answer here", "11"),
        (r"\boxed{}", "0"),
    ],
)
def test_wrong_or_missing_answers_score_zero(response, truth):
    assert score_correctness(response, truth) == 0.0


def test_ground_truth_shapes():
    assert score_correctness(r"\boxed{34}", 34) == 1.0  # numbers are compared as text
    assert score_correctness(r"\boxed{34}", r"\boxed{34}") == 1.0
    assert score_correctness(r"\boxed{2}", ["1", "2"]) == 1.0  # a list means "any of"
    assert score_correctness(r"\boxed{3}", ["1", "2"]) == 0.0
    assert score_correctness(r"\boxed{3}", None) == 0.0


def test_score_is_exactly_zero_or_one_and_time_limit_is_validated():
    assert score_correctness(r"\boxed{1}", "1") == 1.0 and type(score_correctness(r"\boxed{1}", "1")) is float
    with pytest.raises(ValueError, match="time_limit"):
        score_correctness(r"\boxed{1}", "1", time_limit=0)


def test_compute_score_matches_verl_custom_reward_signature():
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    # verl calls it with keywords and may add reward_router_address etc.
    out = compute_score(
        data_source="math_dapo",
        solution_str="...\nAnswer: 7",
        ground_truth="7",
        extra_info={},
        reward_router_address=None,
    )
    assert out == {"score": 1.0, "acc": True}
    assert compute_score("math", r"\boxed{6}", "7") == {"score": 0.0, "acc": False}


def test_compute_score_works_when_loaded_from_a_file_path():
    # verl's custom_reward_function.path loads the file under a generated module name; the
    # symbolic check must still reach the worker (0.5 needs math-verify, not the string fast path).
    path = Path(correctness.__file__)
    spec = importlib.util.spec_from_file_location("custom_module_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compute_score("math", r"\boxed{\frac{1}{2}}", "0.5")["score"] == 1.0


HANG_PRONE = {
    "tower": r"\boxed{2^{10^{10^{10}}}}",
    "factorial": r"\boxed{1000000!}",
    "power tower 9": r"\boxed{9^{9^{9}}}",
}


@pytest.mark.parametrize("name", sorted(HANG_PRONE))
def test_hang_prone_answers_return_a_float_in_bounded_time(name):
    t0 = time.monotonic()
    score = score_correctness(HANG_PRONE[name], "1", time_limit=0.5)
    assert score == 0.0 and isinstance(score, float)
    assert time.monotonic() - t0 < 15  # hang guard only


BAD_RESPONSES = {
    "empty": "",
    "200KB": ("We compute $x^2$ step by step. " * 7000)[:200_000] + r"\boxed{5}",
    "replacement chars": "\ufffd" * 10_000 + r"\boxed{5\ufffd}",
    "lone surrogates": "\udc80" * 1000 + r"\boxed{5}",
    "unbalanced braces": r"\boxed{" + "{" * 5000 + "5",
    "deep nesting": r"\boxed{" + "{" * 3000 + "5" + "}" * 3001,
    "boxed without end": r"\boxed{" * 3000,
    "thousands of dollars": "$" * 50_000 + "Answer: $$$",
    "huge answer": r"\boxed{" + "1+" * 5000 + "1}",
}


@pytest.mark.parametrize("name", sorted(BAD_RESPONSES))
def test_bad_responses_return_a_float_in_bounded_time(name):
    t0 = time.monotonic()
    score = score_correctness(BAD_RESPONSES[name], "5", time_limit=1.0)
    assert score in (0.0, 1.0) and isinstance(score, float)
    assert time.monotonic() - t0 < 15  # hang guard only
    assert score == (1.0 if name in ("200KB", "lone surrogates") else 0.0)


# --- hostile responses cost only themselves ----------------------------------------------------

HOSTILE = r"2^{10^{10^{10}}}"  # math-verify hangs comparing it with a number


@pytest.fixture
def warm_pool():
    from verl_dsdr.scoring.bounded import scoring_runner

    runner = scoring_runner()
    runner.start()
    return runner


def test_a_correct_answer_scores_one_after_killed_calls(warm_pool):
    before = dict(warm_pool.stats)
    for _ in range(3):
        assert score_correctness(rf"\boxed{{{HOSTILE}}}", "1", time_limit=0.5) == 0.0
        # the worker killed a moment ago is replaced by a warm one; start-ups are never charged
        assert score_correctness(r"\boxed{(x+1)^2}", "x^2+2x+1", time_limit=0.5) == 1.0
    assert warm_pool.stats["timeouts"] - before["timeouts"] == 3
    assert warm_pool.stats["starts"] - before["starts"] == 3  # each killed worker was replaced once
    deadline = time.monotonic() + 60  # hang guard: the replacements become warm in the background
    while warm_pool.stats["ready"] - before["ready"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert warm_pool.ready_count == warm_pool.workers


def test_one_deadline_for_every_ground_truth_item(warm_pool):
    before = warm_pool.stats["timeouts"]
    t0 = time.monotonic()
    assert score_correctness(r"\boxed{1}", [HOSTILE] * 5, time_limit=1.0) == 0.0
    elapsed = time.monotonic() - t0
    # the call's budget is 2 x time_limit: two items time out, the other three are never tried
    assert warm_pool.stats["timeouts"] - before == 2
    assert elapsed < 2 * 1.0 + 2.5  # the feature itself, with slack; per-item limits took >= 5 s


def test_concurrent_callers_beside_hostile_ones(warm_pool):
    """Six reward threads, four hostile: both correct answers still score 1."""
    import threading

    jobs = [(rf"\boxed{{{HOSTILE}}}", "1")] * 4 + [(r"\boxed{(x+1)^2}", "x^2+2x+1"), (r"\boxed{\frac{1}{2}}", "0.5")]
    scores = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(i):
        barrier.wait()
        scores[i] = score_correctness(*jobs[i], time_limit=1.0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert scores == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
