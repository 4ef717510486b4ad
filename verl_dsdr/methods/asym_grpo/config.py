"""``algorithm.asym_grpo``: AsymGRPO's settings (arXiv 2604.04894). Imports neither verl nor ray."""

from dataclasses import dataclass

from verl_dsdr.methods.params import Settings, param


@dataclass
class AsymGRPOConfig(Settings):
    """``algorithm.asym_grpo``: ``+((1-p)/p)^beta_pos`` for correct, ``-(p/(1-p))^beta_neg`` for incorrect rollouts."""

    KEY = "algorithm.asym_grpo"
    _target_: str = "verl_dsdr.methods.asym_grpo.config.AsymGRPOConfig"
    beta_pos: float = param(0.9, "exponent of the correct rollouts' advantage (0.5 = GRPO)", symbol="beta_pos", low=0.0)
    beta_neg: float = param(
        0.4, "exponent of the incorrect rollouts' advantage (0.5 = GRPO)", symbol="beta_neg", low=0.0
    )
    threshold: float = param(0.0, "a reward counts as correct when it is > threshold")
