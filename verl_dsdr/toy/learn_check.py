"""A reward the embedded warm start earns about a third of the time: 1 when a response opens with ``$``.

It exists for the "the pipeline learns" check (``tests/integration/test_pipeline_learns.py``).
The warm start was trained on several solution forms per problem, one or two of which open with
LaTeX (``$3 \\times 4 = 12$, so ...``; see ``verl_dsdr.assets.task.solution_forms``), so it opens
with ``$`` in roughly a third of its samples, and every prompt's group of rollouts has both
outcomes often. The behaviour is one the model already has, so a correct policy gradient moves
it fast; one that does not (a flipped sign, rewards or advantages attached to the wrong
responses) cannot. It ignores the ground truth on purpose: the check is about the plumbing from
the reward loop to the loss, not about arithmetic.

Plain Python, importable by Ray's workers by module path:
``reward.custom_reward_function.path=pkg://verl_dsdr.toy.learn_check`` and
``reward.custom_reward_function.name=compute_score``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MARK", "opens_with_mark", "compute_score"]

MARK = "$"


def opens_with_mark(response: str) -> bool:
    """Whether the response's first non-blank character is ``$``."""
    return response.lstrip().startswith(MARK)


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict[str, Any]:
    """verl custom-reward-function entry point: ``{"score": 1.0 or 0.0, "acc": bool}``.

    The signature is the one verl's reward managers (and the project's ``dsdr`` manager) call;
    ``acc`` is what DSDR counts as correct. Arguments other than ``solution_str`` are ignored.
    """
    if not isinstance(solution_str, str):
        raise TypeError(f"learn_check.compute_score: solution_str must be a str, got {type(solution_str).__name__}")
    hit = opens_with_mark(solution_str)
    return {"score": 1.0 if hit else 0.0, "acc": hit}
