"""The toy task: small arithmetic with a `\\boxed{}` answer and several correct ways to write it.

Why this task: a tiny model trained for a minute on a CPU can get it right part of the time,
so a GRPO batch holds all-correct, mixed and all-wrong groups (GRPO's gradient is zero
without mixed groups); every problem has several distinct correct solution texts (plain steps,
a chained equation, LaTeX in `$...$`, a bare answer), so the diversity of correct rollouts
is real and measurable; and wrong answers are common because the two-operation problems are
hard for the model. Train and validation problems are disjoint.

Everything here is plain Python: it imports neither torch, verl nor ray.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verl_dsdr.scoring.boxed import last_boxed

DATA_SOURCE = "verl_dsdr/arith"
ABILITY = "math"
INSTRUCTION = "Put the final answer in \\boxed{}."

# kind -> (expression pattern, operand ranges). Results stay below 100.
KINDS: dict[str, tuple[str, tuple[range, ...]]] = {
    "add": ("{0} + {1}", (range(1, 10), range(1, 10))),
    "sub": ("{0} - {1}", (range(2, 10), range(1, 9))),
    "mul": ("{0} * {1}", (range(2, 10), range(2, 10))),
    "add_mul": ("{0} + {1} * {2}", (range(1, 10), range(2, 10), range(2, 10))),
    "mul_add": ("{0} * {1} + {2}", (range(2, 10), range(2, 10), range(1, 10))),
}


@dataclass(frozen=True)
class ArithProblem:
    """One problem: its kind (a key of `KINDS`) and its operands, left to right."""

    kind: str
    operands: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}: use one of {sorted(KINDS)}")
        ranges = KINDS[self.kind][1]
        if len(self.operands) != len(ranges):
            raise ValueError(f"kind {self.kind!r} takes {len(ranges)} operands, got {self.operands}")
        if self.kind == "sub" and self.operands[1] >= self.operands[0]:
            raise ValueError(f"subtraction must have a positive result, got {self.operands}")


def expression(problem: ArithProblem) -> str:
    """The expression as written in the question, e.g. `3 + 4 * 2`."""
    return KINDS[problem.kind][0].format(*problem.operands)


def answer(problem: ArithProblem) -> int:
    """The value of the expression (usual operator precedence)."""
    ops = problem.operands
    if problem.kind == "add":
        return ops[0] + ops[1]
    if problem.kind == "sub":
        return ops[0] - ops[1]
    if problem.kind == "mul":
        return ops[0] * ops[1]
    if problem.kind == "add_mul":
        return ops[0] + ops[1] * ops[2]
    return ops[0] * ops[1] + ops[2]


def question(problem: ArithProblem) -> str:
    """The question sentence, e.g. `Compute 3 + 4 * 2.` (kept in `extra_info.question`)."""
    return f"Compute {expression(problem)}."


def prompt_text(problem: ArithProblem) -> str:
    """The user message: the question and the answer-format instruction."""
    return f"{question(problem)} {INSTRUCTION}"


def _boxed(value: int) -> str:
    return f"\\boxed{{{value}}}"


def solution_forms(problem: ArithProblem) -> list[str]:
    """The distinct correct solution texts for `problem`, in a fixed order.

    Forms differ in step order, plain text versus LaTeX (`$...$`, `\\times`), and whether the
    work is shown at all; each ends with the answer in `\\boxed{}`. A single addition or
    multiplication also has a form with the operands swapped, a subtraction one checked by
    addition.
    """
    ops, r = problem.operands, answer(problem)
    end = f"The answer is {_boxed(r)}."
    if problem.kind in ("add", "sub", "mul"):
        a, b = ops
        sym = {"add": "+", "sub": "-", "mul": "*"}[problem.kind]
        tex = {"add": "+", "sub": "-", "mul": "\\times"}[problem.kind]
        forms = [f"{a} {sym} {b} = {r}. {end}", f"${a} {tex} {b} = {r}$, so {end[0].lower()}{end[1:]}"]
        if problem.kind == "sub":
            forms.append(f"{b} + {r} = {a}, so {a} - {b} = {r}. {end}")
        else:
            forms.append(f"{b} {sym} {a} = {r}, so the answer is {_boxed(r)}.")
        forms.append(end)
        return forms
    if problem.kind == "add_mul":
        a, b, c = ops
        p = b * c
        return [
            f"{b} * {c} = {p}, then {a} + {p} = {r}. {end}",
            f"{a} + {b} * {c} = {a} + {p} = {r}. {end}",
            f"${a} + {b} \\times {c} = {a} + {p} = {r}$, so the answer is {_boxed(r)}.",
            f"${b} \\times {c} = {p}$ and ${p} + {a} = {r}$, so the answer is {_boxed(r)}.",
            end,
        ]
    a, b, c = ops
    p = a * b
    return [
        f"{a} * {b} = {p}, then {p} + {c} = {r}. {end}",
        f"{a} * {b} + {c} = {p} + {c} = {r}. {end}",
        f"${a} \\times {b} + {c} = {p} + {c} = {r}$, so the answer is {_boxed(r)}.",
        f"${a} \\times {b} = {p}$ and ${c} + {p} = {r}$, so the answer is {_boxed(r)}.",
        end,
    ]


TWO_OPERATION_KINDS = ("add_mul", "mul_add")


def mistake_forms(problem: ArithProblem) -> list[str]:
    """Solution texts that follow the toy's systematic mistake; empty where the mistake cannot occur.

    The mistake is evaluating `a + b * c` left to right, as `(a + b) * c`: a plausible slip that
    every step of which is arithmetic done right. The texts come in the same four surface styles
    as the correct two-operation forms, so what separates right from wrong is the order of the
    operations, not the notation. `(a + b) * c` never equals `a + b * c` here (that needs c = 1).
    """
    if problem.kind != "add_mul":
        return []
    a, b, c = problem.operands
    s = a + b
    w = s * c
    end = f"The answer is {_boxed(w)}."
    return [
        f"{a} + {b} = {s}, then {s} * {c} = {w}. {end}",
        f"{a} + {b} * {c} = {s} * {c} = {w}. {end}",
        f"${a} + {b} \\times {c} = {s} \\times {c} = {w}$, so the answer is {_boxed(w)}.",
        f"${a} + {b} = {s}$ and ${s} \\times {c} = {w}$, so the answer is {_boxed(w)}.",
    ]


def is_mistake(problem: ArithProblem, text: str) -> bool:
    """Whether the boxed answer of `text` is the left-to-right value `(a + b) * c` (whatever the wording)."""
    if not mistake_forms(problem):
        return False
    a, b, c = problem.operands
    boxed = extract_boxed(text)
    return boxed is not None and boxed.strip() == str((a + b) * c)


def facts(problem: ArithProblem) -> frozenset[tuple[str, int, int]]:
    """The one-operation facts a correct solution uses, as `(op, x, y)` with x <= y.

    `3 + 4 * 2` uses 4 * 2 = 8 and 3 + 8 = 11. A held-out problem whose facts all occur in the
    training problems is a new combination of known facts, not a new fact.
    """
    ops = problem.operands
    if problem.kind in ("add", "mul"):
        sym = "+" if problem.kind == "add" else "*"
        return frozenset({(sym, min(ops), max(ops))})
    if problem.kind == "sub":
        return frozenset({("+", min(ops[1], answer(problem)), max(ops[1], answer(problem)))})
    if problem.kind == "add_mul":
        a, b, c = ops
        p = b * c
        return frozenset({("*", min(b, c), max(b, c)), ("+", min(a, p), max(a, p))})
    a, b, c = ops
    p = a * b
    return frozenset({("*", min(a, b), max(a, b)), ("+", min(p, c), max(p, c))})


def classify_form(problem: ArithProblem, text: str) -> int | None:
    """Index of `text` in `solution_forms(problem)` when it is exactly one of them, else None."""
    forms = solution_forms(problem)
    return forms.index(text) if text in forms else None


_QUESTION_RE = re.compile(r"Compute (.+)\.")


def parse_question(text: str) -> ArithProblem:
    """Recover the problem from its question sentence (the inverse of `question`)."""
    match = _QUESTION_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a task question: {text!r} (expected 'Compute <expression>.')")
    expr = match.group(1)
    for kind, (pattern, ranges) in KINDS.items():
        regex = re.escape(pattern)
        for i in range(len(ranges)):
            regex = regex.replace(re.escape("{" + str(i) + "}"), r"(\d+)")
        found = re.fullmatch(regex, expr)
        if found:
            return ArithProblem(kind, tuple(int(g) for g in found.groups()))
    raise ValueError(f"unrecognised expression {expr!r} in question {text!r}")


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (balanced braces), or None when there is none."""
    return last_boxed(text)


def is_correct(text: str, ground_truth: str) -> bool:
    """Exact-match check of the last boxed answer, for measuring the warm start only.

    The project's real verifier is `verl_dsdr.scoring`; this local check is deliberately
    strict (string equality after stripping spaces).
    """
    boxed = extract_boxed(text)
    return boxed is not None and boxed.strip() == ground_truth.strip()


def all_problems(kind: str) -> list[ArithProblem]:
    """Every problem of one kind, in a fixed order."""
    pattern, ranges = KINDS[kind]
    grids: list[tuple[int, ...]] = [()]
    for rng in ranges:
        grids = [g + (v,) for g in grids for v in rng]
    return [ArithProblem(kind, g) for g in grids if not (kind == "sub" and g[1] >= g[0])]


def _allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` items over kinds proportionally to `weights` (largest remainder)."""
    norm = sum(weights.values())
    if norm <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError(f"kind weights must be non-negative with a positive sum, got {weights}")
    exact = {k: total * w / norm for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(weights, key=lambda k: (-(exact[k] - counts[k]), k))
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def split_problems(
    n_train: int,
    n_val: int,
    seed: int,
    kind_weights: dict[str, float],
    val_kind_weights: dict[str, float] | None = None,
    covered_facts: bool = False,
) -> tuple[list[ArithProblem], list[ArithProblem]]:
    """Draw disjoint train and validation problems, kinds mixed by the weights.

    Validation problems are distinct; training problems are drawn with replacement from the
    problems not held out (there are only 81 additions). `val_kind_weights` mixes the held-out
    kinds (default: `kind_weights`). With `covered_facts`, a held-out problem is kept only when
    every one of its `facts` occurs in some training problem, so held-out problems are new
    combinations of facts training shows. Deterministic in `seed`.
    """
    val_weights = kind_weights if val_kind_weights is None else val_kind_weights
    unknown = (set(kind_weights) | set(val_weights)) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds in kind_weights: {sorted(unknown)}; use {sorted(KINDS)}")
    rng = random.Random(seed)
    val_counts, train_counts = _allocate(n_val, val_weights), _allocate(n_train, kind_weights)
    # Covered facts are checked after training is drawn, so hold out spares to choose from.
    reserve = 2 if covered_facts else 1
    train: list[ArithProblem] = []
    candidates: dict[str, list[ArithProblem]] = {}
    for kind in sorted(set(kind_weights) | set(val_weights)):
        pool = all_problems(kind)
        rng.shuffle(pool)
        k = min(len(pool), val_counts.get(kind, 0) * reserve)
        if val_counts.get(kind, 0) >= len(pool) and train_counts.get(kind, 0) > 0:
            raise ValueError(
                f"n_val asks for {val_counts[kind]} {kind!r} problems but only {len(pool)} exist; lower n_val"
            )
        candidates[kind] = pool[:k]
        rest = pool[k:]
        train.extend(rng.choice(rest) for _ in range(train_counts.get(kind, 0)))
    known = frozenset().union(*(facts(p) for p in train)) if covered_facts else frozenset()
    val: list[ArithProblem] = []
    for kind, pool in candidates.items():
        usable = [p for p in pool if not covered_facts or facts(p) <= known]
        if len(usable) < val_counts.get(kind, 0):
            raise ValueError(
                f"only {len(usable)} held-out {kind!r} problems have every fact in training; "
                f"lower n_val or raise n_train"
            )
        val.extend(usable[: val_counts.get(kind, 0)])
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


def to_row(problem: ArithProblem, index: int, split: str) -> dict:
    """One dataset row in verl's RL schema (what `RLHFDataset` and the reward loop read)."""
    return {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": prompt_text(problem)}],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": str(answer(problem))},
        "extra_info": {"index": index, "split": split, "question": question(problem)},
    }


def write_parquet(problems: Sequence[ArithProblem], split: str, path: str | Path) -> Path:
    """Write `problems` as a verl RL parquet file (rows indexed 0..n-1)."""
    import pandas as pd

    path = Path(path)
    frame = pd.DataFrame([to_row(p, i, split) for i, p in enumerate(problems)])
    frame.to_parquet(path, index=False)
    return path


def tokenizer_corpus() -> list[str]:
    """Every prompt and solution text of the task (all problems), for learning BPE merges.

    Independent of the seed, so every build shares one tokenizer.
    """
    texts = []
    for kind in KINDS:
        for problem in all_problems(kind):
            texts.append(f"user\n{prompt_text(problem)}")
            texts.extend(f"assistant\n{form}" for form in solution_forms(problem))
    return texts
