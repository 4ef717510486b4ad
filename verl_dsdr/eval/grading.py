"""Score every sampled response with the training verifier, sequentially or in a process pool.

``score_correctness`` (math-verify underneath) can take a while per response and bounds itself
with a time limit; a pool of ``workers`` processes spreads that over cores. Processes are started
with ``spawn`` so that no thread state of the parent (torch, tokenizers) is forked.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from verl_dsdr.eval.samples import Sample

__all__ = ["ScoringError", "score_samples"]


class ScoringError(RuntimeError):
    """The verifier raised on a row; the message names the row's file:line."""


def _score_one(job: tuple[str, str, str, float]) -> tuple[bool, float | str]:
    """(ok, score) or (False, error text): exceptions are returned, so the parent can name the row."""
    from verl_dsdr.scoring.correctness import score_correctness

    response, ground_truth, data_source, time_limit = job
    try:
        return True, float(score_correctness(response, ground_truth, data_source=data_source, time_limit=time_limit))
    except Exception as err:  # report any verifier failure with the row it happened on
        return False, f"{type(err).__name__}: {err}"


def score_samples(
    samples: Sequence[Sample],
    *,
    workers: int = 2,
    time_limit: float = 2.0,
    progress: bool = True,
    chunksize: int = 16,
) -> list[bool]:
    """Correctness of each sample (``data_source`` = its benchmark), in input order.

    ``workers <= 1`` scores in this process.
    """
    from tqdm.auto import tqdm

    if not time_limit > 0:
        raise ScoringError(f"--time-limit must be > 0 seconds, got {time_limit}")
    jobs = [(s.response, s.ground_truth, s.benchmark, time_limit) for s in samples]
    bar = tqdm(total=len(jobs), desc="scoring", unit="response", disable=not progress)
    results: list[tuple[bool, float | str]] = []
    try:
        if workers <= 1:
            for job in jobs:
                results.append(_score_one(job))
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for result in pool.map(_score_one, jobs, chunksize=chunksize):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()
    correct: list[bool] = []
    for sample, (ok, value) in zip(samples, results):
        if not ok or isinstance(value, str):
            raise ScoringError(f"{sample.source}: the verifier failed: {value}")
        correct.append(value >= 0.5)
    return correct
