"""Laptop-scale reproduction of DSDR's comparison (GRPO, DAPO, DSDR, DSDR w/o GD, w/o GC) on the toy task.

``python -m verl_dsdr.toy run`` trains each (method, seed) with verl's real PPO trainer on CPU
(``runs``), turns verl's validation dumps into evaluation rows (``convert``) and scores them with
``python -m verl_dsdr.eval``; ``python -m verl_dsdr.toy report`` writes the markdown report and
figures (``report``, ``plots``), including exact solution-form counts (``forms``).
See ``docs/TOY_REPRODUCTION.md``.
"""

from verl_dsdr.toy.methods import ARMS, FULL_PLAN, SMOKE_PLAN, ToyPlan

__all__ = ["ARMS", "FULL_PLAN", "SMOKE_PLAN", "ToyPlan"]
