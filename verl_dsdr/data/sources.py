"""What each supported dataset looks like: the columns to look for and how its rows are labelled.

Column names are matched case-insensitively, first candidate found wins, and any of them can
be overridden on the command line. A dotted name (``reward_model.ground_truth``) reads a field
of a struct column.
"""

from __future__ import annotations

from dataclasses import dataclass

from verl_dsdr.data.schema import PromptStyle

__all__ = ["DatasetSpec", "DATASETS", "get_spec", "boxed_data_source"]


@dataclass(frozen=True)
class DatasetSpec:
    """How to read one dataset: candidate columns, the output ``data_source``, split and file name."""

    name: str
    description: str
    data_source: str
    split: str
    output_stem: str
    default_style: PromptStyle
    problem_columns: tuple[str, ...]
    answer_columns: tuple[str, ...]
    id_columns: tuple[str, ...]
    worked_solution_columns: tuple[str, ...] = ()
    """Answer columns that hold a whole worked solution: the answer is its last ``\\boxed{}``."""


_BENCHMARK_ANSWERS = ("answer", "final_answer", "solution")
_BENCHMARK_IDS = ("id", "unique_id", "problem_id", "idx")


def _benchmark(name: str, description: str, problem_columns: tuple[str, ...], id_columns=_BENCHMARK_IDS):
    return DatasetSpec(
        name=name,
        description=description,
        data_source=name,
        split="test",
        output_stem=name,
        default_style="boxed",
        problem_columns=problem_columns,
        answer_columns=_BENCHMARK_ANSWERS,
        id_columns=id_columns,
        worked_solution_columns=("solution",),
    )


DATASETS: dict[str, DatasetSpec] = {
    "dapo_math_17k": DatasetSpec(
        name="dapo_math_17k",
        description=(
            "DAPO-Math-17k training set: the released BytedTsinghua-SIA/DAPO-Math-17k (chat prompts, each "
            "problem repeated) or open-r1/DAPO-Math-17K-Processed (plain problem + solution); deduplicated"
        ),
        data_source="math_dapo",
        split="train",
        output_stem="train",
        default_style="dapo",
        problem_columns=("prompt", "problem", "question"),
        answer_columns=("solution", "answer", "reward_model.ground_truth"),
        id_columns=("extra_info.index", "id"),
    ),
    "aime24": _benchmark("aime24", "AIME 2024 (30 problems): problem/question, answer, id", ("problem", "question")),
    "aime25": _benchmark("aime25", "AIME 2025 (30 problems): problem/question, answer, id", ("problem", "question")),
    "math500": _benchmark(
        "math500",
        "MATH-500: problem, answer, unique_id",
        ("problem", "question"),
        id_columns=("unique_id", "id", "problem_id", "idx"),
    ),
    "minerva": _benchmark("minerva", "Minerva Math: problem/question, answer or solution", ("problem", "question")),
    "olympiadbench": _benchmark(
        "olympiadbench",
        "OlympiadBench (text, maths, English): question, final_answer (a list), id",
        ("question", "problem"),
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """The spec of a supported dataset, with the list of names when it is unknown."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; supported: {', '.join(DATASETS)}") from None


def boxed_data_source(spec: DatasetSpec) -> str:
    """``data_source`` for DAPO prompts rewritten in the boxed style.

    The verifier reads an ``Answer:`` line first whenever the data_source contains "dapo", so this
    name must not: with it the last ``\\boxed{}`` is read first.
    """
    return "math17k_boxed" if spec.name == "dapo_math_17k" else spec.data_source
