"""Two hand-written parts of the verifier against the library that could replace each (issue 22, goal 7).

``pool``: the process pool with hard deadlines (``verl_dsdr.scoring.bounded.BoundedRunner``) against
``pebble.ProcessPool`` (``schedule(..., timeout=)``), both with 4 spawned workers that preload
sympy and math-verify and run one real comparison before work, on the cases that matter to the
reward loop: a cold start, a correct call on a warm pool, a hostile call (math-verify hangs on
``2^{10^{10^{10}}}`` against ``1``) followed at once by a correct one, six concurrent callers of
which four are hostile, a trivial call's round trip, and the processes left after close.

``latex``: the math-span scanner (``verl_dsdr.scoring.formulas.find_math_spans``) against
``pylatexenc``'s ``LatexWalker`` (math nodes and math environments, tolerant parsing) on real
responses (the committed toy run's samples), hand-written LaTeX and hostile inputs: time and
agreement. Run from the repository root (pebble is not a dependency: install it to run ``pool``):

    python scripts/bench_library_choices.py pool --time-limit 2
    python scripts/bench_library_choices.py latex
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HOSTILE = ("2^{10^{10^{10}}}", "1")
CORRECT = ("(x+1)^2", "x^2+2x+1")
WORKERS = 4
ROUNDS = 5


# --- pool -----------------------------------------------------------------------------------


def _pebble_init(memory_mb: int) -> None:
    """What BoundedRunner's workers do before their first call: limit, preload, warm up."""
    import importlib
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from verl_dsdr.scoring.bounded import SCORING_PRELOAD

    for name in SCORING_PRELOAD:
        importlib.import_module(name)
    from verl_dsdr.scoring.correctness import warm_up

    warm_up()


class _Ours:
    name = "bounded.BoundedRunner"

    def __init__(self) -> None:
        from verl_dsdr.scoring.bounded import SCORING_PRELOAD, SCORING_WARMUP, BoundedRunner

        self.pool = BoundedRunner(workers=WORKERS, preload=SCORING_PRELOAD, memory_limit_mb=4096, warmup=SCORING_WARMUP)

    def call(self, fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[bool, Any]:
        outcome = self.pool.call_outcome(fn, args, timeout=timeout, wait=2 * timeout)
        return outcome.ok, outcome.value if outcome.ok else outcome.status

    def fill(self) -> None:
        self.pool.start()

    def pids(self) -> list[int]:
        return list(self.pool.pids)

    def close(self) -> None:
        self.pool.close()


class _Pebble:
    name = "pebble.ProcessPool"

    def __init__(self) -> None:
        import pebble

        self.name = f"pebble {pebble.__version__} ProcessPool"
        self.pool = pebble.ProcessPool(
            max_workers=WORKERS,
            initializer=_pebble_init,
            initargs=(4096,),
            context=multiprocessing.get_context("spawn"),
        )

    def call(self, fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[bool, Any]:
        from concurrent.futures import TimeoutError as FutureTimeout

        future = self.pool.schedule(fn, args=args, timeout=timeout)
        try:
            return True, future.result()
        except FutureTimeout:
            return False, "timeout"
        except Exception as err:  # a killed or broken worker
            return False, type(err).__name__

    def fill(self) -> None:
        time.sleep(0)  # pebble starts all its workers with the pool

    def pids(self) -> list[int]:
        import psutil

        # the spawn context's resource tracker is a child too, but no worker
        return [c.pid for c in psutil.Process().children() if "resource_tracker" not in " ".join(c.cmdline())]

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


def _timed(pool: Any, args: tuple, timeout: float) -> tuple[str, float]:
    from verl_dsdr.scoring.correctness import _math_verify

    t0 = time.perf_counter()
    ok, value = pool.call(_math_verify, args, timeout)
    return ("1" if value is True else "0") if ok else str(value), time.perf_counter() - t0


def bench_pool(kind: str, time_limit: float) -> dict[str, Any]:
    import psutil

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    pool = _Ours() if kind == "ours" else _Pebble()
    out["pool"] = pool.name
    out["first correct call (cold start), s"] = round(_timed(pool, CORRECT, time_limit)[1], 3)
    out["cold start to first result, s"] = round(time.perf_counter() - t0, 3)
    pool.fill()
    time.sleep(3 * time_limit)  # let every worker finish warming up
    warm = [_timed(pool, CORRECT, time_limit)[1] for _ in range(20)]
    out["correct call, warm pool, median ms"] = round(1000 * statistics.median(warm), 1)
    rows = []
    for _ in range(3):
        hostile = _timed(pool, HOSTILE, time_limit)
        after = _timed(pool, CORRECT, time_limit)
        rows.append(f"hostile {hostile[0]}/{hostile[1]:.2f}s then correct {after[0]}/{after[1] * 1000:.0f}ms")
    out["hostile then correct (result/time)"] = rows
    time.sleep(3 * time_limit)
    jobs = [HOSTILE] * 4 + [CORRECT, ("\\frac{1}{2}", "0.5")]
    correct_times, hostile_times, scores = [], [], []
    for _ in range(ROUNDS):  # which calls get a worker first is luck: several rounds
        results: list[Any] = [None] * len(jobs)
        barrier = threading.Barrier(len(jobs))

        def work(i: int, results: list[Any] = results, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            results[i] = _timed(pool, jobs[i], time_limit)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        correct_times += [round(s, 2) for _, s in results[4:]]
        hostile_times += [round(s, 2) for _, s in results[:4]]
        scores += [r for r, _ in results[4:]]
        time.sleep(3 * time_limit)  # the killed workers' replacements warm up
    out[f"6 concurrent, 4 hostile, {ROUNDS} rounds: correct calls' results"] = "".join(scores)
    out["... correct calls' times, s (sorted)"] = sorted(correct_times)
    out["... hostile calls' times, s (max)"] = max(hostile_times)
    trivial = []
    for _ in range(2000):
        s = time.perf_counter()
        pool.call(len, ("abc",), 5.0)
        trivial.append(time.perf_counter() - s)
    trivial.sort()
    out["trivial call round trip, median / p90 us"] = (
        round(statistics.median(trivial) * 1e6),
        round(trivial[int(0.9 * len(trivial))] * 1e6),
    )
    pids = pool.pids()
    out["warm workers' resident memory, MB"] = sorted(
        round(psutil.Process(p).memory_info().rss / 2**20) for p in pids if psutil.pid_exists(p)
    )
    pool.close()
    time.sleep(1.0)
    out["worker processes alive 1 s after close"] = sum(
        1 for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    )
    return out


# --- latex ----------------------------------------------------------------------------------

HAND_WRITTEN = [
    r"We have $a^2+b^2=c^2$ and $$x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}$$ so \(y=2\) and \[z = 3.\]",
    r"\begin{align} a &= b + c \\ d &= e \end{align} then \begin{equation} E = mc^2 \end{equation}",
    r"Costs $5 and $10 in total; the answer is $x+1$.",
    r"\begin{cases} x & x > 0 \\ -x & x \le 0 \end{cases} and $\left( \frac{1}{2} \right)$",
    "An open $x + \n\n y$ paragraph break, then $z$.",
    r"Escaped \$ sign and $\{1, 2\}$ set and \(\mathbb{R}\).",
]
HOSTILE_TEXTS = {
    "200 KB of '$a'": "$a" * 100_000,
    "100 KB of unclosed '\\('": "\\(" * 50_000,
    "100 KB of '{' after \\begin{equation}": "\\begin{equation}" + "{" * 100_000,
    "200 KB of '\\\\'": "\\\\" * 100_000,
}


def _pylatexenc_spans(text: str) -> list[str]:
    from pylatexenc.latexwalker import LatexEnvironmentNode, LatexMathNode, LatexWalker

    from verl_dsdr.scoring.formulas import MATH_ENVIRONMENTS

    nodes, _, _ = LatexWalker(text, tolerant_parsing=True).get_latex_nodes()
    spans: list[str] = []

    def walk(items: Any) -> None:
        for node in items or []:
            if isinstance(node, LatexMathNode):
                spans.append(node.latex_verbatim()[len(node.delimiters[0]) : -len(node.delimiters[1]) or None])
            elif isinstance(node, LatexEnvironmentNode) and node.environmentname in MATH_ENVIRONMENTS:
                spans.append("".join(n.latex_verbatim() for n in node.nodelist))
            elif getattr(node, "nodelist", None):
                walk(node.nodelist)

    walk(nodes)
    return [s.strip() for s in spans]


def _ours_spans(text: str) -> list[str]:
    from verl_dsdr.scoring.formulas import _BLOCK_ENVS, find_math_spans

    out = []
    for kind, content in find_math_spans(text):
        if kind == "boxed":
            continue  # \boxed{} outside math: pylatexenc has no notion of it
        if kind in _BLOCK_ENVS:  # ours keeps the wrapper of a block environment
            content = content.split("}", 1)[1].rsplit("\\end", 1)[0]
        out.append(content.strip())
    return out


def _time(fn: Callable[[str], Any], texts: list[str]) -> float:
    t0 = time.perf_counter()
    for text in texts:
        fn(text)
    return time.perf_counter() - t0


def bench_latex() -> dict[str, Any]:
    import pylatexenc

    rows = []
    for path in sorted((REPO / "docs" / "toy" / "runs").glob("*/seed*/samples.jsonl")):
        rows += [json.loads(line)["response"] for line in path.read_text().splitlines() if line.strip()]
    responses = rows[:3000]
    out: dict[str, Any] = {"pylatexenc": pylatexenc.version.version_str, "toy responses": len(responses)}
    for name, fn in (("ours", _ours_spans), ("pylatexenc", _pylatexenc_spans)):
        _time(fn, responses[:50])  # imports and caches
        out[f"{name}: us per toy response"] = round(1e6 * _time(fn, responses) / len(responses), 1)
    same = sum(_ours_spans(t) == _pylatexenc_spans(t) for t in responses)
    out["toy responses with the same spans"] = f"{same}/{len(responses)}"
    out["hand-written cases"] = [
        {"text": t[:60], "ours": _ours_spans(t), "pylatexenc": _pylatexenc_spans(t)} for t in HAND_WRITTEN
    ]
    for name, text in HOSTILE_TEXTS.items():
        for label, fn in (("ours", _ours_spans), ("pylatexenc", _pylatexenc_spans)):
            t0 = time.perf_counter()
            try:
                found = len(fn(text))
                result = f"{found} spans"
            except RecursionError:
                result = "RecursionError"
            out[f"hostile {name}: {label}"] = f"{time.perf_counter() - t0:.3f} s, {result}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("pool", "latex"))
    parser.add_argument("--time-limit", type=float, default=2.0, help="pool: the hostile calls' deadline, s")
    args = parser.parse_args()
    import logging

    import psutil

    logging.disable(logging.WARNING)
    print(f"load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores")
    if args.part == "pool":
        for kind in ("ours", "pebble"):
            print(json.dumps(bench_pool(kind, args.time_limit), indent=1, ensure_ascii=False))
    else:
        print(json.dumps(bench_latex(), indent=1, ensure_ascii=False))
    print(f"load average {psutil.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
