"""Pure math of DSDR and its peers (torch and numpy only; never imports verl or ray).

Equation numbers refer to the DSDR paper (arXiv 2602.19895); docs/ALGORITHM.md maps each
equation to the function here.
"""

from .asym_grpo import asym_grpo_advantages
from .dsdr import (
    LOG_RATIO_CLAMP,
    FormulaKeys,
    clipped_diversity,
    coupling_weights,
    entropy_of_weights,
    formula_uniqueness,
    global_diversity,
    group_sizes,
    local_entropy,
    local_entropy_tokens,
    loss_coefficients,
    normalized_embeddings,
    semantic_diversity,
    sequence_mean,
    shaped_rewards,
)
from .groups import GroupLayout, from_padded, group_ids, group_layout, sample_group_sizes, to_padded
from .setpo import setpo_contributions, setpo_set_diversity, setpo_shaped_advantages

__all__ = [
    "LOG_RATIO_CLAMP",
    "FormulaKeys",
    "GroupLayout",
    "asym_grpo_advantages",
    "clipped_diversity",
    "coupling_weights",
    "entropy_of_weights",
    "formula_uniqueness",
    "from_padded",
    "global_diversity",
    "group_ids",
    "group_layout",
    "group_sizes",
    "local_entropy",
    "local_entropy_tokens",
    "loss_coefficients",
    "normalized_embeddings",
    "sample_group_sizes",
    "semantic_diversity",
    "sequence_mean",
    "setpo_contributions",
    "setpo_set_diversity",
    "setpo_shaped_advantages",
    "shaped_rewards",
    "to_padded",
]
