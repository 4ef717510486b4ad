"""Shared pieces of the benchmarks: seeded synthetic math rollouts, timing, JSON output.

Standard library only (torch is imported lazily, for device synchronisation), so that
``bench_actor_loss.py`` runs on a machine that has nothing but torch and transformers.
Every figure a benchmark prints is also written, with the machine it ran on, to ``--json``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Importing tensordict (verl, the estimators' comparisons) makes torch create its inductor cache
# folder, /tmp/torchinductor_<user> by default: keep it with the checkout's caches, as
# scripts/lib/env.sh does for the other scripts.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "torchinductor"))

CHARS_PER_TOKEN = 4
"""Synthetic text is sized in tokens at this many characters per token (3,000 tokens ~ 12 KB)."""


# --- timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds of repeated runs of one callable (after warm-up): wall clock and this process's CPU time.

    On a shared machine the wall clock also counts time spent waiting for a core; the process CPU
    time (user + system, all threads of this process, child processes excluded) does not.
    """

    median_s: float
    mean_s: float
    min_s: float
    max_s: float
    runs: int
    cpu_median_s: float
    cpu_min_s: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def time_call(fn: Callable[[], Any], repeats: int, warmup: int = 1, sync: Callable[[], None] | None = None) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; ``sync`` waits for the device.

    A full garbage collection runs before the timed runs, so that a collection owed to whatever the
    caller allocated earlier does not land in the first timed run.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    gc.collect()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu, _ = time_once_cpu(fn, sync)
        walls.append(wall)
        cpus.append(cpu)
    return Timing(
        statistics.median(walls),
        statistics.fmean(walls),
        min(walls),
        max(walls),
        len(walls),
        statistics.median(cpus),
        min(cpus),
    )


def time_once(fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> tuple[float, Any]:
    """(wall seconds, result) of one call of ``fn``."""
    wall, _, result = time_once_cpu(fn, sync)
    return wall, result


def time_once_cpu(fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> tuple[float, float, Any]:
    """(wall seconds, process CPU seconds, result) of one call of ``fn``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn()
    if sync is not None:
        sync()
    return time.perf_counter() - wall0, time.process_time() - cpu0, result


def cache_cpu_allocations() -> bool:
    """Keep freed memory in the process (glibc only): no mmap for large blocks, no trimming.

    glibc serves large tensors with fresh ``mmap`` pages and returns them on free, so every CPU
    step pays page faults for its big activations (more than half of a small model's step here)
    while a GPU step reuses the CUDA caching allocator's blocks. Turning both off makes CPU steps
    reuse memory the same way. Returns whether it was applied.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_max = -1, -4  # glibc's mallopt parameter numbers
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def ratio(value: float, base: float) -> float:
    """``value / base``; NaN when the base is not positive (printed as "n/a")."""
    return value / base if base > 0 else float("nan")


# --- reporting ------------------------------------------------------------------------------


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages: other jobs on a shared machine slow every figure."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def environment(device: str) -> dict[str, Any]:
    """Where the figures come from: machine, thread count and library versions."""
    env: dict[str, Any] = {
        "device_requested": device,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_average_1_5_15min": load_average(),
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
        if device.startswith("cuda") and torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    except ImportError:
        env["torch"] = None
    try:
        import transformers

        env["transformers"] = transformers.__version__
    except ImportError:
        env["transformers"] = None
    return env


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON to ``path`` (no-op for None); NaN becomes null."""
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_finite(payload), handle, indent=2, sort_keys=False)
        handle.write("\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.{digits}f}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table on stdout."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for k, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))


# --- synthetic math rollouts ------------------------------------------------------------------


@dataclass(frozen=True)
class Rollout:
    """One synthetic response of a group: ``correct`` says whether its last \\boxed{} is the answer."""

    uid: str
    text: str
    ground_truth: str
    correct: bool

    @property
    def tokens(self) -> int:
        return len(self.text) // CHARS_PER_TOKEN


_FILLER = (
    "We double-check this value against the constraint from the previous step, since an arithmetic "
    "slip here would propagate to the final answer. ",
    "Before moving on, note that the expression is symmetric, so the same argument applies to the "
    "other variable as well. ",
    "Hmm, wait. Let me re-read the problem statement to make sure the condition was used correctly. ",
    "This matches the estimate we made at the start, which is a good sign that the setup is right. ",
)


def _step(rng: random.Random) -> str:
    """One solution step with LaTeX in one of the forms the extractor must handle."""
    a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 30)
    kind = rng.randrange(12)  # kinds 8..11 are prose: about a third of the steps carry no math
    if kind == 0:
        return f"Let $x = {a}$ and $y = {b}$. Then $x + y = {a + b}$ and $xy = {a * b}$, so the sum is fixed. "
    if kind == 1:
        return f"Evaluating, \\[ f({c}) = {c}^2 - {a}\\cdot {c} + {b} = {c * c - a * c + b}. \\] "
    if kind == 2:
        return (
            "Expanding the product gives\n\\begin{align*}\n"
            f"(x - {a})(x - {b}) &= x^2 - {a + b}x + {a * b} \\\\\n"
            f"&= x^2 - {a + b}x + {a * b} - {c} + {c} \\\\\n"
            f"x &= {a} \\quad \\text{{or}} \\quad x = {b}\n\\end{{align*}}\n"
        )
    if kind == 3:
        total = c * (c + 1) * (2 * c + 1) // 6
        return f"$$\\sum_{{i=1}}^{{{c}}} i^2 = \\frac{{{c}({c}+1)(2\\cdot {c}+1)}}{{6}} = {total}$$\n"
    if kind == 4:
        return (
            f"Adding the fractions, \\( \\dfrac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{b}}} = \\frac{{{a + c}}}{{{b}}} \\), "
            f"and $\\left( \\frac{{{a}}}{{{c}}} \\right)^2 = \\frac{{{a * a}}}{{{c * c}}}$. "
        )
    if kind == 5:
        return (
            f"Define \\[ g(x) = \\begin{{cases}} x^2 & x \\ge {a} \\\\ {b} - x & x < {a} \\end{{cases}} \\] "
            f"so that $g({a}) = {a * a}$. "
        )
    if kind == 6:
        return f"So far the partial result is $\\boxed{{{a + b}}}$ for this case, and we continue. "
    if kind == 7:
        return (
            f"By the triangle inequality, $|x - {a}| + |x - {b}| \\geq |{a} - {b}| = {abs(a - b)}$, "
            f"with equality for ${min(a, b)} \\le x \\le {max(a, b)}$.\n"
        )
    return rng.choice(_FILLER) + rng.choice(_FILLER)


def _target_tokens(rng: random.Random, min_tokens: int, max_tokens: int, tail_fraction: float) -> int:
    """Long-tailed length: most responses in the lower 70% of the range, a tail up to max_tokens."""
    knee = min_tokens + int(0.7 * (max_tokens - min_tokens))
    if rng.random() < tail_fraction:
        return rng.randint(knee, max_tokens)
    return rng.randint(min_tokens, knee)


def synthetic_rollouts(
    groups: int,
    group_size: int,
    seed: int = 0,
    min_tokens: int = 500,
    max_tokens: int = 3000,
    tail_fraction: float = 0.3,
    correct_fraction: float = 0.5,
) -> list[Rollout]:
    """``groups * group_size`` seeded math rollouts, group by group.

    Each group has its own problem, answer and three shared sub-solutions (a paragraph of
    steps); every rollout repeats one or two of them verbatim between its own steps, as
    rollouts of one prompt do. Lengths are long-tailed in ``[min_tokens, max_tokens]``
    (``CHARS_PER_TOKEN`` characters per token; the last step may overshoot by ~70 tokens).
    A rollout ends with ``\\boxed{answer}``, the right one with probability
    ``correct_fraction`` (wrong ones are off by a fraction, so the verifier has to compare them
    symbolically).
    """
    if groups < 1 or group_size < 1 or not 0 < min_tokens <= max_tokens:
        raise ValueError(
            f"need groups >= 1, group_size >= 1 and 0 < min_tokens <= max_tokens; got {groups}, {group_size}, "
            f"{min_tokens}, {max_tokens}"
        )
    rng = random.Random(seed)
    out: list[Rollout] = []
    for g in range(groups):
        uid = f"prompt-{seed}-{g}"
        answer = rng.randint(10, 999)
        shared = ["".join(_step(rng) for _ in range(rng.randint(3, 6))) for _ in range(3)]
        for _ in range(group_size):
            target = _target_tokens(rng, min_tokens, max_tokens, tail_fraction) * CHARS_PER_TOKEN
            reuse = rng.sample(shared, rng.randint(1, 2))
            parts = [f"We solve the problem step by step. The key quantity is $N = {answer % 97}$.\n"]
            size = len(parts[0])
            while size < target - 120:
                piece = reuse.pop() if reuse and rng.random() < 0.15 else _step(rng)
                if size + len(piece) > target + 40:  # a shared paragraph would overshoot: one step instead
                    piece = _step(rng)
                parts.append(piece)
                size += len(piece)
            correct = rng.random() < correct_fraction
            boxed = str(answer) if correct else f"\\frac{{{answer * 2 + rng.randint(1, 9)}}}{{2}}"
            parts.append(f"\nTherefore, the final answer is $\\boxed{{{boxed}}}$.")
            out.append(Rollout(uid, "".join(parts), str(answer), correct))
    return out


def long_rollouts(n: int, seed: int = 0, tokens: int = 3000, group_size: int = 8) -> list[Rollout]:
    """``n`` rollouts of about ``tokens`` tokens each (the longest responses, worst case per rollout)."""
    groups = max(1, -(-n // group_size))
    rollouts = synthetic_rollouts(groups, group_size, seed, tokens - 10, tokens, tail_fraction=0.0)
    return rollouts[:n]
