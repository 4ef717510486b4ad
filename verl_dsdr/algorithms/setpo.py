"""SetPO, a peer method on the same pipeline (arXiv 2602.01062, as reimplemented by others).

Set diversity of a group S of responses (embeddings y):
    D(S) = mean_{i in S} g( mean_{j in S} k(y_i, y_j) ),   g(x) = -log(1 + x),
with k the cosine similarity clamped to [0, 1] (k(y, y) = 1; both means include j = i).
Each rollout's leave-one-out contribution s_i = D(S) - D(S \\ {i}) is added to its advantage
after the GRPO normalisation: A_i + lambda * s_i (all rollouts, or correct ones only).

Closed form for a whole group: with row sums R_i = sum_j K_ij, removing k changes member i's
mean similarity to (R_i - K_ik) / (n - 1), so
    D(S \\ {k}) = -(1/(n-1)) sum_{i != k} log(1 + (R_i - K_ik) / (n - 1)),
one [n_groups, G, G] tensor expression instead of G recomputations.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .dsdr import normalized_embeddings
from .groups import GroupLayout, check_batch, from_padded, group_layout, to_bool_tensor, to_float_tensor, to_padded

__all__ = ["setpo_set_diversity", "setpo_contributions", "setpo_shaped_advantages"]


def _similarity(embeddings: Any, index: Any) -> tuple[torch.Tensor, GroupLayout]:
    """Padded kernel ``K[g, i, j] = clamp(cos(y_i, y_j), 0, 1)`` with ``K_ii = 1``, zero off the group."""
    z = normalized_embeddings(embeddings)
    layout = group_layout(index, z.device)
    check_batch(z, layout.batch_size, "embeddings", ndim=2)
    zp = to_padded(z, layout)
    k = (zp @ zp.transpose(1, 2)).clamp_(0.0, 1.0)
    valid = layout.valid
    pair = valid[:, :, None] & valid[:, None, :]
    eye = torch.eye(layout.max_size, dtype=torch.bool, device=z.device)
    k = torch.where(eye & pair, torch.ones_like(k), k)  # k(y, y) = 1, even for a zero embedding
    return torch.where(pair, k, torch.zeros_like(k)), layout


def setpo_set_diversity(embeddings: Any, index: Any) -> torch.Tensor:
    """``D(S)`` per group, float32 ``[n_groups]`` in order of first appearance.

    Ranges over [-log 2, -log(1 + 1/n)]: -log 2 for n identical responses, -log(1 + 1/n) for n
    mutually orthogonal ones.

    Args:
        embeddings: ``[B, dim]`` response embeddings.
        index: ``[B]`` uids, or the step's ``GroupLayout``.

    Returns:
        float32 ``[n_groups]``.
    """
    k, layout = _similarity(embeddings, index)
    n = layout.sizes.to(k.dtype)
    if layout.n_groups == 0:
        return k.new_zeros(0)
    mean_sim = k.sum(-1) / n[:, None]
    g = torch.where(layout.valid, -torch.log1p(mean_sim), torch.zeros_like(mean_sim))
    return g.sum(-1) / n


def setpo_contributions(embeddings: Any, index: Any) -> torch.Tensor:
    """Leave-one-out contribution ``s_i = D(S) - D(S \\ {i})``, float32 ``[B]``.

    Closed form over the padded group (see module docstring). A group of size 1 gets s = 0:
    ``D`` of the empty set is undefined and a lone rollout has nothing to be rarer than.

    Args:
        embeddings: ``[B, dim]`` response embeddings.
        index: ``[B]`` uids, or the step's ``GroupLayout``.

    Returns:
        float32 ``[B]`` ``s``.
    """
    k, layout = _similarity(embeddings, index)
    if layout.batch_size == 0:
        return k.new_zeros(0)
    n = layout.sizes.to(k.dtype)
    valid = layout.valid
    row = k.sum(-1)  # R_i, [n_groups, G]
    full = torch.where(valid, -torch.log1p(row / n[:, None]), torch.zeros_like(row)).sum(-1) / n
    rest = (n - 1).clamp_min(1)[:, None, None]
    # loo[g, k, i] = log(1 + (R_i - K_ik) / (n - 1)); K is symmetric so K_ik = k[g, k, i].
    loo = torch.log1p((row[:, None, :] - k) / rest)
    eye = torch.eye(layout.max_size, dtype=torch.bool, device=k.device)
    keep = valid[:, None, :] & ~eye
    without = -torch.where(keep, loo, torch.zeros_like(loo)).sum(-1) / rest[:, :, 0]  # D(S \ {k})
    contrib = torch.where((n > 1)[:, None], full[:, None] - without, torch.zeros_like(without))
    return from_padded(contrib, layout)


def setpo_shaped_advantages(
    base_advantages: Any,
    contributions: Any,
    correct: Any,
    lambda_: float,
    *,
    response_mask: Any = None,
) -> torch.Tensor:
    """SetPO advantage ``A_i + lambda * s_i``, float32, same shape as ``base_advantages``.

    ``base_advantages`` is ``[B]`` or token-level ``[B, L]`` (then s_i is broadcast over tokens and
    ``response_mask``, if given, zeroes padding as verl's estimators do). With ``correct`` (bool
    ``[B]``) only correct rollouts get the term (the correct-only flag).

    Args:
        base_advantages: ``[B]`` or ``[B, L]`` GRPO advantages.
        contributions: ``[B]`` ``s``.
        correct: optional bool ``[B]``: only these get the term.
        lambda_: weight of ``s``.
        response_mask: optional ``[B, L]``, with token-level advantages only.

    Returns:
        float32, the shape of ``base_advantages`` (``[B]`` or ``[B, L]``).
    """
    if not (isinstance(lambda_, (int, float)) and math.isfinite(lambda_)):
        raise ValueError(f"lambda_ must be a finite number, got {lambda_!r}")
    a = to_float_tensor(base_advantages, "base_advantages")
    if a.dim() not in (1, 2):
        raise ValueError(f"base_advantages must be [B] or [B, L], got shape {tuple(a.shape)}")
    s = to_float_tensor(contributions, "contributions", a.device)
    check_batch(s, a.shape[0], "contributions")
    bonus = float(lambda_) * s
    if correct is not None:
        c = to_bool_tensor(correct, "correct", a.device)
        check_batch(c, a.shape[0], "correct")
        bonus = torch.where(c, bonus, torch.zeros_like(bonus))
    if a.dim() == 1:
        if response_mask is not None:
            raise ValueError("response_mask applies only to token-level [B, L] base_advantages")
        return a + bonus
    out = a + bonus[:, None]
    if response_mask is not None:
        m = to_bool_tensor(response_mask, "response_mask", a.device)
        if m.shape != a.shape:
            raise ValueError(f"response_mask {tuple(m.shape)} must match base_advantages {tuple(a.shape)}")
        out = torch.where(m, out, torch.zeros_like(out))
    return out
