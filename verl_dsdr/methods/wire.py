"""What travels from the reward loop to the group step: the wire contract and the shared reward-side fields.

Per trajectory, the ``dsdr`` reward manager returns ``reward_extra_info`` holding the verifier's
verdict (``dsdr_correct``), the reward-side time (``dsdr_scoring_seconds``) and one entry per
:class:`~verl_dsdr.methods.base.RewardField` of the method (``field.key``, :func:`encode_extras`);
verl stores that dict unchanged in TransferQueue's ``extra_fields`` (as
``extra_fields[i]["reward_extra_info"]``). The group trainer decodes a whole batch into
:class:`~verl_dsdr.methods.base.GroupInputs` (:func:`decode_batch`), each field collated by the
field itself. Validation prompts carry ``dsdr_validate`` so the reward loop skips training-only work.

The fields the built-in methods share live here too: the response embedding ``z_i`` (Eq. 4) and
the formula set ``S(o_i)`` (Eq. 7). A method with a field of its own defines it in its own file
the same way. Imports neither verl nor ray (the encoder loads in the reward workers).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
import torch

from verl_dsdr.algorithms.dsdr import FormulaKeys
from verl_dsdr.methods.base import MANAGER_HINT, GroupInputs, RewardField
from verl_dsdr.methods.params import Settings, param
from verl_dsdr.scoring.embedder import (
    CHUNKING_MODES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DEVICE,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL_NAME,
    MAX_TOKENS_RANGE,
    MIN_BATCH_SIZE,
    validate_embedder_config,
)

logger = logging.getLogger(__name__)

CORRECT = "dsdr_correct"  # 0.0 | 1.0: the verifier's verdict (the method's r_i = 1[correct])
SCORING_SECONDS = "dsdr_scoring_seconds"  # float: reward-side time spent on the method's fields
VALIDATE = "dsdr_validate"  # non-tensor flag on validation prompts (reward loop skips diversity work)
EMBEDDING = "dsdr_embedding"  # float32 ndarray [dim]: L2-normalised response embedding z_i (Eq. 4)
FORMULAS = "dsdr_formulas"  # int64 ndarray: sorted 64-bit keys of the formula set S(o_i) (Eq. 7)


@dataclass
class EmbedderConfig(Settings):
    """``algorithm.dsdr.embedder``: the frozen sentence encoder behind ``z_i`` (Eq. 4)."""

    KEY = "algorithm.dsdr.embedder"
    _target_: str = "verl_dsdr.methods.wire.EmbedderConfig"
    model: str = param(
        DEFAULT_MODEL_NAME,
        "sentence-transformers model name or local folder (paper: all-MiniLM-L6-v2)",
        symbol="z_i",
        eq="Eq. 4",
    )
    device: str = param(DEFAULT_DEVICE, "where reward workers embed: cpu | cuda | cuda:N | auto")
    batch_size: int = param(DEFAULT_BATCH_SIZE, "responses per encoder call", low=MIN_BATCH_SIZE)
    max_tokens: int = param(
        DEFAULT_MAX_TOKENS, "the encoder's window in word pieces", low=MAX_TOKENS_RANGE[0], high=MAX_TOKENS_RANGE[1]
    )
    chunking: str = param(
        CHUNKING_MODES[0],
        "longer responses: truncate (paper) | mean of max_tokens chunks (choice)",
        eq="Eq. 4",
        choices=CHUNKING_MODES,
    )


@dataclass
class FormulaConfig(Settings):
    """``algorithm.dsdr.formulas``: how the formula set ``S(o_i)`` is keyed (Eq. 7)."""

    KEY = "algorithm.dsdr.formulas"
    _target_: str = "verl_dsdr.methods.wire.FormulaConfig"
    canonical: str = param(
        "string",
        "formula key: normalised string | sympy canonical form (choice)",
        symbol="S(o_i)",
        eq="Eq. 7",
        choices=("string", "sympy"),
    )
    time_limit: float = param(
        1.0, "seconds, hard limit per formula in sympy mode (at most 4x per response)", low=0.0, low_open=True
    )


class ResponseEmbedding(RewardField):
    """``z_i``: the L2-normalised embedding of the response (Eq. 4), one encoder per reward worker.

    Trajectories that finish together, from every concurrent ``run_single`` of a worker, are
    encoded as one batch through one shared :class:`~verl_dsdr.utils.batching.MicroBatcher`.
    """

    key = EMBEDDING
    # One loaded encoder and batcher per process and settings (the encoder is large).
    _loaded: ClassVar[dict[tuple, tuple[Any, Any]]] = {}

    def __init__(self, settings: EmbedderConfig):
        self.settings = settings

    def _id(self) -> tuple:
        s = self.settings
        return (s.model, s.device, s.batch_size, s.max_tokens, s.chunking)

    def check(self) -> None:
        """The model must be loadable where the reward workers run (a local folder must exist)."""
        s = self.settings
        try:
            validate_embedder_config(s.model, s.device, s.batch_size, s.max_tokens, s.chunking)
        except ValueError as error:  # the message names DSDR's key; say the one this method reads
            raise ValueError(str(error).replace(EmbedderConfig.KEY, s.KEY)) from None

    @property
    def batcher(self) -> Any:
        """The shared micro-batcher of this process's encoder (after :meth:`start`)."""
        if self._id() not in self._loaded:
            raise RuntimeError("the response encoder is not loaded: the reward manager starts it in init_class")
        return self._loaded[self._id()][1]

    def start(self, config: Any) -> None:
        """Load the encoder once per process and say where it runs and what it costs per step."""
        if self._id() in self._loaded:
            return
        from verl_dsdr.scoring.embedder import ResponseEmbedder
        from verl_dsdr.utils.batching import MicroBatcher

        s = self.settings
        begin = time.perf_counter()
        embedder = ResponseEmbedder(
            model=s.model, device=s.device, batch_size=s.batch_size, max_tokens=s.max_tokens, chunking=s.chunking
        )
        loaded = time.perf_counter() - begin
        per_response = embedder.measure_cost()
        rollouts = int(config.data.train_batch_size) * int(config.actor_rollout_ref.rollout.n)
        workers = max(1, int(config.reward.num_workers))
        message = (
            f"[verl_dsdr] embedder {embedder.describe()} loaded in {loaded:.1f}s; "
            f"~{per_response * 1e3:.1f} ms per ~3,000-token response, ~{per_response * rollouts / workers:.1f}s per step "
            f"per reward worker ({rollouts} rollouts over {workers} workers, overlapped with generation)"
        )
        print(message, flush=True)
        if str(s.device).startswith("cpu") and torch.cuda.is_available():
            logger.warning(
                "%s. A GPU is visible but the embedder runs on CPU: set %s.device=cuda "
                "if rollout leaves it time to hide behind.",
                message,
                s.KEY,
            )
        encode = cast(Callable[[Sequence[str]], Sequence[Any]], embedder.encode)  # rows of an ndarray
        batcher: MicroBatcher[str, Any] = MicroBatcher(encode, max_batch=s.batch_size * 4, window_s=0.01)
        self._loaded[self._id()] = (embedder, batcher)

    async def compute(self, text: str) -> np.ndarray:
        # A float32 array of its own (not a view of the encoder's batch): it pickles as 4 bytes a
        # number, and the trainer stacks the batch in one call instead of parsing Python floats.
        return np.array(await self.batcher.submit(text), dtype=np.float32)

    def collate(self, values: list[Any], real: torch.Tensor) -> torch.Tensor:
        """float32 ``[B, dim]``; padding rows (and rows without a value) get zeros. Lists of floats work too."""
        rows = [None if v is None or len(v) == 0 else np.asarray(v, dtype=np.float32) for v in values]
        dim = next((r.shape[0] for r in rows if r is not None), 0)
        if any(r is not None and r.shape != (dim,) for r in rows):
            raise ValueError(f"{self.key}: embeddings of different lengths in one batch (expected {dim} floats each)")
        zero = np.zeros(dim, dtype=np.float32)
        out = np.stack([zero if r is None else r for r in rows]) if rows else np.zeros((0, 0), dtype=np.float32)
        return torch.from_numpy(out)


class FormulaSet(RewardField):
    """``S(o_i)``: the response's formula set (Eq. 7), carried as the 64-bit digests of its canonical keys."""

    key = FORMULAS

    def __init__(self, settings: FormulaConfig):
        self.settings = settings

    async def compute(self, text: str) -> np.ndarray:
        from verl_dsdr.scoring.formulas import extract_formulas

        canonical, limit = self.settings.canonical, self.settings.time_limit
        # Off the event loop: sympy mode may wait on its hard time limit.
        found = await asyncio.get_running_loop().run_in_executor(
            None, lambda: extract_formulas(text, canonical=canonical, time_limit=limit)
        )
        return formula_hashes(found)

    def collate(self, values: list[Any], real: torch.Tensor) -> FormulaKeys:
        """The batch's sets packed as dense ids (padding rows: empty). Lists of key strings work too."""
        keys = [
            np.zeros(0, dtype=np.int64) if v is None else v if isinstance(v, np.ndarray) else formula_hashes(v)
            for v in values
        ]
        sizes = np.fromiter((k.size for k in keys), dtype=np.int64, count=len(keys))
        flat = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        ids = np.unique(flat, return_inverse=True)[1].reshape(-1).astype(np.int64)
        return FormulaKeys(sizes, ids)


def formula_hashes(keys: Iterable[str]) -> np.ndarray:
    """The distinct formula keys as sorted 64-bit BLAKE2b digests (int64): what ``dsdr_formulas`` carries.

    A stable digest, not Python's per-process ``hash``: every reward worker must give one formula
    the same number. Two different formulas share a number with probability about ``n^2 / 2^65``
    (1e-10 for the ~60,000 keys of a 256 x 8 step).
    """
    digests = (
        int.from_bytes(
            hashlib.blake2b(k.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True
        )
        for k in set(keys)
    )
    return np.unique(np.fromiter(digests, dtype=np.int64))


# --- the wire: one trajectory's entries, a batch's inputs -----------------------------------------


def encode_extras(
    correct: bool, fields: Mapping[str, Any] | None = None, scoring_seconds: float | None = None
) -> dict[str, Any]:
    """One trajectory's ``reward_extra_info`` entries (plain lists and floats: they cross process boundaries)."""
    out: dict[str, Any] = {CORRECT: 1.0 if correct else 0.0, **(fields or {})}
    if scoring_seconds is not None:
        out[SCORING_SECONDS] = float(scoring_seconds)
    return out


def is_validation(non_tensor: dict) -> bool:
    """True for a validation prompt: flagged by the trainer, or a data row whose split says so."""
    if VALIDATE in non_tensor:
        return bool(non_tensor[VALIDATE])
    extra = non_tensor.get("extra_info") or {}
    return isinstance(extra, dict) and str(extra.get("split", "")).lower() in ("test", "val", "validation")


def _info(extra: Any) -> dict:
    info = extra.get("reward_extra_info") if isinstance(extra, dict) else None
    if info is None:
        raise ValueError(f"a trajectory has no reward_extra_info: {MANAGER_HINT}")
    return info


def decode_batch(
    extra_fields: Sequence[Any], uids: Sequence[str], padding: Sequence[bool], fields: Sequence[RewardField]
) -> GroupInputs:
    """A batch's ``extra_fields`` -> GroupInputs; padding rows get neutral values and ids of their own."""
    real = ~torch.as_tensor(np.asarray(padding, dtype=bool))
    real_rows = real.tolist()
    infos = [_info(e) if r else {} for e, r in zip(extra_fields, real_rows)]
    for key in (CORRECT, *(f.key for f in fields)):
        if any(r and key not in info for info, r in zip(infos, real_rows)):
            raise ValueError(f"reward_extra_info lacks {key!r}: {MANAGER_HINT}")
    correct = torch.tensor([bool(info.get(CORRECT, 0.0)) for info in infos], dtype=torch.bool)
    collated = {f.key: f.collate([info.get(f.key) for info in infos], real) for f in fields}
    seconds = float(sum(float(info.get(SCORING_SECONDS, 0.0)) for info in infos))
    # verl's padding rows share one uid; give each its own so they never form a group with real rows.
    index = np.array([u if r else f"__dsdr_pad_{i}" for i, (u, r) in enumerate(zip(uids, real_rows))], dtype=object)
    return GroupInputs(index, real, correct & real, collated, seconds)
