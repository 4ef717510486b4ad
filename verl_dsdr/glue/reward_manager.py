"""Reward-loop manager ``dsdr``: correctness and the method's reward-side fields of one trajectory.

verl's reward loop scores each trajectory as soon as it is generated, in CPU worker
processes, while the rest of the batch is still being sampled (``verl/experimental/
reward_loop``). A method's per-trajectory work lives here so its cost hides behind rollout:
``dsdr_correct`` (the rule-based verifier, 0/1, the reward itself) and one value per
:class:`~verl_dsdr.methods.base.RewardField` the configured method lists (DSDR: formula set
and embedding; SetPO: embedding; a new method: its own fields, no edit here).

They travel to the trainer in ``reward_extra_info`` (:mod:`verl_dsdr.methods.wire`), where the
group trainer runs the method's group step. Validation skips the fields unless the method
asks for them (``Method.reward_fields_in_validation``; DSDR: ``algorithm.dsdr.diversity_in_validation``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_dsdr.methods import RewardField, method_of, settings_of
from verl_dsdr.methods.wire import encode_extras, is_validation
from verl_dsdr.scoring.bounded import configure_scoring
from verl_dsdr.scoring.correctness import compute_score as default_compute_score
from verl_dsdr.scoring.pool_config import reward_kwargs, scoring_pool


def _fields(config: Any) -> tuple[tuple[RewardField, ...], bool]:
    """(the configured method's reward fields, whether validation prompts get them too)."""
    spec = method_of(config)
    if spec is None:
        return (), False
    settings = settings_of(config, spec)
    return tuple(spec.reward_fields(settings)), spec.reward_fields_in_validation(settings)


@register("dsdr")
class DSDRRewardManager(RewardManagerBase):
    """Per-trajectory scoring for every method with reward-side fields (see the module docstring)."""

    def __init__(
        self,
        config: Any,
        tokenizer: Any,
        compute_score: Any,
        reward_router_address: Any = None,
        reward_model_tokenizer: Any = None,
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        self.compute_score: Callable[..., Any] = compute_score or default_compute_score
        self.is_async_score = inspect.iscoroutinefunction(self.compute_score)
        self.fields, self.fields_in_validation = _fields(config)
        self._decode: Callable[..., str] = tokenizer.decode  # verl annotates self.tokenizer as the AutoTokenizer class

    @classmethod
    def init_class(cls, config: Any, tokenizer: Any) -> None:
        """Start the method's fields once per reward worker (load the encoder) and warm the verifier.

        Scoring one answer that the exact-match shortcut cannot settle (2/4 against 1/2) starts the
        verifier's hard-time-limit worker before the first trajectory arrives: start-up work, done
        while the other workers start, not the first step's."""
        if cls._class_initialized:
            return
        super().init_class(config, tokenizer)
        # The verifier's pool is sized from the run's reward kwargs before any verifier call of this worker.
        configure_scoring(scoring_pool(reward_kwargs(config)))
        default_compute_score(data_source="warm_up", solution_str="\\boxed{\\frac{2}{4}}", ground_truth="\\frac{1}{2}")
        for field in _fields(config)[0]:
            field.start(config)

    async def _score(self, data_source: str, text: str, ground_truth: str, extra_info: dict) -> dict:
        kwargs = dict(data_source=data_source, solution_str=text, ground_truth=ground_truth, extra_info=extra_info)
        if self.is_async_score:
            result = await self.compute_score(**kwargs)
        else:
            result = await asyncio.get_running_loop().run_in_executor(None, lambda: self.compute_score(**kwargs))
        return result if isinstance(result, dict) else {"score": float(result)}

    async def run_single(self, data: DataProto) -> dict:
        item = data[-1:][0]
        responses = item.batch["responses"]
        length = int(item.batch["attention_mask"][-responses.shape[-1] :].sum())
        ids = responses[:length]
        text = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._decode(ids, skip_special_tokens=True)
        )
        non_tensor = item.non_tensor_batch
        extra_info = dict(non_tensor.get("extra_info") or {})
        result = await self._score(
            str(non_tensor["data_source"]), text, str(non_tensor["reward_model"]["ground_truth"]), extra_info
        )
        score = float(result["score"])
        correct = bool(result.get("acc", score > 0))
        extras: dict[str, Any] = {k: v for k, v in result.items() if k != "score"}
        extras["acc"] = 1.0 if correct else 0.0
        values: dict[str, Any] = {}
        seconds = None
        if self.fields and (not is_validation(non_tensor) or self.fields_in_validation):
            start = time.perf_counter()
            for field in self.fields:
                values[field.key] = await field.compute(text)
            seconds = time.perf_counter() - start
        extras.update(encode_extras(correct, values, seconds))
        return {"reward_score": score, "reward_extra_info": extras}
