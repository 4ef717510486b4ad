"""The arms of the toy reproduction and the shared training plan, as verl overrides.

Arms differ only in their own block (estimator, clip range, method settings); everything else
(data, batch, learning rate, rollouts, validation sampling) comes from one :class:`ToyPlan`, so
every arm trains from the same warm start on the same prompt order for a given seed.

An arm is either one of verl's own estimators (GRPO, and DAPO as GRPO with clip-higher) or a
method of the registry (:data:`verl_dsdr.methods.METHODS`) with some of its typed settings
changed (the DSDR ablations). A registry arm's settings are built and checked by the method's own
config class, and the values it writes come from there: its defaults are not repeated here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from verl_dsdr.methods import METHODS
from verl_dsdr.methods.params import build

__all__ = [
    "Arm",
    "ARMS",
    "DEFAULT_METHODS",
    "ToyPlan",
    "FULL_PLAN",
    "SMOKE_PLAN",
    "parse_methods",
    "plan_overrides",
    "method_overrides",
]


@dataclass(frozen=True)
class Arm:
    """One row of the comparison: an estimator with its clip range and settings, and a label for plots.

    ``estimator`` is ``algorithm.adv_estimator``: a registered method or one of verl's own. For a
    registered method, ``shown`` names the settings written out in the overrides (the ones this
    comparison is about) and ``changes`` the values that differ from the method's typed defaults.
    """

    name: str
    label: str
    estimator: str
    clip_high: float
    shown: tuple[str, ...] = ()
    changes: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.estimator not in METHODS and (self.shown or self.changes):
            raise ValueError(f"arm {self.name!r}: {self.estimator!r} is not a registered method, so it has no settings")

    @property
    def overrides(self) -> tuple[str, ...]:
        """``algorithm.adv_estimator``, the shown settings (each key once), then the clip range."""
        settings = []
        if self.estimator in METHODS:
            spec = METHODS[self.estimator]
            built = build(spec.config_cls, dict(self.changes))  # unknown keys and bad values fail here
            keys = list(dict.fromkeys([*self.shown, *(k for k, _ in self.changes)]))
            settings = [f"algorithm.{self.estimator}.{key}={getattr(built, key)}" for key in keys]
        return (
            f"algorithm.adv_estimator={self.estimator}",
            *settings,
            "actor_rollout_ref.actor.clip_ratio_low=0.2",
            f"actor_rollout_ref.actor.clip_ratio_high={self.clip_high}",  # paper: (0.2, 0.28) for DSDR and DAPO
        )


# DSDR's weights (Eq. 10, 16), coupling temperature (Eq. 11) and coupling, at the typed defaults (the
# paper's best); each ablation changes one of them (Sec. 4.3).
_DSDR_SHOWN = ("lambda_d", "lambda_l", "tau", "coupling")

ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm("grpo", "GRPO", "grpo", clip_high=0.2),
        # DAPO = GRPO + clip-higher + token-level loss (token-mean is shared by every arm here)
        # + dynamic sampling (drop all-correct/all-wrong groups and refill, verl's filter_groups).
        Arm("dapo", "DAPO", "grpo", clip_high=0.28),
        Arm("dsdr", "DSDR", "dsdr", clip_high=0.28, shown=_DSDR_SHOWN),
        Arm("dsdr_wo_gd", "DSDR w/o GD", "dsdr", clip_high=0.28, shown=_DSDR_SHOWN, changes=(("lambda_d", 0.0),)),
        Arm("dsdr_wo_gc", "DSDR w/o GC", "dsdr", clip_high=0.28, shown=_DSDR_SHOWN, changes=(("coupling", "uniform"),)),
    )
}
"""The toy's arms by CLI name (``--methods``)."""

DEFAULT_METHODS = ("grpo", "dapo", "dsdr")
"""What ``reproduce_toy.sh`` runs by default; the ablations join with ``--methods`` (a longer job)."""

DYNAMIC_SAMPLING = ("algorithm.filter_groups.enable=true", "algorithm.filter_groups.metric=acc")


@dataclass(frozen=True)
class ToyPlan:
    """Everything the methods share. ``val_problems=None`` validates on the whole held-out split."""

    steps: int
    batch_prompts: int
    rollouts: int
    mini_batch_prompts: int
    lr: float
    val_n: int
    val_problems: int | None
    val_temperature: float = 0.7
    val_top_p: float = 0.9
    temperature: float = 1.0
    response_length: int = 48
    dapo_dynamic_sampling: bool = False
    assets: str = "toy"
    """Which asset preset (``verl_dsdr.assets.build.PRESETS``) gives the warm start and the problems."""

    def __post_init__(self) -> None:
        for key in ("steps", "batch_prompts", "rollouts", "mini_batch_prompts", "val_n"):
            if getattr(self, key) < 1:
                raise ValueError(f"ToyPlan.{key} must be >= 1, got {getattr(self, key)}")
        if self.batch_prompts % self.mini_batch_prompts:
            raise ValueError(
                f"batch_prompts ({self.batch_prompts}) must be a multiple of mini_batch_prompts "
                f"({self.mini_batch_prompts}): verl splits each step into whole PPO mini-batches"
            )
        if self.val_problems is not None and self.val_problems < 1:
            raise ValueError(f"val_problems must be >= 1 or None (all), got {self.val_problems}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        from verl_dsdr.assets.build import PRESETS

        if self.assets not in PRESETS:
            raise ValueError(f"assets must be one of {sorted(PRESETS)}, got {self.assets!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes: Any) -> ToyPlan:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# Calibrated on GRPO, seed 0 (docs/TOY_REPRODUCTION.md, "Calibration"): lr 5e-4 learnt the procedure
# but broke facts; 2e-4 learnt it and kept them. 30 steps fit the 90-minute budget with 3 seeds.
FULL_PLAN = ToyPlan(steps=30, batch_prompts=16, rollouts=8, mini_batch_prompts=4, lr=2e-4, val_n=16, val_problems=None)
SMOKE_PLAN = ToyPlan(
    steps=2, batch_prompts=4, rollouts=4, mini_batch_prompts=2, lr=3e-4, val_n=4, val_problems=6, assets="toy_smoke"
)


def parse_methods(text: str | list[str]) -> list[str]:
    """``"grpo,dsdr"`` or a list -> method names, checked, in the given order, without repeats."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in ARMS]
    if unknown or not names:
        raise ValueError(f"unknown or no method(s) {unknown or names}: choose from {', '.join(ARMS)}")
    return list(dict.fromkeys(names))


def plan_overrides(plan: ToyPlan) -> list[str]:
    """verl overrides shared by every method: batch, rollouts, optimiser, loss, validation sampling.

    The PPO micro-batch is a whole mini-batch (one forward per update: the model is tiny);
    ``trainer.test_freq=steps`` validates once, after the last update.
    """
    samples_per_mini = plan.mini_batch_prompts * plan.rollouts
    samples_per_step = plan.batch_prompts * plan.rollouts
    return [
        f"data.train_batch_size={plan.batch_prompts}",
        "data.max_prompt_length=64",
        f"data.max_response_length={plan.response_length}",
        "data.shuffle=true",
        "data.filter_overlong_prompts=false",
        f"actor_rollout_ref.rollout.n={plan.rollouts}",
        f"actor_rollout_ref.rollout.temperature={plan.temperature}",
        "actor_rollout_ref.rollout.prompt_length=64",
        f"actor_rollout_ref.rollout.response_length={plan.response_length}",
        f"actor_rollout_ref.rollout.max_model_len={64 + plan.response_length}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={samples_per_step}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={samples_per_step}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={plan.mini_batch_prompts}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={samples_per_mini}",
        f"actor_rollout_ref.actor.optim.lr={plan.lr}",
        "actor_rollout_ref.actor.loss_agg_mode=token-mean",
        "actor_rollout_ref.actor.entropy_coeff=0",
        "actor_rollout_ref.actor.use_kl_loss=false",
        "algorithm.use_kl_in_reward=false",
        f"actor_rollout_ref.rollout.val_kwargs.n={plan.val_n}",
        f"actor_rollout_ref.rollout.val_kwargs.temperature={plan.val_temperature}",
        f"actor_rollout_ref.rollout.val_kwargs.top_p={plan.val_top_p}",
        "actor_rollout_ref.rollout.val_kwargs.do_sample=true",
        f"trainer.total_training_steps={plan.steps}",
        f"trainer.test_freq={plan.steps}",
        "trainer.val_before_train=false",
        "trainer.project_name=verl_dsdr_toy",
    ]


def method_overrides(name: str, plan: ToyPlan) -> list[str]:
    """The method's own block (plus DAPO's dynamic sampling when the plan turns it on)."""
    arm = ARMS[parse_methods([name])[0]]
    extra = list(DYNAMIC_SAMPLING) if name == "dapo" and plan.dapo_dynamic_sampling else []
    return list(arm.overrides) + extra
