"""What resuming a checkpoint and a reference model need from the CPU backend, without Ray.

Resume: verl restores the device generator with ``get_torch_device().set_rng_state``
(``verl/utils/checkpoint/checkpoint_manager.py:219``); on the CPU platform that is torch's CPU
generator. Reference model: verl builds it with ``CPUOffloadPolicy(pin_memory=True)``
(``verl/workers/engine/fsdp/transformer_impl.py:462``), and pinning needs CUDA.
"""

import sys

import pytest
import torch
import torch.distributed as dist

from verl_dsdr.cpu import patches
from verl_dsdr.cpu.platform import PlatformCPU


@pytest.fixture
def cpu_platform(monkeypatch):
    """verl's platform manager answering with the CPU platform for this test only."""
    from verl.plugin.platform import platform_manager

    monkeypatch.setattr(platform_manager, "_current_platform", PlatformCPU())
    return platform_manager.get_platform()


def test_device_rng_state_is_the_cpu_generator(cpu_platform):
    module = cpu_platform.device_module
    torch.manual_seed(123)
    state = module.get_rng_state()
    assert torch.equal(state, torch.get_rng_state())
    first = torch.rand(5)
    module.set_rng_state(state)
    assert torch.equal(torch.rand(5), first), "set_rng_state did not rewind torch's CPU generator"
    module.set_rng_state(state, device="cpu")  # verl may name the device, as torch.cuda allows
    assert torch.equal(torch.rand(5), first)


def test_checkpoint_rng_round_trip_through_verl(cpu_platform):
    """verl's own save/restore of the rng states (what a resumed run calls) works and rewinds."""
    import random

    import numpy as np
    from verl.utils.checkpoint.checkpoint_manager import BaseCheckpointManager

    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    saved = BaseCheckpointManager.get_rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)  # the restarted process starts from another state
    np.random.seed(99)
    random.seed(99)
    BaseCheckpointManager.load_rng_state(saved)  # died here: torch.cpu has no set_rng_state
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


@pytest.fixture
def unpinned_policy(monkeypatch):
    """Apply the offload patch; the original names come back after the test."""
    import verl.utils.fsdp_utils as fsdp_utils

    monkeypatch.setattr(fsdp_utils, "CPUOffloadPolicy", fsdp_utils.CPUOffloadPolicy)
    engine = sys.modules.get("verl.workers.engine.fsdp.transformer_impl")
    if engine is not None:
        monkeypatch.setattr(engine, "CPUOffloadPolicy", engine.CPUOffloadPolicy)
    patches.patch_offload_pinning(fsdp_utils)
    return fsdp_utils.CPUOffloadPolicy


def test_offload_policy_is_built_unpinned(unpinned_policy):
    from torch.distributed.fsdp import CPUOffloadPolicy

    policy = unpinned_policy(pin_memory=True)  # what transformer_impl.py:462 asks for
    assert isinstance(policy, CPUOffloadPolicy)
    assert policy.pin_memory is False
    import verl.utils.fsdp_utils as fsdp_utils

    patches.patch_offload_pinning(fsdp_utils)  # idempotent: no second subclass

    assert fsdp_utils.CPUOffloadPolicy is unpinned_policy


def test_engine_module_imported_after_the_patch_sees_it(unpinned_policy, cpu_platform):
    from verl.workers.engine.fsdp import transformer_impl

    assert transformer_impl.CPUOffloadPolicy(pin_memory=True).pin_memory is False


@pytest.fixture
def single_process_group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_offloaded_module_runs_forward_on_cpu(unpinned_policy, single_process_group):
    """FSDP2 with the policy verl gives the reference model shards, loads and runs on CPU."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x = torch.randn(3, 4)
    with torch.no_grad():
        expected = model(x)
    mesh = init_device_mesh("cpu", (1,))
    policy = unpinned_policy(pin_memory=True)
    fully_shard(model[0], mesh=mesh, offload_policy=policy)
    fully_shard(model, mesh=mesh, offload_policy=policy)
    with torch.no_grad():
        assert torch.allclose(model(x), expected, atol=1e-6)
