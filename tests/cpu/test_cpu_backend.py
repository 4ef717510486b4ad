"""The CPU backend's pieces without Ray: platform, verl patches, version guard."""

import sys

import pytest
import torch

from verl_dsdr.cpu import patches
from verl_dsdr.cpu.platform import PlatformCPU


def test_platform_is_cpu_with_gloo_and_string_device_ids():
    p = PlatformCPU()
    assert p.device_name == "cpu"
    assert p.communication_backend_name() == "gloo"
    assert p.ray_resource_name() == "GPU"  # a logical GPU places verl's workers
    assert p.is_platform_available(use_smi_check=True) is False  # never auto-selected on a GPU box
    assert torch.zeros(2).to(p.current_device()).device.type == "cpu"
    module = p.device_module
    assert module.get_device_name() == "CPU"  # verl/utils/flops_counter.py needs a string
    assert module.memory_allocated() == 0 and module.max_memory_reserved() == 0
    assert module.get_device_properties(0).total_memory > 0
    module.synchronize()
    module.empty_cache()
    module.set_device(0)


def test_platform_registered_and_selectable(monkeypatch):
    from verl.plugin.platform.platform_manager import PlatformRegistry, _detect_platform_name

    assert PlatformRegistry.get("cpu") is PlatformCPU
    monkeypatch.setenv("VERL_PLATFORM", "cpu")
    assert _detect_platform_name() == "cpu"


def test_version_guard_names_the_problem_and_the_fix():
    patches.check_verl_version("0.9.1")
    with pytest.raises(patches.UnsupportedVerlVersion) as error:
        patches.check_verl_version("0.10.0")
    message = str(error.value)
    assert "0.10.0" in message and "0.9.1" in message and "pip install" in message


def test_version_guard_runs_before_any_patch(monkeypatch):
    import verl

    monkeypatch.setattr(verl, "__version__", "0.8.0")
    with pytest.raises(patches.UnsupportedVerlVersion):
        patches.install_cpu_backend()


@pytest.mark.parametrize(
    "requested, expected",
    [
        (None, "gloo"),
        ("cpu:gloo,cpu:gloo", "gloo"),
        ("cpu:gloo", "gloo"),
        ("nccl", "nccl"),
        ("cpu:gloo,cuda:nccl", "cpu:gloo,cuda:nccl"),
    ],
)
def test_process_group_backend_on_cpu(requested, expected):
    # verl/utils/distributed.py:89 builds "cpu:gloo,{device}:{backend}" = "cpu:gloo,cpu:gloo" on CPU.
    assert patches.cpu_process_group_backend(requested) == expected


def test_process_group_wrapper_passes_gloo(monkeypatch):
    import verl.utils.distributed as distributed

    calls = []
    monkeypatch.setattr(
        distributed,
        "initialize_global_process_group_ray",
        lambda timeout_second=None, backend=None: calls.append(backend),
    )
    patches.patch_process_group_init(distributed)
    distributed.initialize_global_process_group_ray()
    distributed.initialize_global_process_group_ray(backend="cpu:gloo,cpu:gloo")
    assert calls == ["gloo", "gloo"]
    patches.patch_process_group_init(distributed)  # idempotent: no double wrapping
    distributed.initialize_global_process_group_ray()
    assert calls == ["gloo", "gloo", "gloo"]


def test_rollout_registered_on_both_sides():
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    patches.register_cpu_replica(sys.modules["verl.workers.rollout.replica"])
    patches.register_cpu_adapter(base)
    assert RolloutReplicaRegistry.get("hf_cpu").__name__ == "HFReplica"
    adapter = base.get_rollout_class("hf_cpu", "async")
    assert adapter.__name__ == "HFServerAdapter"


# The replay buffer's poll interval is not CPU-specific: tests/glue/test_verl_private.py.
