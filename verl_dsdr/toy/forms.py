"""Mode collapse on the toy task, counted exactly: which listed solution form each correct answer uses.

Every toy problem has 4-5 distinct correct solution texts (``verl_dsdr.assets.task.solution_forms``);
``classify_form`` says which one a response is, or None for a correct text outside the list.
A policy that collapses onto one way of answering shows fewer distinct forms per problem and a
lower entropy of its form distribution, whatever its accuracy. The last listed form is always
the bare answer (``The answer is \\boxed{r}.``), the shortest text.

Two views: ``form_stats`` over evaluation rows (grouped by problem: the final policy), and
``rollout_form_stats`` over one step of verl's training-rollout dump (grouped by GRPO group:
the policy during training).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from verl_dsdr.assets.task import classify_form, is_correct, parse_question, solution_forms
from verl_dsdr.toy.convert import question_of

__all__ = ["form_stats", "rollout_form_stats", "FORM_KEYS"]

FORM_KEYS = ("forms_per_problem", "form_entropy_bits", "bare_share", "unlisted_share")
OTHER = "other"


def _entropy_bits(counts: Iterable[int]) -> float:
    counts = [c for c in counts if c > 0]
    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts) if total else 0.0


def _summarise(correct_by_set: dict[str, tuple[str, list[str]]]) -> dict:
    """``{set id: (question, correct responses)}`` -> the statistics (see ``form_stats``)."""
    forms_counts, entropies, bare, unlisted, total = [], [], 0, 0, 0
    for question, responses in correct_by_set.values():
        problem = parse_question(question)
        last = len(solution_forms(problem)) - 1
        counts = Counter(OTHER if (label := classify_form(problem, text)) is None else label for text in responses)
        forms_counts.append(len([k for k in counts if k != OTHER]))
        if len(responses) >= 2:
            entropies.append(_entropy_bits(counts.values()))
        bare += counts.get(last, 0)
        unlisted += counts.get(OTHER, 0)
        total += len(responses)

    def mean(xs: Sequence[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    return {
        "problems_with_correct": len(correct_by_set),
        "forms_per_problem": mean(forms_counts),
        "form_entropy_bits": mean(entropies),
        "bare_share": bare / total if total else None,
        "unlisted_share": unlisted / total if total else None,
    }


def form_stats(samples: Iterable[dict]) -> dict:
    """Form statistics of the correct responses among eval rows (one method and benchmark).

    Correctness is the task's exact boxed-answer check (``is_correct``), which agrees with the
    verifier on this task's integer answers. Returns:
    ``problems_with_correct``; ``forms_per_problem`` (distinct listed forms among a problem's
    correct responses, mean over problems with one or more); ``form_entropy_bits`` (entropy of a
    problem's correct responses over {each listed form, other}, mean over problems with two or
    more; 0 = every correct answer written the same way); ``bare_share`` and ``unlisted_share``
    (shares of all correct responses that are the bare answer, or no listed form). Values are
    None when no problem qualifies.
    """
    by_problem: dict[str, tuple[str, list[str]]] = {}
    for row in samples:
        if is_correct(row["response"], str(row["ground_truth"])):
            question = str(row["problem_id"])
            by_problem.setdefault(question, (question, []))[1].append(row["response"])
    return _summarise(by_problem)


def rollout_form_stats(rows: Iterable[dict]) -> dict:
    """The same statistics over one training step's rollouts, per GRPO group instead of per problem.

    ``rows`` are verl's rollout dump (``trainer.rollout_data_dir``: ``input``, ``output``, ``gts``,
    ``uid`` = ``<group uid>_<session>_<index>``). A prompt drawn twice in one step forms two groups.
    """
    by_group: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        if is_correct(str(row["output"]), str(row["gts"])):
            group = str(row["uid"]).rsplit("_", 2)[0]
            by_group.setdefault(group, (question_of(str(row["input"])), []))[1].append(str(row["output"]))
    return _summarise(by_group)
