"""Mode collapse on the toy task, counted exactly: which listed solution form each correct answer uses.

Every toy problem has 4-5 distinct correct solution texts (``verl_dsdr.assets.task.solution_forms``);
``classify_form`` says which one a response is, or None for a correct text outside the list.
A policy that collapses onto one way of answering shows fewer distinct forms per problem and a
lower entropy of its form distribution, whatever its accuracy. The last listed form is always
the bare answer (``The answer is \\boxed{r}.``), the shortest text and a likely collapse target.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable

from verl_dsdr.assets.task import classify_form, is_correct, parse_question, solution_forms

__all__ = ["form_stats", "FORM_KEYS"]

FORM_KEYS = ("forms_per_problem", "form_entropy_bits", "bare_share", "unlisted_share")
OTHER = "other"


def _entropy_bits(counts: Iterable[int]) -> float:
    counts = [c for c in counts if c > 0]
    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts) if total else 0.0


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
    per_problem: dict[str, list] = defaultdict(list)
    for row in samples:
        if is_correct(row["response"], str(row["ground_truth"])):
            per_problem[str(row["problem_id"])].append(row["response"])
    forms_counts, entropies, bare, unlisted, total = [], [], 0, 0, 0
    for question, responses in per_problem.items():
        problem = parse_question(question)
        last = len(solution_forms(problem)) - 1
        labels = [classify_form(problem, text) for text in responses]
        counts = Counter(OTHER if label is None else label for label in labels)
        forms_counts.append(len([k for k in counts if k != OTHER]))
        if len(responses) >= 2:
            entropies.append(_entropy_bits(counts.values()))
        bare += counts.get(last, 0)
        unlisted += counts.get(OTHER, 0)
        total += len(responses)
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "problems_with_correct": len(per_problem),
        "forms_per_problem": mean(forms_counts),
        "form_entropy_bits": mean(entropies),
        "bare_share": bare / total if total else None,
        "unlisted_share": unlisted / total if total else None,
    }
