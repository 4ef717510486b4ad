"""DSDR (Wan et al., arXiv 2602.19895): dual-scale diversity regularization."""

from verl_dsdr.methods.base import MethodSpec
from verl_dsdr.methods.dsdr.config import DSDRConfig

SPEC = MethodSpec(
    name="dsdr",
    config_cls=DSDRConfig,
    estimator_module="verl_dsdr.methods.dsdr.estimator",
    min_group_size=2,
    needs_embeddings=True,
    needs_formulas=True,
    group_step="verl_dsdr.methods.dsdr.group_step:group_step",
    loss="verl_dsdr.methods.dsdr.loss:dsdr_ppo_loss",
    trainer_fields=("old_log_probs", "response_mask"),
)
