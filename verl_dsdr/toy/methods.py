"""The five methods of the toy reproduction and the shared training plan, as verl overrides.

Methods differ only in their own block (estimator, clip range, DSDR switches); everything else
(data, batch, learning rate, rollouts, validation sampling) comes from one :class:`ToyPlan`, so
every method trains from the same warm start on the same prompt order for a given seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

__all__ = [
    "Method",
    "METHODS",
    "DEFAULT_METHODS",
    "ToyPlan",
    "FULL_PLAN",
    "SMOKE_PLAN",
    "parse_methods",
    "plan_overrides",
    "method_overrides",
]


@dataclass(frozen=True)
class Method:
    """One row of the comparison: a label for plots and the overrides that define it."""

    name: str
    label: str
    overrides: tuple[str, ...]


def _dsdr(lambda_d: float = 0.001, coupling: str = "softmax") -> tuple[str, ...]:
    """DSDR with the paper's defaults; the ablations change one key each (every key appears once)."""
    return (
        "algorithm.adv_estimator=dsdr",
        f"algorithm.dsdr.lambda_d={lambda_d}",  # Eq. 10, paper's best 0.001; w/o GD: 0
        "algorithm.dsdr.lambda_l=0.001",  # Eq. 16, paper's best
        "algorithm.dsdr.tau=5.0",  # Eq. 11
        f"algorithm.dsdr.coupling={coupling}",  # w/o GC (Sec. 4.3): uniform
        "actor_rollout_ref.actor.clip_ratio_low=0.2",
        "actor_rollout_ref.actor.clip_ratio_high=0.28",  # paper: (0.2, 0.28) for DSDR and DAPO
    )


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "grpo",
            "GRPO",
            (
                "algorithm.adv_estimator=grpo",
                "actor_rollout_ref.actor.clip_ratio_low=0.2",
                "actor_rollout_ref.actor.clip_ratio_high=0.2",
            ),
        ),
        # DAPO = GRPO + clip-higher + token-level loss (token-mean is shared by every method here)
        # + dynamic sampling (drop all-correct/all-wrong groups and refill, verl's filter_groups).
        Method(
            "dapo",
            "DAPO",
            (
                "algorithm.adv_estimator=grpo",
                "actor_rollout_ref.actor.clip_ratio_low=0.2",
                "actor_rollout_ref.actor.clip_ratio_high=0.28",
            ),
        ),
        Method("dsdr", "DSDR", _dsdr()),
        Method("dsdr_wo_gd", "DSDR w/o GD", _dsdr(lambda_d=0.0)),
        Method("dsdr_wo_gc", "DSDR w/o GC", _dsdr(coupling="uniform")),
    )
}

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

    def with_(self, **changes) -> ToyPlan:
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
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise ValueError(f"unknown or no method(s) {unknown or names}: choose from {', '.join(METHODS)}")
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
    method = METHODS[parse_methods([name])[0]]
    extra = list(DYNAMIC_SAMPLING) if name == "dapo" and plan.dapo_dynamic_sampling else []
    return list(method.overrides) + extra
