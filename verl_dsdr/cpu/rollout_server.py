"""The ``hf_cpu`` rollout's Ray server actor: token-in/token-out sampling with Hugging Face ``generate``.

Kept apart from :mod:`verl_dsdr.cpu.rollout` (verl's replica and adapter classes) and free of
verl: the server process imports torch and transformers only (~3 s less start-up than a process
that imports verl; ``docs/CPU_BACKEND.md``, "Start-up"). The replica resolves verl's model and
rollout configs into plain :class:`ServerSettings` before the server starts, and each sample goes
back as :class:`SampledTokens`, which the receiving process (the agent loop, which has verl)
unpickles as verl's own ``TokenOutput``. Every process that receives a handle to this actor
imports this module to deserialize it (Ray loads the actor's class module), among them the rollout
load balancer, which should stay a small process (:mod:`verl_dsdr.cpu.router`): nothing heavy is
imported at the top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from verl_dsdr.utils.batching import MicroBatcher

if TYPE_CHECKING:
    import torch
    from verl.workers.rollout.replica import TokenOutput

    from verl_dsdr.cpu.sampler import SampleRequest, SampleResult

__all__ = ["HFRolloutServer", "SampledTokens", "ServerSettings"]


@dataclass(frozen=True)
class ServerSettings:
    """What a server needs from verl's rollout and model configs, as plain values.

    Built in the replica's process (:func:`verl_dsdr.cpu.rollout.server_settings`), where verl's
    ``HFModelConfig`` has resolved the local model path, the tokenizer and the generation config.
    """

    model_path: str
    attn_implementation: str
    eos_ids: tuple[int, ...]
    pad_id: int
    max_model_len: int  # prompt + response tokens a request may reach
    response_length: int  # new tokens when a request does not say (rollout.response_length)
    max_batch: int  # requests sampled together at most (rollout.max_num_seqs)
    num_threads: int  # torch threads (rollout.engine_kwargs.hf_cpu.num_threads: verl_dsdr.config.hf_cpu)


def _token_output(
    token_ids: list[int], log_probs: list[float] | None, stop_reason: str | None, extra_fields: dict
) -> TokenOutput:
    from verl.workers.rollout.replica import TokenOutput

    return TokenOutput(token_ids=token_ids, log_probs=log_probs, stop_reason=stop_reason, extra_fields=extra_fields)


@dataclass(frozen=True)
class SampledTokens:
    """One sample's reply, built without verl; it arrives as verl's ``TokenOutput``
    (``verl/workers/rollout/replica.py``), which the agent loop reads, in the process that unpickles it."""

    token_ids: list[int]
    log_probs: list[float] | None
    stop_reason: str | None
    extra_fields: dict[str, Any]

    def __reduce__(self) -> tuple[Callable[..., TokenOutput], tuple[Any, ...]]:
        return _token_output, (self.token_ids, self.log_probs, self.stop_reason, self.extra_fields)


class HFRolloutServer:
    """Token-in/token-out sampling server backed by ``transformers`` (one per replica).

    ``generate`` calls are queued; a single batching task drains the queue, groups the
    waiting requests by sampling parameters and samples each group in one ``generate``
    call on a worker thread (:class:`MicroBatcher`), so concurrent agent-loop requests
    share forward passes.
    """

    def __init__(self, settings: ServerSettings, replica_rank: int, batch_window_s: float = 0.005):
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(settings.num_threads)
        self.settings = settings
        self.replica_rank = replica_rank
        self.global_steps: int | None = None
        self.model = AutoModelForCausalLM.from_pretrained(
            settings.model_path, dtype=torch.float32, attn_implementation=settings.attn_implementation
        )
        self.model.eval()
        self.eos_ids = list(settings.eos_ids)
        self.pad_id = settings.pad_id
        self.max_model_len = settings.max_model_len
        self.max_batch = max(1, settings.max_batch)
        self._batcher: MicroBatcher[SampleRequest, SampleResult] = MicroBatcher(
            self._sample, max_batch=self.max_batch, window_s=batch_window_s
        )

    def ready(self) -> str:
        import torch

        return (
            f"hf_cpu replica {self.replica_rank}: {type(self.model).__name__} on cpu, {torch.get_num_threads()} threads"
        )

    # ---- generation -------------------------------------------------------------------
    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: list[Any] | None = None,
        video_data: list[Any] | None = None,
        **_ignored: Any,
    ) -> SampledTokens:
        from verl_dsdr.cpu.sampler import SampleRequest, SamplingKey

        if image_data or video_data:
            raise ValueError("the hf_cpu rollout is text-only; use vllm or sglang for multimodal data")
        prompt_ids = [int(t) for t in prompt_ids]
        room = self.max_model_len - len(prompt_ids)
        if room < 1:
            raise ValueError(
                f"prompt of {len(prompt_ids)} tokens leaves no room within max_model_len={self.max_model_len}; "
                "raise actor_rollout_ref.rollout.max_model_len or data.max_prompt_length"
            )
        max_tokens = int(sampling_params.get("max_tokens") or sampling_params.get("max_new_tokens") or 0)
        max_tokens = min(max_tokens or self.settings.response_length, room)
        request = SampleRequest(prompt_ids, SamplingKey.from_params(sampling_params), max_tokens)
        result = await self._batcher.submit(request)
        return SampledTokens(
            token_ids=result.token_ids,
            log_probs=result.log_probs if sampling_params.get("logprobs", True) else None,
            stop_reason=result.stop_reason,
            extra_fields={"global_steps": self.global_steps},
        )

    def _sample(self, requests: Sequence[SampleRequest]) -> list[SampleResult]:
        """One ``generate`` call per distinct sampling-parameter set among the queued requests."""
        from verl_dsdr.cpu.sampler import group_by_key, sample_batch

        results: list[SampleResult | None] = [None] * len(requests)
        for _key, indices in group_by_key(requests).items():
            batch = sample_batch(self.model, [requests[i] for i in indices], self.eos_ids, self.pad_id)
            for i, result in zip(indices, batch):
                results[i] = result
        return cast("list[SampleResult]", results)  # group_by_key puts every index in one group

    # ---- weights ----------------------------------------------------------------------
    def load_weights(self, state_dict: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        """Load the trainer's weights; tied weights may be absent, anything unknown is an error."""
        missing, unexpected = self.model.load_state_dict(state_dict, strict=False)
        tied = set(getattr(self.model, "_tied_weights_keys", None) or [])
        if isinstance(getattr(self.model, "_tied_weights_keys", None), dict):
            tied = set(self.model._tied_weights_keys)
        really_missing = [k for k in missing if k not in tied and not k.endswith("lm_head.weight")]
        if unexpected or really_missing:
            raise RuntimeError(f"weight sync mismatch: unexpected={unexpected[:5]} missing={really_missing[:5]}")
        if getattr(self.model.config, "tie_word_embeddings", False):
            self.model.tie_weights()
        self.global_steps = global_steps
        return len(state_dict)

    # ---- life-cycle calls verl makes on every backend (nothing to free on CPU) -----------
    async def wake_up(self) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def abort_all_requests(self, reject_request: bool = False) -> dict[str, Any]:
        # Batches are short and synchronous training never aborts mid-step; nothing is cut.
        return {"aborted_count": 0, "request_ids": []}

    async def resume_generation(self) -> None:
        return None

    async def start_profile(self, **_kwargs: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None
