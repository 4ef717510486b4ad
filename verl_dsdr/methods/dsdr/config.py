"""``algorithm.dsdr``: DSDR's settings (Wan et al., arXiv 2602.19895; equation numbers are the paper's).

Defaults are the paper's where it gives one; the others are this project's choices, marked
"(choice)" and explained in ``docs/ALGORITHM.md``. Imports neither verl nor ray.
"""

from __future__ import annotations

from dataclasses import dataclass

from verl_dsdr.methods.params import Settings, param, section


@dataclass
class EmbedderConfig(Settings):
    """``algorithm.dsdr.embedder``: the frozen sentence encoder behind ``z_i`` (Eq. 4).

    Also used by every other method that needs response embeddings (SetPO).
    """

    KEY = "algorithm.dsdr.embedder"
    _target_: str = "verl_dsdr.methods.dsdr.config.EmbedderConfig"
    model: str = param(
        "all-MiniLM-L6-v2",
        "sentence-transformers model name or local folder (paper: all-MiniLM-L6-v2)",
        symbol="z_i",
        eq="Eq. 4",
    )
    device: str = param("cpu", "where reward workers embed: cpu | cuda | cuda:N | auto")
    batch_size: int = param(32, "responses per encoder call", low=1)
    max_tokens: int = param(256, "the encoder's window in word pieces", low=8, high=32768)
    chunking: str = param(
        "truncate",
        "longer responses: truncate (paper) | mean of max_tokens chunks (choice)",
        eq="Eq. 4",
        choices=("truncate", "mean"),
    )


@dataclass
class FormulaConfig(Settings):
    """``algorithm.dsdr.formulas``: how the formula set ``S(o_i)`` is keyed (Eq. 7)."""

    KEY = "algorithm.dsdr.formulas"
    _target_: str = "verl_dsdr.methods.dsdr.config.FormulaConfig"
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


@dataclass
class DSDRConfig(Settings):
    """``algorithm.dsdr`` (``algorithm.adv_estimator=dsdr``)."""

    KEY = "algorithm.dsdr"
    _target_: str = "verl_dsdr.methods.dsdr.config.DSDRConfig"
    lambda_d: float = param(
        0.001,
        "weight of the correct-only diversity bonus (paper's best of 0.001/0.01/0.1)",
        symbol="lambda_d",
        eq="Eq. 10",
        low=0.0,
    )
    sigma_d: float = param(
        1.0,
        "clip of the diversity score before the bonus and the coupling (choice: not in the paper)",
        symbol="sigma_d",
        eq="Eq. 10-11",
        low=0.0,
        low_open=True,
    )
    lambda_l: float = param(
        0.001,
        "weight of the local entropy term (paper's best of 0.001/0.002/0.01)",
        symbol="lambda_l",
        eq="Eq. 16",
        low=0.0,
    )
    tau: float = param(
        5.0,
        "coupling temperature; multiplies d_bar (paper's sweep 1/5/10)",
        symbol="tau",
        eq="Eq. 11",
        low=0.0,
        low_open=True,
    )
    semantic_weight: float = param(
        0.5, "d = w D_emb + (1 - w) D_eq (paper: 1/2)", symbol="w", eq="Eq. 9", low=0.0, high=1.0
    )
    peers: str = param(
        "all",
        "rollouts a diversity score is measured against: all G-1 others (paper) | correct (choice)",
        eq="Eq. 5, 8",
        choices=("all", "correct"),
    )
    coupling: str = param(
        "softmax",
        "coupling weights: softmax (paper) | uniform 1/|P| (the w/o GC ablation)",
        symbol="w_i",
        eq="Eq. 11",
        choices=("softmax", "uniform"),
    )
    entropy_estimator: str = param(
        "is",
        "is: sampled-token importance sampling, free | full: exact next-token entropy (verl's fused kernels)",
        symbol="H_hat_i",
        eq="Eq. 12-15",
        choices=("is", "full"),
    )
    detach_ratio: bool = param(
        False,
        "detach rho in the IS estimate (choice; the gradient is then zero-mean noise)",
        symbol="rho_{i,t}",
        eq="Eq. 13",
    )
    diversity_in_validation: bool = param(False, "compute embeddings and formula sets for validation prompts too")
    embedder: EmbedderConfig = section(EmbedderConfig, "the sentence encoder (Eq. 4)")
    formulas: FormulaConfig = section(FormulaConfig, "formula extraction (Eq. 7)")


# TransferQueue per-sample float c_i = G w_i, put by the group step and read by the actor loss (Eq. 16).
COEF = "dsdr_coef"
# Eq. 15 is a per-sequence mean: the local term is aggregated this way whatever actor.loss_agg_mode is.
LOCAL_TERM_AGG = "seq-mean-token-mean"
# How much larger the policy term is under each sum-type loss_agg_mode than under token-mean.
SUM_TYPE_AGG_MODES = {
    "seq-mean-token-sum": "T (the response length)",
    "token-sum": "B x T (B = sequences per mini-batch, T = response length)",
}


def local_term_note(loss_agg_mode: str, lambda_l: float, response_length: int) -> str | None:
    """The start-up line when the policy term sums over tokens but the local term (Eq. 15) averages.

    Deliberate choice: the local term stays Eq. 15's length-invariant per-sequence mean under
    every ``loss_agg_mode`` (the paper defines it so, and ``c_i`` weighs rollouts, not tokens).
    Under a sum-type mode the policy term grows with the response length, so ``lambda_l``'s
    weight relative to it shrinks by that factor; the line says so and how to compensate.
    (``seq-mean-token-sum-norm`` divides by a fixed horizon and keeps the token-mean scale.)
    """
    factor = SUM_TYPE_AGG_MODES.get(loss_agg_mode)
    if lambda_l == 0.0 or factor is None:
        return None
    return (
        f"[verl_dsdr] actor.loss_agg_mode={loss_agg_mode} sums the policy term over tokens, while DSDR's local term "
        f"stays Eq. 15's per-sequence mean ({LOCAL_TERM_AGG}): relative to the policy term, "
        f"algorithm.dsdr.lambda_l={lambda_l:g} weighs about 1/({factor}) as much as under token-mean "
        f"(responses up to {response_length} tokens). To keep the paper's balance, scale lambda_l up by that factor."
    )
