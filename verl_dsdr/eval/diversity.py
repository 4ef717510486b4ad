"""How different the *correct* solutions of a problem are from each other (DSDR's claim, Sec. 4).

Per problem with at least two correct responses:
- semantic dissimilarity: the mean over its correct responses of ``D_emb`` computed among them
  (``semantic_diversity``: mean ``(1 - cos) / 2`` to the other correct responses, in [0, 1]);
- formula uniqueness: the mean of ``D_eq`` among them (``formula_uniqueness``; a response with no
  formula contributes 0);
- distinct solutions: the number of clusters of their embeddings under average-linkage
  agglomerative clustering that merges while the mean pairwise cosine similarity is
  ``>= threshold`` (order-independent, unlike greedy leader clustering).
Each is then averaged over those problems; with no such problem the values are ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "Encoder",
    "EmbedderError",
    "make_encoder",
    "count_clusters",
    "correct_diversity",
    "DEFAULT_CLUSTER_THRESHOLD",
]

Encoder = Callable[[list[str]], np.ndarray]
"""Texts -> L2-normalised embeddings ``(N, dim)``."""

DEFAULT_CLUSTER_THRESHOLD = 0.9


class EmbedderError(RuntimeError):
    """The sentence encoder could not be loaded; the message says which options fix it."""


def make_encoder(
    model: str | None = None, *, device: str = "auto", batch_size: int = 32, max_tokens: int = 256
) -> Encoder:
    """The training-time response embedder (``ResponseEmbedder``) as a plain function; ``model=None`` = its default."""
    from verl_dsdr.scoring.embedder import ResponseEmbedder

    try:
        embedder = ResponseEmbedder(model=model, device=device, batch_size=batch_size, max_tokens=max_tokens)
    except (ValueError, OSError) as err:
        raise EmbedderError(
            f"cannot load the embedder ({err}); pass --embedder-model NAME_OR_PATH / --embedder-device, "
            "or --no-diversity"
        ) from err
    return embedder.encode


def count_clusters(embeddings: np.ndarray, threshold: float = DEFAULT_CLUSTER_THRESHOLD) -> int:
    """Number of average-linkage clusters whose members have mean cosine similarity ``>= threshold``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"cluster threshold is a cosine similarity in [-1, 1], got {threshold}")
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be (N, dim), got shape {emb.shape}")
    if len(emb) <= 1:
        return len(emb)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.where(norms > 0, norms, 1.0)
    similarity = np.clip(unit @ unit.T, -1.0, 1.0)
    distance = 1.0 - similarity[np.triu_indices(len(emb), k=1)]  # condensed cosine distances
    tree = linkage(np.maximum(distance, 0.0), method="average")
    # Tolerance so that similarity exactly at the threshold merges despite rounding.
    return int(fcluster(tree, t=1.0 - threshold + 1e-9, criterion="distance").max())


def correct_diversity(
    correct_responses: Sequence[Sequence[str]],
    encode: Encoder,
    *,
    threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    formula_time_limit: float = 1.0,
) -> dict:
    """Diversity of the correct responses, one inner list per problem (problems with < 2 are skipped).

    All texts are embedded in one ``encode`` call and scored with one call per DSDR function,
    each problem being one group.
    """
    from verl_dsdr.algorithms.dsdr import formula_uniqueness, semantic_diversity
    from verl_dsdr.scoring.formulas import extract_formulas

    groups = [list(group) for group in correct_responses if len(group) >= 2]
    result: dict = {
        "problems_with_2plus_correct": len(groups),
        "semantic_dissimilarity": None,
        "formula_uniqueness": None,
        "distinct_solutions": None,
        "cluster_threshold": threshold,
    }
    if not groups:
        return result
    texts = [text for group in groups for text in group]
    index = [g for g, group in enumerate(groups) for _ in group]
    embeddings = np.asarray(encode(texts), dtype=np.float32)
    if embeddings.shape[0] != len(texts):
        raise ValueError(f"encoder returned {embeddings.shape[0]} embeddings for {len(texts)} texts")
    semantic = semantic_diversity(embeddings, index).cpu().numpy()
    formulas = (
        formula_uniqueness([extract_formulas(t, time_limit=formula_time_limit) for t in texts], index).cpu().numpy()
    )
    bounds = np.cumsum([0] + [len(group) for group in groups])
    per_problem = [
        (
            float(semantic[lo:hi].mean()),
            float(formulas[lo:hi].mean()),
            count_clusters(embeddings[lo:hi], threshold),
        )
        for lo, hi in zip(bounds[:-1], bounds[1:])
    ]
    result["semantic_dissimilarity"] = float(np.mean([p[0] for p in per_problem]))
    result["formula_uniqueness"] = float(np.mean([p[1] for p in per_problem]))
    result["distinct_solutions"] = float(np.mean([p[2] for p in per_problem]))
    return result
