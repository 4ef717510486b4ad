"""DSDR's math (Wan et al., arXiv 2602.19895; equation numbers are the paper's).

Global scale (Eq. 4-11): a diversity score d_i per rollout from its group's peers, a clipped,
correct-only reward bonus, and softmax coupling weights over each group's correct rollouts.
Local scale (Eq. 12-15): a length-invariant, importance-sampled entropy estimate per rollout
built from the sampled tokens' log-probs only.

Pure torch/numpy: imports neither verl nor ray, runs on CPU and CUDA (outputs stay on the
inputs' device). ``index`` is verl's ``uid`` per sample (see ``groups.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .groups import (
    GroupLayout,
    check_batch,
    device_of,
    from_padded,
    group_layout,
    sample_group_sizes,
    sequence_of,
    to_bool_tensor,
    to_float_tensor,
    to_padded,
)

__all__ = [
    "LOG_RATIO_CLAMP",
    "normalized_embeddings",
    "semantic_diversity",
    "FormulaKeys",
    "formula_uniqueness",
    "global_diversity",
    "clipped_diversity",
    "shaped_rewards",
    "coupling_weights",
    "group_sizes",
    "loss_coefficients",
    "local_entropy_tokens",
    "sequence_mean",
    "local_entropy",
    "entropy_of_weights",
]

# |log pi_theta - log pi_old| is clamped to this before exp (rho <= e^20 ~ 4.9e8): a safety net
# against overflow on stale or corrupt log-probs. Tokens beyond it get no gradient through rho.
LOG_RATIO_CLAMP = 20.0


def _peer_matrix(layout: GroupLayout, peer_mask: torch.Tensor | None) -> torch.Tensor:
    """``M[g, i, j]``: j is a peer of i (same group, j != i, j real, j allowed by peer_mask)."""
    valid = layout.valid
    if peer_mask is not None:
        valid = valid & to_padded(peer_mask, layout, False)
    eye = torch.eye(layout.max_size, dtype=torch.bool, device=layout.device)
    return valid[:, None, :] & ~eye


def _finite_check(t: torch.Tensor, name: str) -> None:
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf; check the encoder output before computing diversity")


def normalized_embeddings(embeddings: Any) -> torch.Tensor:
    """Row-wise L2-normalised float32 embeddings ``z_i`` (Eq. 4); a zero row stays zero.

    Rows are first divided by their max-abs entry, so the result does not depend on the input
    scale (no overflow at 1e30, no underflow to "zero" at 1e-30).

    Args:
        embeddings: ``[B, dim]`` finite numbers.

    Returns:
        float32 ``[B, dim]``, unit rows (zero rows stay zero).
    """
    e = to_float_tensor(embeddings, "embeddings")
    if e.dim() != 2:
        raise ValueError(f"embeddings must be [B, dim], got shape {tuple(e.shape)}")
    _finite_check(e, "embeddings")
    scale = e.abs().amax(dim=1, keepdim=True)
    e = e / torch.where(scale > 0, scale, torch.ones_like(scale))
    return F.normalize(e, dim=1)


def semantic_diversity(embeddings: Any, index: Any, peer_mask: Any = None) -> torch.Tensor:
    """Semantic diversity ``D_emb(o_i)`` per rollout, float32 ``[B]`` (Eq. 4-6).

    ``D_emb(o_i) = mean_{j peer of i} (1 - z_i . z_j) / 2`` with ``z`` L2-normalised and each
    distance clamped to [0, 1]. Peers are the other members of i's group; with ``peer_mask``
    (bool ``[B]``) only members whose mask is True count (spec option peers=correct). No peers
    (group of size 1, or all peers masked out) gives 0. One batched matrix product over the
    padded ``[n_groups, G_max, dim]`` layout. A zero embedding is at distance 1/2 from everything.

    Args:
        embeddings: ``[B, dim]`` response embeddings.
        index: ``[B]`` uids, or the step's ``GroupLayout``.
        peer_mask: optional bool ``[B]``: who counts as a peer.

    Returns:
        float32 ``[B]`` in [0, 1].
    """
    z = normalized_embeddings(embeddings)
    layout = group_layout(index, z.device)
    check_batch(z, layout.batch_size, "embeddings", ndim=2)
    pm = None if peer_mask is None else to_bool_tensor(peer_mask, "peer_mask", z.device)
    if pm is not None:
        check_batch(pm, layout.batch_size, "peer_mask")
    if layout.batch_size == 0:
        return z.new_zeros(0)
    zp = to_padded(z, layout)  # [n, G, dim]
    dist = ((1.0 - zp @ zp.transpose(1, 2)) * 0.5).clamp_(0.0, 1.0)  # [n, G, G]
    peers = _peer_matrix(layout, pm)
    count = peers.sum(-1)
    total = torch.where(peers, dist, torch.zeros_like(dist)).sum(-1)
    d = torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))
    return from_padded(d, layout)


class FormulaKeys(NamedTuple):
    """A batch's formula sets, packed: what :func:`formula_uniqueness` counts, without Python sets.

    ``sizes[b]`` is the number of distinct keys of sample ``b``; ``ids`` holds those keys as dense
    integer ids (``0..K-1``, equal ids = equal keys), sample after sample. The group step receives
    this from the wire (one numpy call per batch instead of one set per sample).
    """

    sizes: np.ndarray  # int64 [B]
    ids: np.ndarray  # int64 [sum(sizes)]


def _flatten_formula_sets(formula_sets: Any, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys of every sample as (sizes [B], dense key ids [sum sizes]) in sample order."""
    if isinstance(formula_sets, FormulaKeys):
        sizes, ids = np.asarray(formula_sets.sizes, dtype=np.int64), np.asarray(formula_sets.ids, dtype=np.int64)
        if sizes.shape != (batch,) or ids.shape != (int(sizes.sum()),) or (ids.size and int(ids.min()) < 0):
            raise ValueError(
                f"FormulaKeys must hold {batch} sizes and sum(sizes) non-negative ids, got shapes "
                f"{sizes.shape} and {ids.shape}"
            )
        return sizes, ids
    sets = sequence_of(formula_sets)
    if len(sets) != batch:
        raise ValueError(f"formula_sets has {len(sets)} entries but index has {batch} samples")
    sizes = np.empty(batch, dtype=np.int64)
    flat: list = []
    for b, s in enumerate(sets):
        if isinstance(s, (str, bytes)) or s is None or not isinstance(s, Iterable):
            raise TypeError(
                f"formula_sets[{b}] must be a set/frozenset/list of formula keys, got {type(s).__name__}; "
                "use an empty set for a response without formulas"
            )
        distinct = s if isinstance(s, (set, frozenset)) else set(s)
        sizes[b] = len(distinct)
        flat.extend(distinct)
    vocab = {key: i for i, key in enumerate(dict.fromkeys(flat))}
    key_ids = np.fromiter((vocab[k] for k in flat), dtype=np.int64, count=len(flat))
    return sizes, key_ids


def formula_uniqueness(
    formula_sets: Sequence[Iterable[str]],
    index: Any,
    peer_mask: Any = None,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Formula-level uniqueness ``D_eq(o_i)`` per rollout, float32 ``[B]`` (Eq. 7-8).

    ``D_eq(o_i) = |{f in S_i : f not in union_{j peer of i} S_j}| / |S_i|``; 0 when ``S_i`` is
    empty and 0 when i has no peer (group of size 1, or every other member excluded by
    ``peer_mask``): with nothing to compare against, nothing is "unique". Duplicates inside one
    list count once. Vectorised over the whole batch: one pass to assign key ids, then counts
    of (group, key) pairs among peers; no loop over pairs or groups.

    The output lives on ``device`` if given, else on the device of ``peer_mask`` or ``index``
    when those are tensors, else on the CPU.

    Args:
        formula_sets: ``B`` iterables of hashable formula keys, or the batch packed as :class:`FormulaKeys`.
        index: ``[B]`` uids, or the step's ``GroupLayout``.
        peer_mask: optional bool ``[B]``: who counts as a peer.
        device: where the result goes.

    Returns:
        float32 ``[B]`` in [0, 1].
    """
    out_device = torch.device(device) if device is not None else device_of(peer_mask, index)
    layout = group_layout(index, "cpu")  # the counting is done in numpy
    batch = layout.batch_size
    sizes, key_ids = _flatten_formula_sets(formula_sets, batch)
    if peer_mask is None:
        peer = np.ones(batch, dtype=bool)
    else:
        pm = to_bool_tensor(peer_mask, "peer_mask")
        check_batch(pm, batch, "peer_mask")
        peer = pm.cpu().numpy()
    gid = layout.ids.numpy()
    # Number of peers of each sample: peers in its group, minus itself if it is one.
    peer_f = peer.astype(np.float64)
    group_peers = np.bincount(gid, weights=peer_f, minlength=layout.n_groups)
    has_peer = (group_peers[gid] - peer_f) > 0

    result: np.ndarray = np.zeros(batch, dtype=np.float64)
    if key_ids.size:
        owner = np.repeat(np.arange(batch), sizes)
        n_keys = int(key_ids.max()) + 1
        pair = gid[owner] * n_keys + key_ids  # (group, key) code
        _, pair_inv = np.unique(pair, return_inverse=True)
        owner_peer = peer[owner].astype(np.float64)
        holders = np.bincount(pair_inv, weights=owner_peer)  # peers in the group holding the key
        unique = (holders[pair_inv] - owner_peer) == 0  # no *other* peer holds it
        result = np.bincount(owner, weights=unique, minlength=batch)
    d = np.where(has_peer & (sizes > 0), result / np.maximum(sizes, 1), 0.0)
    out = torch.from_numpy(d.astype(np.float32))
    return out if out_device is None else out.to(out_device)


def global_diversity(semantic: Any, formula: Any, weight: float) -> torch.Tensor:
    """Global diversity ``d_i = weight * D_emb + (1 - weight) * D_eq``, float32 ``[B]`` (Eq. 9).

    The paper's Eq. 9 is the plain average (weight 1/2). ``weight`` must lie in [0, 1] so that
    ``d_i`` stays in [0, 1].

    Args:
        semantic: ``[B]`` ``D_emb``.
        formula: ``[B]`` ``D_eq``.
        weight: share of ``D_emb``, in [0, 1].

    Returns:
        float32 ``[B]`` ``d``.
    """
    if not (isinstance(weight, (int, float)) and 0.0 <= float(weight) <= 1.0):
        raise ValueError(f"weight must be a number in [0, 1] (share of semantic diversity), got {weight!r}")
    s = to_float_tensor(semantic, "semantic")
    f = to_float_tensor(formula, "formula", s.device)
    if s.dim() != 1:
        raise ValueError(f"semantic must be [B], got shape {tuple(s.shape)}")
    check_batch(f, s.shape[0], "formula")
    return weight * s + (1.0 - weight) * f


def _check_sigma(sigma_d: float) -> float:
    if not (isinstance(sigma_d, (int, float)) and math.isfinite(sigma_d) and sigma_d > 0):
        raise ValueError(f"sigma_d must be a finite number > 0 (clip bound of d_i), got {sigma_d!r}")
    return float(sigma_d)


def clipped_diversity(diversity: Any, sigma_d: float) -> torch.Tensor:
    """``d_bar_i = clip(d_i, 0, sigma_d)``, float32 (Eq. 10, also the input of Eq. 11).

    Args:
        diversity: ``[B]`` ``d``.
        sigma_d: clip bound (> 0).

    Returns:
        float32 ``[B]`` ``d_bar`` in [0, sigma_d].
    """
    sigma = _check_sigma(sigma_d)
    return to_float_tensor(diversity, "diversity").clamp(0.0, sigma)


def shaped_rewards(scores: Any, correct: Any, diversity: Any, lambda_d: float, sigma_d: float) -> torch.Tensor:
    """Correct-only shaped reward ``r_i + lambda_d * d_bar_i * 1[correct_i]``, float32 ``[B]`` (Eq. 10).

    Incorrect rollouts keep their score exactly. With ``lambda_d == 0`` the result is
    bit-identical to ``scores`` cast to float32 (the "w/o GD" ablation). ``lambda_d`` must be
    >= 0: the term is a bonus.

    Args:
        scores: ``[B]`` sequence-level rewards ``r``.
        correct: bool (or 0/1) ``[B]``.
        diversity: ``[B]`` ``d``.
        lambda_d: bonus weight (>= 0).
        sigma_d: clip bound of ``d`` (> 0).

    Returns:
        float32 ``[B]`` ``r~``.
    """
    if not (isinstance(lambda_d, (int, float)) and math.isfinite(lambda_d) and lambda_d >= 0):
        raise ValueError(f"lambda_d must be a finite number >= 0 (diversity bonus scale), got {lambda_d!r}")
    r = to_float_tensor(scores, "scores")
    if r.dim() != 1:
        raise ValueError(f"scores must be [B] (one sequence-level score per sample), got {tuple(r.shape)}")
    c = to_bool_tensor(correct, "correct", r.device)
    check_batch(c, r.shape[0], "correct")
    d_bar = clipped_diversity(to_float_tensor(diversity, "diversity", r.device), sigma_d)
    check_batch(d_bar, r.shape[0], "diversity")
    if lambda_d == 0:
        return r.clone()
    return torch.where(c, r + float(lambda_d) * d_bar, r)


def coupling_weights(
    diversity: Any,
    correct: Any,
    index: Any,
    tau: float,
    sigma_d: float,
    mode: str,
) -> torch.Tensor:
    """Global-to-local coupling weights ``w_i``, float32 ``[B]`` (Eq. 11).

    For correct i: ``exp(tau * d_bar_i) / sum_{j correct, same group} exp(tau * d_bar_j)``; 0 for
    incorrect rollouts; all 0 in a group without a correct rollout, so the weights sum to 1 over
    each group's correct rollouts. The temperature multiplies: small tau -> uniform, large tau ->
    mass on the most distinctive correct rollout. The group max is subtracted before exp.
    ``mode="uniform"`` gives ``1/|P|`` (the "w/o GC" ablation, Sec. 4.3). ``tau`` must be > 0
    in both modes.

    Args:
        diversity: ``[B]`` ``d``.
        correct: bool (or 0/1) ``[B]``.
        index: ``[B]`` uids, or the step's ``GroupLayout``.
        tau: temperature (> 0).
        sigma_d: clip bound of ``d`` (> 0).
        mode: ``softmax`` or ``uniform``.

    Returns:
        float32 ``[B]`` ``w``; each group's correct rollouts sum to 1, others are 0.
    """
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a finite number > 0 (it multiplies d_bar in Eq. 11), got {tau!r}")
    if mode not in ("softmax", "uniform"):
        raise ValueError(f"mode must be 'softmax' or 'uniform' (w/o GC ablation), got {mode!r}")
    d_bar = clipped_diversity(diversity, sigma_d)
    if d_bar.dim() != 1:
        raise ValueError(f"diversity must be [B], got shape {tuple(d_bar.shape)}")
    layout = group_layout(index, d_bar.device)
    check_batch(d_bar, layout.batch_size, "diversity")
    c = to_bool_tensor(correct, "correct", d_bar.device)
    check_batch(c, layout.batch_size, "correct")
    if layout.batch_size == 0:
        return d_bar.new_zeros(0)
    ids = layout.ids
    logits = torch.zeros_like(d_bar) if mode == "uniform" else float(tau) * d_bar
    masked = torch.where(c, logits, torch.full_like(logits, -math.inf))
    group_max = torch.full((layout.n_groups,), -math.inf, device=d_bar.device).scatter_reduce(
        0, ids, masked, reduce="amax", include_self=True
    )
    shift = torch.where(torch.isfinite(group_max), group_max, torch.zeros_like(group_max))
    expo = torch.where(c, torch.exp(logits - shift[ids]), torch.zeros_like(logits))
    denom = torch.zeros(layout.n_groups, device=d_bar.device).index_add(0, ids, expo)
    return torch.where(c, expo / denom[ids].clamp_min(torch.finfo(torch.float32).tiny), torch.zeros_like(expo))


def group_sizes(index: Any, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Size ``G_i`` of each sample's group, int64 ``[B]`` (on ``device``, else the index's device).

    Args:
        index: ``[B]`` uids, or a ``GroupLayout``.
        device: where the result goes.

    Returns:
        int64 ``[B]``.
    """
    layout = group_layout(index, device if device is not None else device_of(index))
    return sample_group_sizes(layout)


def loss_coefficients(weights: Any, index: Any) -> torch.Tensor:
    """Per-sample loss coefficient ``c_i = G_i * w_i``, float32 ``[B]`` (spec section 6).

    The local term ``-lambda_l * mean_i c_i * H_hat_i`` then equals the per-group sum of
    ``w_i * H_hat_i`` averaged over prompts when every group has the same size G (verl: ``n``
    rollouts per prompt; exactly ``(1/B) sum_g G_g sum_{i in g} w_i H_hat_i`` otherwise), and it
    decomposes over any micro-batch split because ``c_i`` travels with its sample.

    Args:
        weights: ``[B]`` coupling weights ``w``.
        index: ``[B]`` uids, or the step's ``GroupLayout``.

    Returns:
        float32 ``[B]`` ``c``.
    """
    w = to_float_tensor(weights, "weights")
    if w.dim() != 1:
        raise ValueError(f"weights must be [B], got shape {tuple(w.shape)}")
    layout = group_layout(index, w.device)
    check_batch(w, layout.batch_size, "weights")
    return sample_group_sizes(layout).to(torch.float32) * w


def local_entropy_tokens(log_prob: Any, old_log_prob: Any, detach_ratio: bool) -> torch.Tensor:
    """Per-token IS entropy integrand ``-rho_{i,t} * log pi_theta(o_{i,t})``, float32 ``[B, L]`` (Eq. 13-14).

    ``rho = exp(clamp(log_prob - old_log_prob, +-LOG_RATIO_CLAMP))``; ``old_log_prob`` is always a
    constant. With ``rho`` attached (default) the gradient is ``-rho * grad(log pi) * (log pi + 1)``,
    whose expectation under pi_old is the exact entropy gradient for any pi_old. With
    ``detach_ratio`` (spec option) it is ``-rho * grad(log pi)``, whose expectation is
    ``-grad sum_a pi(a) = 0``: the value is the same estimate of H but the gradient is zero-mean
    noise, not an entropy gradient (docs/ALGORITHM.md).
    Masked positions are not zeroed here: aggregate with ``sequence_mean`` or ``local_entropy``.

    Args:
        log_prob: ``[B, L]`` current log-probs of the sampled tokens (carries the gradient).
        old_log_prob: ``[B, L]`` log-probs at sampling time (a constant).
        detach_ratio: detach ``rho``.

    Returns:
        float32 ``[B, L]`` integrand (padding positions not zeroed).
    """
    lp = to_float_tensor(log_prob, "log_prob")
    old = to_float_tensor(old_log_prob, "old_log_prob", lp.device).detach()
    if lp.shape != old.shape:
        raise ValueError(f"log_prob {tuple(lp.shape)} and old_log_prob {tuple(old.shape)} must have the same shape")
    rho = torch.exp((lp - old).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))
    if detach_ratio:
        rho = rho.detach()
    return -rho * lp


def sequence_mean(token_values: Any, response_mask: Any) -> torch.Tensor:
    """Length-invariant per-sequence mean ``(1/T_i) sum_t x_{i,t}`` over valid tokens, float32 ``[B]`` (Eq. 15).

    ``T_i`` is the number of valid tokens; an all-masked row gives 0. Masked positions are
    excluded with ``where`` (never multiplied), so NaN/inf there cannot leak into the result.

    Args:
        token_values: ``[B, L]``.
        response_mask: ``[B, L]`` valid-token mask.

    Returns:
        float32 ``[B]``.
    """
    x = to_float_tensor(token_values, "token_values")
    m = to_bool_tensor(response_mask, "response_mask", x.device)
    if x.dim() != 2 or x.shape != m.shape:
        raise ValueError(
            f"token_values and response_mask must both be [B, L], got {tuple(x.shape)} and {tuple(m.shape)}"
        )
    total = torch.where(m, x, torch.zeros_like(x)).sum(-1)
    length = m.sum(-1)
    return torch.where(length > 0, total / length.clamp_min(1), torch.zeros_like(total))


def local_entropy(log_prob: Any, old_log_prob: Any, response_mask: Any, detach_ratio: bool) -> torch.Tensor:
    """Time-averaged IS entropy estimate ``H_hat_i``, float32 ``[B]`` (Eq. 12-15).

    ``H_hat_i = -(1/T_i) sum_t rho_{i,t} log pi_theta(o_{i,t})`` over valid tokens (0 for an
    all-masked row). Padding positions are replaced by 0 *before* the integrand, so arbitrary
    values there (e.g. -inf log-probs) give neither NaN values nor NaN gradients.

    Args:
        log_prob: ``[B, L]`` current log-probs of the sampled tokens.
        old_log_prob: ``[B, L]`` log-probs at sampling time.
        response_mask: ``[B, L]`` valid-token mask.
        detach_ratio: detach ``rho``.

    Returns:
        float32 ``[B]`` ``H_hat``.
    """
    lp = to_float_tensor(log_prob, "log_prob")
    old = to_float_tensor(old_log_prob, "old_log_prob", lp.device)
    m = to_bool_tensor(response_mask, "response_mask", lp.device)
    if lp.dim() != 2 or lp.shape != m.shape or old.shape != lp.shape:
        raise ValueError(
            "log_prob, old_log_prob and response_mask must all be [B, L]; got "
            f"{tuple(lp.shape)}, {tuple(old.shape)}, {tuple(m.shape)}"
        )
    lp = torch.where(m, lp, torch.zeros_like(lp))
    old = torch.where(m, old, torch.zeros_like(old))
    return sequence_mean(local_entropy_tokens(lp, old, detach_ratio), m)


def entropy_of_weights(weights: Any, index: Any, reduction: str = "mean") -> torch.Tensor:
    """Shannon entropy ``-sum_i w_i log w_i`` of each group's coupling weights (metric for Eq. 11).

    Only groups with at least one correct rollout (weights summing to > 0) are defined.
    ``reduction="none"``: float32 ``[n_groups]`` in order of first appearance, NaN for undefined
    groups. ``reduction="mean"``: scalar mean over defined groups, 0 when there is none.
    Uniform weights over |P| rollouts give log|P|; a one-hot group gives 0.

    Args:
        weights: ``[B]`` coupling weights ``w``.
        index: ``[B]`` uids, or the step's ``GroupLayout``.
        reduction: ``mean`` or ``none``.

    Returns:
        float32 ``[]`` (``mean``) or ``[n_groups]`` (``none``).
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    w = to_float_tensor(weights, "weights")
    if w.dim() != 1:
        raise ValueError(f"weights must be [B], got shape {tuple(w.shape)}")
    layout = group_layout(index, w.device)
    check_batch(w, layout.batch_size, "weights")
    zeros = torch.zeros(layout.n_groups, device=w.device)
    ent = zeros.index_add(0, layout.ids, -torch.special.xlogy(w, w))
    defined = zeros.index_add(0, layout.ids, w) > 0
    if reduction == "none":
        return torch.where(defined, ent, torch.full_like(ent, math.nan))
    n = defined.sum()
    return torch.where(n > 0, torch.where(defined, ent, zeros).sum() / n.clamp_min(1), w.new_zeros(()))
