"""AsymGRPO (arXiv 2604.04894): GRPO with separate exponents for correct and incorrect rollouts."""

from verl_dsdr.methods.asym_grpo.config import AsymGRPOConfig
from verl_dsdr.methods.base import MethodSpec

SPEC = MethodSpec(
    name="asym_grpo",
    config_cls=AsymGRPOConfig,
    estimator_module="verl_dsdr.methods.asym_grpo.estimator",
    min_group_size=2,
)
