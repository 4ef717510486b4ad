"""The wire contract between the reward loop, the group trainer and the actor loss.

Per trajectory, the ``dsdr`` reward manager returns ``reward_extra_info`` holding the fields
below; verl stores that dict unchanged in TransferQueue's ``extra_fields`` (as
``extra_fields[i]["reward_extra_info"]``). The group trainer decodes a whole batch of them
into :class:`verl_dsdr.methods.base.GroupInputs`. Per sample, the trainer then puts
``dsdr_coef`` into TransferQueue, where the actor's loss reads it on every micro-batch.
Validation prompts carry ``dsdr_validate`` so the reward loop skips training-only work.
Imports neither verl nor ray.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch

from verl_dsdr.methods.base import MANAGER_HINT, GroupInputs
from verl_dsdr.methods.dsdr.config import COEF

CORRECT = "dsdr_correct"  # 0.0 | 1.0: the verifier's verdict (the method's r_i = 1[correct])
EMBEDDING = "dsdr_embedding"  # list of floats: L2-normalised response embedding z_i (Eq. 4)
FORMULAS = "dsdr_formulas"  # sorted list of str: formula set S(o_i) (Eq. 7)
SCORING_SECONDS = "dsdr_scoring_seconds"  # float: reward-side time spent on formulas and embedding
VALIDATE = "dsdr_validate"  # non-tensor flag on validation prompts (reward loop skips diversity work)
__all__ = ["COEF", "CORRECT", "EMBEDDING", "FORMULAS", "MANAGER_HINT", "SCORING_SECONDS", "VALIDATE"]


def encode_extras(
    correct: bool,
    formulas: Optional[Iterable[str]] = None,
    embedding: Any = None,
    scoring_seconds: Optional[float] = None,
) -> dict[str, Any]:
    """One trajectory's ``reward_extra_info`` fields (plain lists and floats: they cross process boundaries)."""
    out: dict[str, Any] = {CORRECT: 1.0 if correct else 0.0}
    if formulas is not None:
        out[FORMULAS] = sorted(formulas)
    if embedding is not None:
        out[EMBEDDING] = [float(v) for v in embedding]
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
    extra_fields: Sequence[Any],
    uids: Sequence[str],
    padding: Sequence[bool],
    need_embeddings: bool,
    need_formulas: bool,
) -> GroupInputs:
    """A batch's ``extra_fields`` -> GroupInputs; padding rows get neutral values and ids of their own."""
    real = ~torch.as_tensor(np.asarray(padding, dtype=bool))
    infos = [_info(e) if r else {} for e, r in zip(extra_fields, real.tolist())]
    for key, needed in ((CORRECT, True), (EMBEDDING, need_embeddings), (FORMULAS, need_formulas)):
        if needed and any(r and key not in info for info, r in zip(infos, real.tolist())):
            raise ValueError(f"reward_extra_info lacks {key!r}: {MANAGER_HINT}")
    correct = torch.tensor([bool(info.get(CORRECT, 0.0)) for info in infos], dtype=torch.bool)
    embeddings = None
    if need_embeddings:
        dim = len(next((info[EMBEDDING] for info in infos if EMBEDDING in info), []))
        rows = [info.get(EMBEDDING) or [0.0] * dim for info in infos]
        embeddings = torch.tensor(np.asarray(rows, dtype=np.float32))
    formulas = [frozenset(info.get(FORMULAS, ())) for info in infos] if need_formulas else None
    seconds = float(sum(float(info.get(SCORING_SECONDS, 0.0)) for info in infos))
    # verl's padding rows share one uid; give each its own so they never form a group with real rows.
    index = np.array([u if r else f"__dsdr_pad_{i}" for i, (u, r) in enumerate(zip(uids, real.tolist()))], dtype=object)
    return GroupInputs(index, real, correct & real, embeddings, formulas, seconds)
