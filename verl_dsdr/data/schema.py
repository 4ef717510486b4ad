"""The parquet row verl's ``RLHFDataset`` reads, and the prompt instructions that go into it.

verl loads training/validation files with ``datasets.load_dataset("parquet")`` and reads
``prompt`` (a chat list), ``data_source`` (which selects the reward function), ``reward_model``
(``ground_truth``) and ``extra_info`` (``index``). Several validation files are concatenated into
one dataset, which only works when every file has exactly the same arrow types, so every field
here is always present and always a string (or int for ``index``), never ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = [
    "DAPO_INSTRUCTION",
    "BOXED_INSTRUCTION",
    "PromptStyle",
    "render_prompt",
    "build_record",
    "extract_dapo_problem",
    "write_parquet",
]

PromptStyle = Literal["dapo", "boxed", "raw"]
PROMPT_STYLES = ("dapo", "boxed", "raw")

# DAPO-Math-17k's own wrapper; its verifier reads the last ``Answer:`` line.
DAPO_INSTRUCTION = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n{problem}\n\n"
    'Remember to put your answer on its own line after "Answer:".'
)

# The Qwen-Math evaluation convention; the verifier reads the last ``\boxed{}``.
BOXED_INSTRUCTION = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."

_DAPO_PREFIX, _DAPO_SUFFIX = DAPO_INSTRUCTION.split("{problem}")


def render_prompt(problem: str, style: PromptStyle) -> str:
    """The user message for ``problem`` in the given instruction style."""
    if style == "dapo":
        return DAPO_INSTRUCTION.format(problem=problem)
    if style == "boxed":
        return BOXED_INSTRUCTION.format(problem=problem)
    if style == "raw":  # the problem already carries its instruction (e.g. the embedded arithmetic task)
        return problem
    raise ValueError(f"unknown prompt style {style!r}: use 'dapo', 'boxed' or 'raw'")


def extract_dapo_problem(content: str) -> str:
    """The bare problem inside a DAPO-wrapped user message (the text itself when it is not wrapped).

    The released DAPO-Math-17k stores every problem already wrapped in DAPO's instruction; the
    bare text is needed to deduplicate and to re-wrap it in another style.
    """
    text = content
    if text.startswith(_DAPO_PREFIX):
        text = text[len(_DAPO_PREFIX) :]
    if text.endswith(_DAPO_SUFFIX):
        text = text[: -len(_DAPO_SUFFIX)]
    return text.strip()


def build_record(
    *,
    problem: str,
    answer: str,
    data_source: str,
    style: PromptStyle,
    index: int,
    split: str,
    original_id: str = "",
) -> dict:
    """One verl row: chat prompt, data source, rule-based ground truth and bookkeeping ``extra_info``."""
    if not problem.strip():
        raise ValueError(f"row {index}: empty problem")
    if not answer.strip():
        raise ValueError(f"row {index}: empty answer")
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": render_prompt(problem, style)}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": {
            "index": int(index),
            "id": str(original_id),
            "split": split,
            "question": problem,
            "answer": answer,
        },
    }


def write_parquet(records: list[dict], path: Path) -> Path:
    """Write verl rows to ``path`` (parent folders created); refuses an empty list (verl cannot train on it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not records:
        raise ValueError(f"no rows to write to {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), path)
    return path
