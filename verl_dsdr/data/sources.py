"""What each supported dataset looks like: the columns to look for and how its rows are labelled.

Column names are matched case-insensitively, first candidate found wins, and any of them can
be overridden on the command line. A dotted name (``reward_model.ground_truth``) reads a field
of a struct column.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from verl_dsdr.data.schema import PromptStyle

__all__ = ["DatasetSpec", "DATASETS", "CUSTOM", "get_spec", "custom_spec", "boxed_data_source"]

CUSTOM = "custom"
"""The generic kind for your own math data: named with ``--name``, not posing as a benchmark."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


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
    """Answer columns that hold a whole worked solution: the answer is in its ``\\boxed{}``."""
    hub_splits: tuple[str, ...] = ("test", "train")
    """Without ``--hf-split``: a hub dataset's only split, else the first of these it has."""
    source_hint: str = ""
    """A public copy of the dataset (for the help text)."""


_BENCHMARK_ANSWERS = ("answer", "final_answer", "solution")
_BENCHMARK_IDS = ("id", "unique_id", "problem_id", "idx")


def _benchmark(
    name: str,
    description: str,
    problem_columns: tuple[str, ...],
    id_columns: tuple[str, ...] = _BENCHMARK_IDS,
    source_hint: str = "",
) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        description=description,
        source_hint=source_hint,
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
        hub_splits=("train",),
        source_hint="open-r1/DAPO-Math-17K-Processed or BytedTsinghua-SIA/DAPO-Math-17k (split train)",
    ),
    "aime24": _benchmark(
        "aime24",
        "AIME 2024 (30 problems): problem/question, answer, id",
        ("problem", "question"),
        source_hint="HuggingFaceH4/aime_2024 (its only split: train)",
    ),
    "aime25": _benchmark("aime25", "AIME 2025 (30 problems): problem/question, answer, id", ("problem", "question")),
    "math500": _benchmark(
        "math500",
        "MATH-500: problem, answer, unique_id",
        ("problem", "question"),
        id_columns=("unique_id", "id", "problem_id", "idx"),
        source_hint="HuggingFaceH4/MATH-500 (its only split: test)",
    ),
    "minerva": _benchmark("minerva", "Minerva Math: problem/question, answer or solution", ("problem", "question")),
    "olympiadbench": _benchmark(
        "olympiadbench",
        "OlympiadBench (text, maths, English): question, final_answer (a list), id",
        ("question", "problem"),
    ),
    CUSTOM: DatasetSpec(
        name=CUSTOM,
        description="your own math data under --name NAME (-> NAME.parquet, data_source NAME): problem/question/"
        "prompt, answer/final_answer/ground_truth/solution, id/unique_id/problem_id/idx",
        data_source=CUSTOM,
        split="test",
        output_stem=CUSTOM,
        default_style="boxed",
        problem_columns=("problem", "question", "prompt"),
        answer_columns=("answer", "final_answer", "ground_truth", "reward_model.ground_truth", "solution"),
        id_columns=_BENCHMARK_IDS,
        worked_solution_columns=("solution",),
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """The spec of a supported dataset, with the list of names when it is unknown."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; supported: {', '.join(DATASETS)}") from None


def custom_spec(name: str, split: str) -> DatasetSpec:
    """The ``custom`` kind for data named ``name``: output ``name.parquet``, ``data_source = name``."""
    if not _NAME.fullmatch(name or ""):
        raise ValueError(
            f"--name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit "
            "(it names the output file and the data_source)"
        )
    return dataclasses.replace(DATASETS[CUSTOM], name=name, data_source=name, output_stem=name, split=split)


def boxed_data_source(spec: DatasetSpec) -> str:
    """``data_source`` for DAPO prompts rewritten in the boxed style.

    The verifier reads an ``Answer:`` line first whenever the data_source contains "dapo", so this
    name must not: with it the last ``\\boxed{}`` is read first.
    """
    return "math17k_boxed" if spec.name == "dapo_math_17k" else spec.data_source
