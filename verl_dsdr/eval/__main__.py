"""``python -m verl_dsdr.eval --samples FILE.jsonl [...] --out DIR``: score samples, write metrics, table and plot.

Outputs in DIR: ``metrics.json`` (with standard errors), ``metrics.csv``, ``table.md``,
``pass_at_k.png``, ``provenance.json``; with ``--log_samples`` also one
``samples_<method>_<benchmark>.jsonl`` of per-sample verdicts each. A file given twice, a repeated
``(method, benchmark, problem_id, sample_index)`` and a label that would name two table rows are refused
(exit 2) before anything is scored.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from verl_dsdr.eval import diversity, provenance
from verl_dsdr.eval.aggregate import build_metrics, sample_verdicts
from verl_dsdr.eval.grading import ScoringError, score_samples
from verl_dsdr.eval.metrics import UnequalSamplesWarning
from verl_dsdr.eval.plots import plot_pass_at_k
from verl_dsdr.eval.report import check_labels, write_csv, write_json, write_sample_logs, write_table
from verl_dsdr.eval.samples import SampleError, read_samples

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verl_dsdr.eval",
        description="Score sampled responses with the training verifier and report accuracy, pass@k and the "
        "diversity of correct solutions.",
    )
    parser.add_argument(
        "--samples",
        nargs="+",
        required=True,
        type=Path,
        help='JSON-lines files of {"method", "benchmark", "problem_id", "ground_truth", "response"} '
        "(method defaults to the file's stem; optional sample_index, prompt_hash, sampling); each file once",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--k-max", type=int, default=None, help="largest k reported (default: samples per problem)")
    parser.add_argument("--no-diversity", action="store_true", help="skip the diversity of correct responses")
    parser.add_argument(
        "--embedder-model",
        default=None,
        help="sentence-transformers name or path (default: the training embedder's default, all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--embedder-device",
        default="auto",
        help="device for the embedder: auto (cuda when available), cpu, cuda, cuda:1",
    )
    parser.add_argument("--embedder-batch-size", type=int, default=32)
    parser.add_argument("--embedder-max-tokens", type=int, default=256, help="tokens kept per response")
    parser.add_argument(
        "--cluster-threshold",
        type=float,
        default=diversity.DEFAULT_CLUSTER_THRESHOLD,
        help="cosine similarity at or above which correct responses count as the same solution "
        "(average-linkage clustering)",
    )
    parser.add_argument("--workers", type=int, default=2, help="scoring processes (<= 1: score in this process)")
    parser.add_argument("--time-limit", type=float, default=2.0, help="verifier time limit per response, seconds")
    parser.add_argument(
        "--log_samples",
        "--log-samples",
        dest="log_samples",
        action="store_true",
        help="also write per-sample verdicts, samples_<method>_<benchmark>.jsonl (problem_id, "
        "sample_index, prompt_hash, response, extracted_answer, ground_truth, correct, source), as "
        "lm-evaluation-harness's flag",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(args: argparse.Namespace) -> dict:
    """Everything the CLI does; returns the metrics written to ``metrics.json``."""
    if args.k_max is not None and args.k_max < 1:
        raise SampleError(f"--k-max must be >= 1, got {args.k_max}")
    samples = read_samples(args.samples, rejected_file=args.out / "rejected_samples.txt")
    inputs, sampling = provenance.read_inputs(args.samples)
    protocols = {method: (record or {}).get("protocol") for method, record in sampling.items()}
    check_labels(list(dict.fromkeys(s.method for s in samples)), protocols)
    encode = None
    if not args.no_diversity:  # loaded before scoring, so a bad embedder option fails fast
        encode = diversity.make_encoder(
            args.embedder_model,
            device=args.embedder_device,
            batch_size=args.embedder_batch_size,
            max_tokens=args.embedder_max_tokens,
        )
    correct = score_samples(samples, workers=args.workers, time_limit=args.time_limit, progress=not args.no_progress)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnequalSamplesWarning)
        metrics = build_metrics(
            samples,
            correct,
            encode=encode,
            cluster_threshold=args.cluster_threshold,
            k_max=args.k_max,
            progress=not args.no_progress,
        )
    for warning in caught:  # one plain line each, not Python's warning with its source line
        if issubclass(warning.category, UnequalSamplesWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_json(metrics, out / "metrics.json")
    write_csv(metrics, out / "metrics.csv")
    table = write_table(metrics, out / "table.md", protocols)
    plot_pass_at_k(metrics, out / "pass_at_k.png", protocols)
    requested = {
        "model": args.embedder_model,
        "device": args.embedder_device,
        "batch_size": args.embedder_batch_size,
        "max_tokens": args.embedder_max_tokens,
    }
    write_json(
        provenance.build_provenance(
            command=["python", "-m", "verl_dsdr.eval", *getattr(args, "argv", [])],
            inputs=inputs,
            sampling=sampling,
            verifier=provenance.verifier_record(args.time_limit, args.workers),
            embedder=provenance.embedder_record(encode, requested),
            options={"k_max": args.k_max, "cluster_threshold": args.cluster_threshold, "diversity": encode is not None},
        ),
        out / "provenance.json",
    )
    written = ["metrics.csv", "table.md", "pass_at_k.png", "provenance.json"]
    if args.log_samples:
        logs = write_sample_logs(sample_verdicts(samples, correct), out)
        written.append(f"{len(logs)} samples_*.jsonl")
    print(table.read_text(encoding="utf-8"))
    print(f"wrote {out / 'metrics.json'}, " + ", ".join(written), file=sys.stderr)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except (SampleError, ScoringError, diversity.EmbedderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
