"""``algorithm.setpo``: SetPO's settings (arXiv 2602.01062). Imports neither verl nor ray."""

from dataclasses import dataclass

from verl_dsdr.methods.params import Settings, param


@dataclass
class SetPOConfig(Settings):
    """``algorithm.setpo`` (``algorithm.adv_estimator=setpo``): ``A_i + lambda * s_i``.

    Response embeddings come from ``algorithm.dsdr.embedder`` (one encoder setting for every method).
    """

    KEY = "algorithm.setpo"
    _target_: str = "verl_dsdr.methods.setpo.config.SetPOConfig"
    lambda_: float = param(
        1.0, "weight of the leave-one-out set-diversity contribution s_i added to A_i", symbol="lambda", low=0.0
    )
    correct_only: bool = param(False, "add lambda * s_i to correct rollouts only")
