"""Reward-loop manager ``dsdr``: correctness, formula set and embedding of one trajectory.

verl's reward loop scores each trajectory as soon as it is generated, in CPU worker
processes, while the rest of the batch is still being sampled (``verl/experimental/
reward_loop``). DSDR's per-trajectory work lives here so its cost hides behind rollout:

- ``dsdr_correct``: the rule-based verifier, 0/1 (the reward itself);
- ``dsdr_formulas``: the formula set ``S(o)`` of Eq. 7 as sorted canonical keys;
- ``dsdr_embedding``: the L2-normalised response embedding of Eq. 4 (list of floats).

They travel to the trainer in ``reward_extra_info`` (the field names and their encoding are
:mod:`verl_dsdr.glue.wire`), where the group trainer computes the group statistics. What is
computed follows the method's entry in :data:`verl_dsdr.methods.METHODS`. Embeddings of
trajectories that finish together, from every concurrent ``run_single`` of a worker, are
encoded as one batch through one shared :class:`MicroBatcher`. Validation skips formulas and
embeddings unless ``algorithm.dsdr.diversity_in_validation``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Optional

from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_dsdr.glue.wire import encode_extras, is_validation
from verl_dsdr.methods import method, method_of, settings_of
from verl_dsdr.methods.dsdr.config import DSDRConfig
from verl_dsdr.scoring.correctness import compute_score as default_compute_score
from verl_dsdr.scoring.formulas import extract_formulas
from verl_dsdr.utils.batching import MicroBatcher

logger = logging.getLogger(__name__)


def _needs(config) -> tuple[bool, bool]:
    """(embeddings, formulas) the configured method needs from the reward loop."""
    spec = method_of(config)
    return (bool(spec and spec.needs_embeddings), bool(spec and spec.needs_formulas))


@register("dsdr")
class DSDRRewardManager(RewardManagerBase):
    """Per-trajectory scoring for DSDR and SetPO (see the module docstring)."""

    _embedder = None
    _embed_batcher: Optional[MicroBatcher] = None

    def __init__(self, config, tokenizer, compute_score, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)
        self.compute_score = compute_score or default_compute_score
        self.is_async_score = inspect.iscoroutinefunction(self.compute_score)
        # One encoder and formula setting for every method (algorithm.dsdr.embedder / .formulas).
        self.dsdr: DSDRConfig = settings_of(config, method("dsdr"))
        self.need_embeddings, self.need_formulas = _needs(config)

    @classmethod
    def init_class(cls, config, tokenizer) -> None:
        """Load the frozen encoder once per reward worker and say where it runs and what it costs.

        Also scores one answer, so the verifier's hard-time-limit worker is started and warm
        before the first trajectory arrives (start-up work, not the first step's)."""
        if cls._class_initialized:
            return
        super().init_class(config, tokenizer)
        default_compute_score(data_source="warm_up", solution_str="\\boxed{1}", ground_truth="1")
        if not _needs(config)[0]:
            return
        from verl_dsdr.scoring.embedder import ResponseEmbedder

        e = settings_of(config, method("dsdr")).embedder
        start = time.perf_counter()
        cls._embedder = ResponseEmbedder(
            model=e.model, device=e.device, batch_size=e.batch_size, max_tokens=e.max_tokens, chunking=e.chunking
        )
        loaded = time.perf_counter() - start
        per_response = cls._embedder.measure_cost()
        rollouts = int(config.data.train_batch_size) * int(config.actor_rollout_ref.rollout.n)
        workers = max(1, int(config.reward.num_workers))
        message = (
            f"[verl_dsdr] embedder {cls._embedder.describe()} loaded in {loaded:.1f}s; "
            f"~{per_response * 1e3:.1f} ms per ~3,000-token response, ~{per_response * rollouts / workers:.1f}s per step "
            f"per reward worker ({rollouts} rollouts over {workers} workers, overlapped with generation)"
        )
        print(message, flush=True)
        if str(e.device).startswith("cpu") and _cuda_visible():
            logger.warning(
                "%s. A GPU is visible but the embedder runs on CPU: set algorithm.dsdr.embedder.device=cuda "
                "if rollout leaves it time to hide behind.",
                message,
            )
        cls._embed_batcher = MicroBatcher(cls._embedder.encode, max_batch=e.batch_size * 4, window_s=0.01)

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
            None, lambda: self.tokenizer.decode(ids, skip_special_tokens=True)
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
        formulas = embedding = seconds = None
        if not is_validation(non_tensor) or self.dsdr.diversity_in_validation:
            start = time.perf_counter()
            if self.need_formulas:  # off the event loop: sympy mode may wait on its hard time limit
                canonical, limit = self.dsdr.formulas.canonical, self.dsdr.formulas.time_limit
                formulas = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: extract_formulas(text, canonical=canonical, time_limit=limit)
                )
            if self.need_embeddings:
                embedding = await self._embed_batcher.submit(text)
            seconds = time.perf_counter() - start
        extras.update(encode_extras(correct, formulas, embedding, seconds))
        return {"reward_score": score, "reward_extra_info": extras}


def _cuda_visible() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch without CUDA support
        return False
