"""An HF-sampling rollout backend for verl's agent loop, for machines without a GPU.

verl 0.9.1 only ships vLLM, SGLang and TensorRT-LLM rollouts (``verl/workers/rollout/replica.py``),
none of which runs on a plain CPU from PyPI. This backend has the three parts verl expects:

- :class:`HFRolloutServer`: a Ray actor serving token-in/token-out ``generate`` calls. Requests
  that arrive together are sampled as one padded batch (:mod:`verl_dsdr.cpu.sampler`).
- :class:`HFReplica`: the ``RolloutReplica`` that launches one server per replica
  (registered with ``RolloutReplicaRegistry`` under ``hf_cpu``).
- :class:`HFServerAdapter`: the ``BaseRollout`` living in each trainer worker; it pushes the
  trainer's weights to its server after every step.

Select it with ``actor_rollout_ref.rollout.name=hf_cpu`` (the CPU preset does).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Generator
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica

from verl_dsdr.config.hf_cpu import hf_cpu_section, hf_cpu_settings
from verl_dsdr.cpu.rollout_names import SERVER_CPUS
from verl_dsdr.cpu.rollout_server import HFRolloutServer, ServerSettings
from verl_dsdr.cpu.sampler import resolve_eos_ids

logger = logging.getLogger(__name__)


def server_actor_name(replica_rank: int, suffix: str = "") -> str:
    """Name of a replica's server actor, unique within the Ray job."""
    job = ray.get_runtime_context().get_job_id()
    return f"verl_dsdr_hf_rollout_{job}_{replica_rank}{suffix}"


def server_settings(config: Any, model_config: Any) -> ServerSettings:
    """Plain settings for a server from verl's ``RolloutConfig`` (its ``engine_kwargs.hf_cpu`` too:
    :mod:`verl_dsdr.config.hf_cpu`) and ``HFModelConfig`` (this process has verl; the server does not)."""
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig

    if not isinstance(model_config, HFModelConfig):
        model_config = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
    tokenizer = model_config.tokenizer
    eos_ids = resolve_eos_ids(
        getattr(model_config.generation_config, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)
    )
    pad = getattr(tokenizer, "pad_token_id", None)
    return ServerSettings(
        model_path=str(model_config.local_path),
        attn_implementation=str((model_config.override_config or {}).get("attn_implementation", "sdpa")),
        eos_ids=tuple(eos_ids),
        pad_id=int(pad if pad is not None else eos_ids[0]),
        max_model_len=int(config.max_model_len or (config.prompt_length + config.response_length)),
        response_length=int(config.response_length),
        max_batch=int(getattr(config, "max_num_seqs", 256) or 256),
        num_threads=hf_cpu_settings(hf_cpu_section(config)).num_threads,
    )


class HFReplica(RolloutReplica):
    """One :class:`HFRolloutServer` per replica, started beside the trainer workers."""

    def rollout_worker_use_gpu(self) -> bool:
        return False

    async def launch_servers(self) -> None:
        name = server_actor_name(self.replica_rank, self.name_suffix)
        server_cls = ray.remote(HFRolloutServer)
        # Ray types an actor's methods only when they carry @ray.method, so the handle is Any to mypy.
        server: Any = server_cls.options(name=name, num_cpus=SERVER_CPUS, max_concurrency=self.max_concurrency).remote(
            settings=server_settings(self.config, self.model_config), replica_rank=self.replica_rank
        )
        logger.info(await server.ready.remote())
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"hf-cpu://{name}"


class HFServerAdapter(BaseRollout):
    """The rollout handle inside each trainer worker: forwards weight updates to its server.

    Every rank consumes the weight generator (FSDP gathers are collective); only the first
    rank of each replica ships the tensors to the server through Ray's object store.
    """

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1):
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        world = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self._has_server = rank % world == 0
        self.sleep_level = 1

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(
        self,
        weights: Generator[tuple[str, torch.Tensor], None, None],
        wire_format: str = "named_tensors",
        **kwargs: Any,
    ) -> None:
        if wire_format != "named_tensors":
            raise ValueError(f"hf_cpu rollout receives full named tensors only, got wire_format={wire_format!r}")
        if kwargs.get("peft_config") is not None:
            raise ValueError("hf_cpu rollout does not serve LoRA adapters; set actor_rollout_ref.model.lora.merge=True")
        start = time.perf_counter()
        state = {}
        for name, tensor in weights:
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            state[name] = tensor.detach().to("cpu", copy=True)
        if self._has_server:
            server = ray.get_actor(server_actor_name(self.replica_rank))
            await server.load_weights.remote(state, kwargs.get("global_steps"))
        logger.info("hf_cpu weight sync: %d tensors in %.2fs", len(state), time.perf_counter() - start)
