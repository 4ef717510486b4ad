"""Sample responses from a checkpoint for evaluation: ``python -m verl_dsdr.generate --model PATH --data FILE.parquet --out FILE.jsonl``.

Reads a verl parquet file (from ``python -m verl_dsdr.data``), renders each chat prompt with the
model's chat template, draws ``n`` responses per problem and writes one JSON line per response:
``{"method", "benchmark", "data_source", "problem_id", "index", "ground_truth", "response",
"sample_index", "prompt_hash", "sampling"}``, which ``python -m verl_dsdr.eval`` reads. benchmark =
data_source = the row's ``data_source``; problem_id = the data's own id (``extra_info.id``, e.g.
``2024-I-1`` or ``test/prealgebra/1.json``; the row's ``extra_info.index`` when it has none); index =
``extra_info.index``; prompt_hash = SHA-256 of the prompt text as rendered (chat template applied);
``sampling`` = how it was drawn: settings, model and the SHA-256 of its weight files, data file and its
SHA-256, batch size, device and dtype.

Work is kept: the rows of a problem are appended (and flushed) as soon as its ``n`` responses are
done, problems in file order. Running the same command again resumes: problems already complete
in ``--out`` are skipped, rows of an unfinished problem and a line cut by a crash are dropped and
redone. Resuming with other sampling settings (or model weights, or data) or another method is
refused, naming the settings that differ (``--overwrite`` starts afresh). A resumed file is a valid sample, not byte-identical to an uninterrupted run
(the random stream restarts at ``--seed``).

Backends: ``hf`` (transformers ``generate`` in left-padded batches, CPU or GPU) and ``vllm``
(imported only when chosen). Both sample from the full distribution filtered by ``top_p`` only
(no top-k, whatever the checkpoint's generation config says), like vLLM's ``SamplingParams``.
Protocols (the paper's Sec. 4.1): ``pass1`` n=1, T=0.1 (top_p 1.0); ``avg16`` n=16, T=0.7,
top_p 0.9; ``passk`` n=64, T=0.7, top_p 0.9. Explicit ``--n/--temperature/--top-p`` override a protocol.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from verl_dsdr.eval.provenance import file_sha256, weights_sha256
from verl_dsdr.utils.jsonl import JsonlError, iter_jsonl, split_lines

__all__ = [
    "PROTOCOLS",
    "GenerationError",
    "SamplingSettings",
    "Problem",
    "read_problems",
    "render_prompts",
    "generate_hf",
    "generate_vllm",
    "SampleWriter",
    "method_name",
    "check_model",
    "model_folder",
    "resolve_device",
    "prompt_text",
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
_VERL_HF_CHECKPOINT = re.compile(r"global_step_(\d+)$")

Done = Callable[[int, list[str]], None]
"""Called with (prompt position, its n responses) as soon as a prompt is complete."""


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
    """The data's own id (``extra_info.id``), else the row's ``extra_info.index``."""
    ground_truth: str
    messages: list[dict]
    index: Any = None
    """``extra_info.index``: the row's number in the prepared file."""

    @property
    def key(self) -> tuple[str, str]:
        """Identity in a samples file (ids compared as text: ``3`` and ``"3"`` are one problem)."""
        return self.benchmark, str(self.problem_id)


def read_problems(path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems of a verl parquet file; errors name the row and the missing field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"data file {path} does not exist (make it with python -m verl_dsdr.data)")
    try:
        rows = pq.read_table(path).to_pylist()
    except (pa.ArrowInvalid, OSError) as err:
        raise GenerationError(
            f"{path} is not a readable parquet file ({err}); make it with python -m verl_dsdr.data"
        ) from None
    if limit is not None:
        rows = rows[:limit]
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
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
        own_id = (row["extra_info"] or {}).get("id")
        problem_id = own_id if isinstance(own_id, str) and own_id.strip() else index
        problem = Problem(str(benchmark), problem_id, str(ground_truth), [dict(m) for m in messages], index)
        if problem.key in seen:
            field = "extra_info.index" if problem_id is index else "extra_info.id"
            raise GenerationError(
                f"{path} rows {seen[problem.key]} and {number} share data_source {problem.benchmark!r} and "
                f"{field} {problem_id!r}: each problem needs its own id (python -m verl_dsdr.data numbers them "
                "and refuses repeated ids)"
            )
        seen[problem.key] = number
        problems.append(problem)
    if not problems:
        raise GenerationError(f"{path} has no rows")
    return problems


def prompt_text(
    tokenizer: Any, problem: Problem, *, raw_prompt: bool = False, chat_template_kwargs: dict | None = None
) -> str:
    """The prompt as text: the chat template with the generation prompt, or the raw user text."""
    if raw_prompt:
        return "\n".join(m["content"] for m in problem.messages)
    if getattr(tokenizer, "chat_template", None) is None:
        raise GenerationError("the tokenizer has no chat template; pass --raw-prompt to feed the plain user text")
    kwargs = chat_template_kwargs or {}
    return tokenizer.apply_chat_template(problem.messages, add_generation_prompt=True, tokenize=False, **kwargs)


def render_prompts(
    tokenizer: Any, problems: Sequence[Problem], *, raw_prompt: bool = False, chat_template_kwargs: dict | None = None
) -> list[list[int]]:
    """Prompt token ids of :func:`prompt_text` (special tokens added only to the raw text)."""
    texts = [
        prompt_text(tokenizer, p, raw_prompt=raw_prompt, chat_template_kwargs=chat_template_kwargs) for p in problems
    ]
    return [tokenizer(text, add_special_tokens=raw_prompt)["input_ids"] for text in texts]


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_device(device: str | None, dtype: str) -> tuple[str, str]:
    """(device, dtype) as used: cuda when available unless told; ``auto`` dtype = bfloat16 on cuda, float32 on cpu."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GenerationError(f"--device {device}: CUDA is not available here; use --device cpu")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype


def _windows(count: int, size: int) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


def generate_hf(
    model_path: str,
    prompts: Sequence[Sequence[int]],
    settings: SamplingSettings,
    *,
    batch_size: int = 8,
    device: str | None = None,
    dtype: str = "auto",
    progress: bool = True,
    on_done: Done | None = None,
) -> list[list[str]]:
    """``settings.n`` responses per prompt with transformers, ``batch_size`` sequences per ``generate`` call.

    Prompts are taken in order, a window of about four batches at a time; within a window the
    sequences are sorted by prompt length (less padding) and left-padded. ``on_done`` gets each
    prompt's responses as soon as the prompt is complete, prompts in order. Seeded once with
    ``settings.seed``: reproducible for the same prompts, batch size and device.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    if batch_size < 1:
        raise GenerationError(f"--batch-size must be >= 1, got {batch_size}")
    device, dtype = resolve_device(device, dtype)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype)
        # transformers types PreTrainedModel.to as an unbound wrapper, so every call reads as missing self
        model = model.to(device).eval()  # type: ignore[arg-type]
    except (OSError, ValueError) as err:
        raise GenerationError(f"--model {model_path}: cannot load the model ({err})") from err
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
    outputs: list[list[str | None]] = [[None] * settings.n for _ in prompts]
    per_window = max(1, -(-4 * batch_size // settings.n))  # prompts per window: about four batches
    torch.manual_seed(settings.seed)
    bar = tqdm(total=len(prompts) * settings.n, desc="generating", unit="response", disable=not progress)
    with torch.inference_mode():
        for window in _windows(len(prompts), per_window):
            jobs = sorted(((p, s) for p in window for s in range(settings.n)), key=lambda job: -len(prompts[job[0]]))
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
            if on_done is not None:
                for p in window:
                    on_done(p, [str(text) for text in outputs[p]])
    bar.close()
    return [[str(text) for text in texts] for texts in outputs]


def generate_vllm(
    model_path: str,
    prompts: Sequence[Sequence[int]],
    settings: SamplingSettings,
    *,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    chunk_size: int = 256,
    dtype: str = "auto",
    on_done: Done | None = None,
) -> list[list[str]]:
    """``settings.n`` responses per prompt with vLLM (token-id prompts, so both backends see the same input).

    Prompts go to vLLM ``chunk_size`` at a time, so finished chunks reach ``on_done`` (and the
    output file) while later ones are still sampled.
    """
    try:
        from vllm import LLM, SamplingParams
    except ImportError as err:
        raise GenerationError(
            "--backend vllm needs the vllm package, which is not installed here "
            f"({err}); install vllm on the GPU machine or use --backend hf"
        ) from err
    llm_kwargs: dict[str, Any] = {
        "model": model_path,
        "seed": settings.seed,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
    }
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
    outputs: list[list[str]] = []
    for chunk in _windows(len(prompts), chunk_size):
        results = llm.generate([{"prompt_token_ids": list(prompts[p])} for p in chunk], params)
        for p, result in zip(chunk, results):
            outputs.append([completion.text for completion in result.outputs])
            if on_done is not None:
                on_done(p, outputs[-1])
    return outputs


def _rows(
    method: str, problem: Problem, texts: Sequence[str], sampling: dict[str, Any] | None, prompt_hash: str | None
) -> str:
    lines = []
    for index, text in enumerate(texts):
        row: dict[str, Any] = {
            "method": method,
            "benchmark": problem.benchmark,
            "data_source": problem.benchmark,
            "problem_id": problem.problem_id,
            "index": problem.index,
            "ground_truth": problem.ground_truth,
            "response": text,
            "sample_index": index,
            "prompt_hash": prompt_hash,
        }
        if sampling is not None:
            row["sampling"] = sampling
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines)


_ABSENT = "(absent)"


def _differences(row: dict, method: str, sampling: dict[str, Any]) -> str:
    """``key: file's -> this run's`` for each setting that differs (not two whole records)."""
    diffs = []
    if row.get("method") != method:
        diffs.append(f"method: {row.get('method')!r} -> {method!r}")
    record = row.get("sampling")
    written: dict[str, Any] = record if isinstance(record, dict) else {}
    for key in dict.fromkeys([*written, *sampling]):
        old, new = written.get(key, _ABSENT), sampling.get(key, _ABSENT)
        if old != new:
            diffs.append(f"{key}: {old!r} -> {new!r}")
    return "; ".join(diffs)


class SampleWriter:
    """Appends one problem's rows at a time to a JSON-lines file, flushed to disk, and knows what is done.

    Opening an existing file reads it back: complete problems (``n`` rows with the same method and
    sampling settings) are kept, rows of unfinished problems and a cut last line are dropped.
    """

    def __init__(self, path: str | Path, method: str, sampling: dict[str, Any], problems: Sequence[Problem]) -> None:
        self.path = Path(path)
        self.method = method
        self.sampling = sampling
        self.n = int(sampling["n"])
        self.done: set[tuple[str, str]] = set()
        if self.path.is_dir():
            raise GenerationError(f"--out {self.path} is a folder; give a .jsonl file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._resume({p.key for p in problems})

    def _resume(self, known: set[tuple[str, str]]) -> None:
        rows: dict[tuple[str, str], list[bytes]] = {}
        data = self.path.read_bytes()
        lines = split_lines(data)
        try:
            for number, row in iter_jsonl(self.path, data):
                where = f"{self.path}:{number}"
                if "benchmark" not in row or "problem_id" not in row:
                    raise GenerationError(
                        f"{where}: not a samples row; use another --out, or --overwrite to replace it"
                    )
                if row.get("method") != self.method or row.get("sampling") != self.sampling:
                    raise GenerationError(
                        f"{where}: the file was written with other settings than this run's "
                        f"({_differences(row, self.method, self.sampling)}). Resuming would mix them: use another "
                        "--out, or --overwrite to start again"
                    )
                key = (str(row["benchmark"]), str(row["problem_id"]))
                if key not in known:
                    raise GenerationError(
                        f"{where}: problem {key} is not in --data (a file for another data set?); use another "
                        "--out, or --overwrite to start again"
                    )
                line = lines[number - 1]
                rows.setdefault(key, []).append(line if line.endswith(b"\n") else line + b"\n")
        except JsonlError as err:
            if not err.torn:  # a torn last line was cut by a crash while it was written: redone below
                raise GenerationError(
                    f"{err.where}: {err.problem}; this is not a file this tool wrote. Use another --out, "
                    "or --overwrite to replace it"
                ) from None
        complete = {key: kept for key, kept in rows.items() if len(kept) == self.n}
        self.done = set(complete)
        kept_data = b"".join(line for kept in complete.values() for line in kept)
        if kept_data != data:  # drop unfinished problems and a cut line, atomically
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes(kept_data)
            os.replace(tmp, self.path)

    def append(self, problem: Problem, texts: Sequence[str], prompt_hash: str | None = None) -> None:
        if len(texts) != self.n:
            raise ValueError(f"{len(texts)} responses for problem {problem.key}, expected {self.n}")
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(_rows(self.method, problem, texts, self.sampling, prompt_hash))
            handle.flush()
            os.fsync(handle.fileno())
        self.done.add(problem.key)


def method_name(model: str) -> str:
    """The label of a checkpoint: verl's ``<run>/global_step_N/actor/huggingface`` -> ``<run>-stepN``,
    ``.../global_step_N`` -> ``<run>-stepN``, any other folder -> its name."""
    parts = Path(os.path.expanduser(model.rstrip("/"))).parts
    for i in range(len(parts) - 1, 0, -1):
        step = _VERL_HF_CHECKPOINT.fullmatch(parts[i])
        if step and all(p in ("actor", "huggingface") for p in parts[i + 1 :]):
            return f"{parts[i - 1]}-step{step.group(1)}"
    return parts[-1] if parts else model


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint answers a TCP connection within ``timeout`` seconds."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def model_folder(model: str) -> Path:
    """The folder holding ``--model``'s files: the folder given, or a hub id's snapshot in the local cache
    (downloaded first when the hub can be reached). An id that is neither cached nor reachable fails at
    once, instead of after the hub client's retries."""
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except HFValidationError as err:
        raise GenerationError(f"--model {model}: not a folder nor a valid hub id ({err})") from None
    except LocalEntryNotFoundError:  # not in the local cache: downloaded below, if the hub can be reached
        if not _hub_reachable():
            raise GenerationError(
                f"--model {model}: not in the local Hugging Face cache "
                f"({os.environ.get('HF_HOME', '~/.cache/huggingface')}) and the hub cannot be reached (offline, or "
                f"HF_HUB_OFFLINE=1). Download it where there is network (huggingface-cli download {model}) or pass a "
                "checkpoint folder"
            ) from None
    try:
        return Path(snapshot_download(model))
    except RepositoryNotFoundError:
        raise GenerationError(f"--model {model}: no such model on the hub (check the id)") from None
    except OSError as err:
        raise GenerationError(f"--model {model}: cannot download it ({err})") from None


def check_model(model: str) -> None:
    """Refuse a ``--model`` that cannot be a Hugging Face checkpoint before anything heavy loads."""
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        if (path / "config.json").is_file():
            return
        hint = ""
        if (path / "huggingface" / "config.json").is_file():
            hint = f" verl saved the Hugging Face weights in {path / 'huggingface'}: pass that folder."
        elif any(path.glob("model_world_size_*")) or (path / "actor").is_dir():
            hint = (
                " This looks like verl's sharded checkpoint: save it with "
                "actor_rollout_ref.actor.checkpoint.save_contents=[model,hf_model] or convert it with "
                "python -m verl.model_merger merge --backend fsdp --local_dir <.../actor> --target_dir <out>."
            )
        raise GenerationError(
            f"--model {model}: the folder has no config.json, so it is not a Hugging Face checkpoint.{hint}"
        )
    looks_like_path = model.startswith((".", "/", "~")) or model.count("/") != 1 or path.exists()
    if looks_like_path:
        raise GenerationError(
            f"--model {model}: no such folder (give a Hugging Face checkpoint folder or a hub id "
            "already in the local cache)"
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a JSON object such as '{{\"enable_thinking\": false}}', got {text!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verl_dsdr.generate",
        description="Sample n responses per problem of a verl parquet file and write JSON lines for "
        "python -m verl_dsdr.eval. Rows are appended as problems finish; rerunning resumes.",
        epilog="protocols: "
        + "; ".join(
            f"{name}: n={p['n']}, temperature={p['temperature']}, top_p={p['top_p']}" for name, p in PROTOCOLS.items()
        ),
    )
    parser.add_argument("--model", required=True, help="checkpoint folder (HF format) or hub id in the local cache")
    parser.add_argument("--data", required=True, type=Path, help="verl parquet file")
    parser.add_argument("--out", required=True, type=Path, help="output .jsonl (resumed if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out instead of resuming it")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default=None, help="preset n/temperature/top_p")
    parser.add_argument("--n", type=_positive_int, default=None, help="responses per problem")
    parser.add_argument("--temperature", type=_float, default=None, help="0 = greedy")
    parser.add_argument("--top-p", type=_float, default=None)
    parser.add_argument(
        "--max-tokens",
        type=_positive_int,
        default=4096,
        help="new tokens per response (paper: 4096 for Qwen2.5-Math-1.5B, 8192 for Qwen3)",
    )
    parser.add_argument(
        "--method",
        default=None,
        help="method label in the output (default: the model folder's "
        "name, <run>-stepN for verl's <run>/global_step_N/actor/huggingface, then -<protocol> if "
        "--protocol is given)",
    )
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf")
    parser.add_argument("--batch-size", type=_positive_int, default=8, help="hf: sequences per generate call")
    parser.add_argument("--device", default=None, help="hf: cpu or cuda (default: cuda when available)")
    parser.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    parser.add_argument("--tensor-parallel-size", type=_positive_int, default=1, help="vllm: GPUs per model")
    parser.add_argument("--max-model-len", type=_positive_int, default=None, help="vllm: context length")
    parser.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=256,
        help="vllm: prompts per generate call (written when the call returns)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=_positive_int, default=None, help="only the first N problems")
    parser.add_argument("--raw-prompt", action="store_true", help="feed the plain user text (no chat template)")
    parser.add_argument(
        "--chat-template-kwargs",
        type=_json_object,
        default=None,
        help="JSON passed to apply_chat_template, e.g. '{\"enable_thinking\": false}'",
    )
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


def sampling_record(
    args: argparse.Namespace, settings: SamplingSettings, *, model_sha256: str | None = None
) -> dict[str, Any]:
    """What every output row records about how it was drawn (read back by the evaluator's provenance):
    the settings, the model and its weights hash, the data file and its hash, and (hf) the batch size,
    device and dtype, which the random stream depends on."""
    if args.backend == "vllm":
        batch_size, device, dtype = None, "cuda", args.dtype
    else:
        device, dtype = resolve_device(args.device, args.dtype)
        batch_size = args.batch_size
    return {
        "protocol": args.protocol,
        **asdict(settings),
        "backend": args.backend,
        "model": str(args.model),
        "model_sha256": model_sha256,
        "data": str(Path(args.data).resolve()),
        "data_sha256": file_sha256(args.data),
        "batch_size": batch_size,
        "device": device,
        "dtype": dtype,
        "raw_prompt": bool(args.raw_prompt),
        "chat_template_kwargs": args.chat_template_kwargs,
        "top_k": None,  # switched off in both backends
    }


def run(args: argparse.Namespace) -> Path:
    settings = settings_from_args(args)
    check_model(args.model)
    folder = model_folder(args.model)
    problems = read_problems(args.data, args.limit)
    # Default label: the checkpoint's name, plus the protocol, so that pass1 and avg16 samples of one
    # checkpoint stay two methods for the evaluator (which pairs them as Pass@1 / Avg@16).
    method = args.method or method_name(args.model) + (f"-{args.protocol}" if args.protocol else "")
    if args.overwrite and args.out.is_file():
        args.out.unlink()
    record = sampling_record(args, settings, model_sha256=weights_sha256(folder))
    writer = SampleWriter(args.out, method, record, problems)
    todo = [p for p in problems if p.key not in writer.done]
    if not todo:
        print(f"{args.out}: all {len(problems)} problems already sampled ({settings}); nothing to do", file=sys.stderr)
        return args.out
    if writer.done:
        print(f"{args.out}: resuming, {len(writer.done)} of {len(problems)} problems already sampled", file=sys.stderr)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    except (OSError, ValueError) as err:
        raise GenerationError(f"--model {args.model}: cannot load its tokenizer ({err})") from err
    texts = [
        prompt_text(tokenizer, p, raw_prompt=args.raw_prompt, chat_template_kwargs=args.chat_template_kwargs)
        for p in todo
    ]
    prompts = [tokenizer(text, add_special_tokens=args.raw_prompt)["input_ids"] for text in texts]
    hashes = [_sha256_text(text) for text in texts]

    def on_done(position: int, responses: list[str]) -> None:
        writer.append(todo[position], responses, hashes[position])

    if args.backend == "vllm":
        generate_vllm(
            args.model,
            prompts,
            settings,
            tensor_parallel_size=args.tensor_parallel_size,
            max_model_len=args.max_model_len,
            chunk_size=args.chunk_size,
            dtype=args.dtype,
            on_done=on_done,
        )
    else:
        generate_hf(
            args.model,
            prompts,
            settings,
            batch_size=args.batch_size,
            device=args.device,
            dtype=args.dtype,
            progress=not args.no_progress,
            on_done=on_done,
        )
    print(f"wrote {len(todo)} problems x {settings.n} responses to {args.out} ({settings})", file=sys.stderr)
    return args.out


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
