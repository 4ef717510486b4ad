"""SetPO (arXiv 2602.01062): GRPO advantages plus a leave-one-out set-diversity contribution."""

from verl_dsdr.methods.base import MethodSpec
from verl_dsdr.methods.setpo.config import SetPOConfig

SPEC = MethodSpec(
    name="setpo",
    config_cls=SetPOConfig,
    estimator_module="verl_dsdr.methods.setpo.estimator",
    min_group_size=2,
    needs_embeddings=True,
    group_step="verl_dsdr.methods.setpo.group_step:group_step",
)
