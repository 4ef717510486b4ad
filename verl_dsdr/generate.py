"""Sample responses from a checkpoint for evaluation: ``python -m verl_dsdr.generate --model PATH --data FILE.parquet --out FILE.jsonl``.

Reads a verl parquet file (from ``python -m verl_dsdr.data``), renders each chat prompt with the
model's chat template, draws ``n`` responses per problem and writes one JSON line per response:
``{"method", "benchmark", "problem_id", "ground_truth", "response"}`` (benchmark = ``data_source``,
problem_id = ``extra_info.index``), which ``python -m verl_dsdr.eval`` reads.

Backends: ``hf`` (transformers ``generate`` in left-padded batches, CPU or GPU) and ``vllm``
(imported only when chosen). Both sample from the full distribution filtered by ``top_p`` only
(no top-k, whatever the checkpoint's generation config says), like vLLM's ``SamplingParams``.
Protocols (the paper's Sec. 4.1): ``pass1`` n=1, T=0.1 (top_p 1.0); ``avg16`` n=16, T=0.7,
top_p 0.9; ``passk`` n=64, T=0.7, top_p 0.9. Explicit ``--n/--temperature/--top-p`` override a protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "PROTOCOLS",
    "GenerationError",
    "SamplingSettings",
    "Problem",
    "read_problems",
    "render_prompts",
    "generate_hf",
    "generate_vllm",
    "write_samples",
    "settings_from_args",
    "build_parser",
    "main",
]

PROTOCOLS: dict[str, dict[str, float | int]] = {
    "pass1": {"n": 1, "temperature": 0.1, "top_p": 1.0},
    "avg16": {"n": 16, "temperature": 0.7, "top_p": 0.9},
    "passk": {"n": 64, "temperature": 0.7, "top_p": 0.9},
}
_FALLBACK = {"n": 1, "temperature": 1.0, "top_p": 1.0}


class GenerationError(RuntimeError):
    """Generation cannot run as asked; the message says how to fix it."""


@dataclass(frozen=True)
class SamplingSettings:
    """How responses are drawn; ``temperature == 0`` means greedy decoding."""

    n: int
    temperature: float
    top_p: float
    max_tokens: int
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise GenerationError(f"--n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise GenerationError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise GenerationError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise GenerationError(f"--max-tokens must be >= 1, got {self.max_tokens}")


@dataclass(frozen=True)
class Problem:
    """One prompt of a verl parquet file and what the evaluator needs to score its responses."""

    benchmark: str
    problem_id: Any
    ground_truth: str
    messages: list[dict]


def read_problems(path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems of a verl parquet file; errors name the row and the missing field."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"data file {path} does not exist (make it with python -m verl_dsdr.data)")
    rows = pq.read_table(path).to_pylist()
    if limit is not None:
        rows = rows[:limit]
    problems = []
    for number, row in enumerate(rows):
        try:
            messages = row["prompt"]
            ground_truth = row["reward_model"]["ground_truth"]
            index = row["extra_info"]["index"]
            benchmark = row["data_source"]
        except (KeyError, TypeError) as err:
            raise GenerationError(
                f"{path} row {number}: missing {err} (needs prompt, data_source, reward_model.ground_truth, "
                "extra_info.index: the schema python -m verl_dsdr.data writes)"
            ) from err
        if not isinstance(messages, list) or not messages:
            raise GenerationError(f"{path} row {number}: 'prompt' must be a non-empty chat list")
        problems.append(Problem(str(benchmark), index, str(ground_truth), [dict(m) for m in messages]))
    if not problems:
        raise GenerationError(f"{path} has no rows")
    return problems


def render_prompts(
    tokenizer: Any, problems: Sequence[Problem], *, raw_prompt: bool = False, chat_template_kwargs: dict | None = None
) -> list[list[int]]:
    """Prompt token ids: the chat template with the generation prompt, or the raw user text."""
    if raw_prompt:
        return [tokenizer("\n".join(m["content"] for m in p.messages))["input_ids"] for p in problems]
    if getattr(tokenizer, "chat_template", None) is None:
        raise GenerationError("the tokenizer has no chat template; pass --raw-prompt to feed the plain user text")
    kwargs = chat_template_kwargs or {}
    prompts = []
    for problem in problems:
        text = tokenizer.apply_chat_template(problem.messages, add_generation_prompt=True, tokenize=False, **kwargs)
        prompts.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return prompts


def generate_hf(
    model_path: str,
    prompts: Sequence[Sequence[int]],
    settings: SamplingSettings,
    *,
    batch_size: int = 8,
    device: str | None = None,
    dtype: str = "auto",
    progress: bool = True,
) -> list[list[str]]:
    """``settings.n`` responses per prompt with transformers, ``batch_size`` sequences per ``generate`` call.

    Sequences are sorted by prompt length (less padding) and left-padded; results come back in
    prompt order. Seeded once with ``settings.seed``: reproducible for the same batch size and device.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    if batch_size < 1:
        raise GenerationError(f"--batch-size must be >= 1, got {batch_size}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32,
                   "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype).to(device).eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise GenerationError(f"{model_path}: the tokenizer has neither a pad nor an eos token")
    eos = model.generation_config.eos_token_id
    eos = eos if eos is not None else tokenizer.eos_token_id
    sample = settings.temperature > 0
    config = GenerationConfig(
        max_new_tokens=settings.max_tokens,
        do_sample=sample,
        pad_token_id=pad_id,
        eos_token_id=eos,
        **({"temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0} if sample else {}),
    )
    jobs = sorted(
        ((p, s) for p in range(len(prompts)) for s in range(settings.n)), key=lambda job: -len(prompts[job[0]])
    )
    outputs: list[list[str | None]] = [[None] * settings.n for _ in prompts]
    torch.manual_seed(settings.seed)
    bar = tqdm(total=len(jobs), desc="generating", unit="response", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            width = max(len(prompts[p]) for p, _ in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (p, _) in enumerate(batch):
                tokens = torch.tensor(list(prompts[p]), dtype=torch.long)
                ids[row, width - len(tokens) :] = tokens
                mask[row, width - len(tokens) :] = 1
            generated = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config
            )
            texts = tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
            for (p, s), text in zip(batch, texts):
                outputs[p][s] = text
            bar.update(len(batch))
    bar.close()
    return outputs  # type: ignore[return-value]


def generate_vllm(
    model_path: str,
    prompts: Sequence[Sequence[int]],
    settings: SamplingSettings,
    *,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
) -> list[list[str]]:
    """``settings.n`` responses per prompt with vLLM (token-id prompts, so both backends see the same input)."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError as err:
        raise GenerationError(
            "--backend vllm needs the vllm package, which is not installed here "
            f"({err}); install vllm on the GPU machine or use --backend hf"
        ) from err
    llm_kwargs: dict[str, Any] = {"model": model_path, "seed": settings.seed, "tensor_parallel_size": tensor_parallel_size}
    if max_model_len is not None:
        llm_kwargs["max_model_len"] = max_model_len
    llm = LLM(**llm_kwargs)
    params = SamplingParams(
        n=settings.n,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_tokens,
        seed=settings.seed,
    )
    results = llm.generate([{"prompt_token_ids": list(ids)} for ids in prompts], params)
    return [[completion.text for completion in result.outputs] for result in results]


def write_samples(path: str | Path, method: str, problems: Sequence[Problem], responses: Sequence[Sequence[str]]) -> Path:
    """One JSON line per response, problems in file order, samples in draw order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for problem, texts in zip(problems, responses, strict=True):
            for text in texts:
                row = {
                    "method": method,
                    "benchmark": problem.benchmark,
                    "problem_id": problem.problem_id,
                    "ground_truth": problem.ground_truth,
                    "response": text,
                }
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verl_dsdr.generate",
        description="Sample n responses per problem of a verl parquet file and write JSON lines for "
        "python -m verl_dsdr.eval.",
        epilog="protocols: " + "; ".join(
            f"{name}: n={p['n']}, temperature={p['temperature']}, top_p={p['top_p']}" for name, p in PROTOCOLS.items()
        ),
    )
    parser.add_argument("--model", required=True, help="checkpoint folder (HF format) or hub id")
    parser.add_argument("--data", required=True, type=Path, help="verl parquet file")
    parser.add_argument("--out", required=True, type=Path, help="output .jsonl")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default=None, help="preset n/temperature/top_p")
    parser.add_argument("--n", type=int, default=None, help="responses per problem")
    parser.add_argument("--temperature", type=float, default=None, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=4096, help="new tokens per response (paper: 4096 for "
                        "Qwen2.5-Math-1.5B, 8192 for Qwen3)")
    parser.add_argument("--method", default=None, help="method label in the output (default: the model folder name)")
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf")
    parser.add_argument("--batch-size", type=int, default=8, help="hf: sequences per generate call")
    parser.add_argument("--device", default=None, help="hf: cpu or cuda (default: cuda when available)")
    parser.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm: GPUs per model")
    parser.add_argument("--max-model-len", type=int, default=None, help="vllm: context length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--raw-prompt", action="store_true", help="feed the plain user text (no chat template)")
    parser.add_argument("--chat-template-kwargs", type=json.loads, default=None,
                        help='JSON passed to apply_chat_template, e.g. \'{"enable_thinking": false}\'')
    parser.add_argument("--no-progress", action="store_true")
    return parser


def settings_from_args(args: argparse.Namespace) -> SamplingSettings:
    """Explicit flags first, then the protocol's preset, then n=1, T=1.0, top_p=1.0."""
    preset = PROTOCOLS[args.protocol] if args.protocol else _FALLBACK
    chosen = {key: preset[key] if getattr(args, key) is None else getattr(args, key) for key in preset}
    return SamplingSettings(
        n=int(chosen["n"]),
        temperature=float(chosen["temperature"]),
        top_p=float(chosen["top_p"]),
        max_tokens=args.max_tokens,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> Path:
    from transformers import AutoTokenizer

    settings = settings_from_args(args)
    problems = read_problems(args.data, args.limit)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    prompts = render_prompts(tokenizer, problems, raw_prompt=args.raw_prompt, chat_template_kwargs=args.chat_template_kwargs)
    if args.backend == "vllm":
        responses = generate_vllm(
            args.model, prompts, settings, tensor_parallel_size=args.tensor_parallel_size, max_model_len=args.max_model_len
        )
    else:
        responses = generate_hf(
            args.model, prompts, settings, batch_size=args.batch_size, device=args.device, dtype=args.dtype,
            progress=not args.no_progress,
        )
    method = args.method or Path(args.model.rstrip("/")).name
    out = write_samples(args.out, method, problems, responses)
    print(f"wrote {len(problems)} problems x {settings.n} responses to {out} ({settings})", file=sys.stderr)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except GenerationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
