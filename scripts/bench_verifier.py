"""What a hostile response costs the verifier, and what it costs the calls around it.

Prints: the first call of a process (one worker starts and warms up), the rest of the pool's
start, a correct call on a warm pool, three hostile calls each followed by a correct one, calls
with k = 1 and 5 hostile ground-truth items, six concurrent callers of which four are hostile,
a trivial call's round trip, and the resident memory of a warm worker. Hostile = ``2^{10^{10^{10}}}``
against a number (math-verify hangs on it). Run from the repository root:

    python scripts/bench_verifier.py --time-limit 2
    python scripts/bench_verifier.py --workers 1     # one worker: waits for restarts
"""

from __future__ import annotations

import argparse
import logging
import statistics
import threading
import time

HOSTILE = r"\boxed{2^{10^{10^{10}}}}"
CORRECT = (r"\boxed{(x+1)^2}", "x^2+2x+1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=2.0, help="the verifier's time_limit, seconds")
    parser.add_argument("--workers", type=int, default=None, help="scoring_workers (default: the config's default)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the budget warnings of the hostile calls are expected here

    import psutil

    from verl_dsdr.scoring.bounded import BoundedRunner, configure_scoring, scoring_runner
    from verl_dsdr.scoring.correctness import score_correctness
    from verl_dsdr.scoring.pool_config import scoring_pool

    configure_scoring(scoring_pool({"scoring_workers": args.workers}))

    def timed(response, truth):
        t0 = time.perf_counter()
        score = score_correctness(response, truth, time_limit=args.time_limit)
        return score, time.perf_counter() - t0

    print(f"time_limit {args.time_limit:g} s; load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores")
    print(
        "first call of a process (a worker starts and warms up, not charged): score {:.0f}, {:.2f} s".format(
            *timed(*CORRECT)
        )
    )
    runner = scoring_runner()
    t0 = time.perf_counter()
    runner.start()
    print(f"rest of the pool ready ({runner.workers} workers): {time.perf_counter() - t0:.2f} s")
    print("correct answer, warm pool: score {:.0f}, {:.3f} s".format(*timed(*CORRECT)))
    for _ in range(3):
        print("hostile answer: score {:.0f}, {:.2f} s".format(*timed(HOSTILE, "1")), end="; ")
        print("correct answer right after: score {:.0f}, {:.3f} s".format(*timed(*CORRECT)))
    for k in (1, 5):
        runner.start()
        print(f"{k} hostile ground-truth item(s): score %.0f, %.2f s" % timed(r"\boxed{1}", [HOSTILE[7:-1]] * k))
    runner.start()
    jobs = [(HOSTILE, "1")] * 4 + [CORRECT, (r"\boxed{\frac{1}{2}}", "0.5")]
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        barrier.wait()
        results[i] = timed(*jobs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("6 concurrent callers, 4 hostile (score/seconds):", ", ".join(f"{s:.0f}/{t:.2f}" for s, t in results))
    runner.start()
    rss = [round(psutil.Process(pid).memory_info().rss / 2**20) for pid in runner.pids]
    print(f"warm scoring workers' resident memory: {rss} MB")
    with BoundedRunner() as plain:
        plain.start()
        times = []
        for _ in range(2000):
            t0 = time.perf_counter()
            plain.call(len, ("abc",), timeout=5)
            times.append(time.perf_counter() - t0)
    times.sort()
    print(f"trivial call round trip: median {statistics.median(times) * 1e6:.0f} us, p90 {times[1800] * 1e6:.0f} us")


if __name__ == "__main__":
    main()
