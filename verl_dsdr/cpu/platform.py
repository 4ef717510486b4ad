"""A CPU platform for verl's platform registry.

verl 0.9.1 has no CPU platform: without an accelerator it falls back to ``nvidia``
(``verl/plugin/platform/platform_manager.py:_detect_platform_name``) and every
``get_torch_device()`` call lands in ``torch.cuda``. This platform is registered under
the name ``cpu`` and chosen with ``VERL_PLATFORM=cpu``; it is a debugging/CI backend.

The Ray resource stays ``GPU`` (a *logical* GPU declared with ``ray_init.num_gpus``):
verl's resource pools place workers by GPU bundles, so a CPU run declares one logical
GPU per trainer process instead of rewriting the pool.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

PLATFORM_NAME = "cpu"


def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


def _zero(*_args: Any, **_kwargs: Any) -> int:
    return 0


def _total_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        return 0


def _get_rng_state(device: Any = "cpu") -> torch.Tensor:
    """The CPU generator's state: on this platform the device generator is torch's CPU one."""
    return torch.get_rng_state()


def _set_rng_state(new_state: torch.Tensor, device: Any = "cpu") -> None:
    torch.set_rng_state(new_state)


def _build_device_module() -> types.ModuleType:
    """A ``torch.<device>``-like namespace for CPU.

    verl calls CUDA-style helpers on the device module (memory stats, synchronize,
    set_device, empty_cache, manual_seed...). ``torch.cpu`` lacks most of them, so the
    memory and device-selection calls are no-ops returning neutral values, and the rest
    forwards to ``torch.cpu``. ``get_device_name`` must return a string:
    ``verl/utils/flops_counter.py`` crashes on ``None``. The rng-state pair is torch's CPU
    generator (``torch.cpu`` has none): verl's checkpoint resume restores the device state with
    ``get_torch_device().set_rng_state`` (``verl/utils/checkpoint/checkpoint_manager.py:219``).
    """
    module = types.ModuleType("verl_dsdr_cpu_device")
    for name in (
        "synchronize",
        "set_device",
        "empty_cache",
        "reset_peak_memory_stats",
        "reset_max_memory_allocated",
        "manual_seed",
        "manual_seed_all",
        "ipc_collect",
    ):
        setattr(module, name, _noop)
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved"):
        setattr(module, name, _zero)
    # Set through setattr: a ModuleType declares none of these attributes for mypy.
    attributes: dict[str, Any] = {
        "current_device": lambda: "cpu",  # a `.to()` target, see PlatformCPU.current_device
        "is_available": lambda: True,
        "device_count": lambda: 1,
        "get_device_name": lambda *_a, **_k: "CPU",
        "get_device_capability": lambda *_a, **_k: (None, None),
        "mem_get_info": lambda *_a, **_k: (0, 0),
        "get_device_properties": lambda *_a, **_k: types.SimpleNamespace(name="CPU", total_memory=_total_memory()),
        "memory_stats": lambda *_a, **_k: {},
        "get_rng_state": _get_rng_state,
        "set_rng_state": _set_rng_state,
        "Stream": torch.cpu.Stream,
        "Event": torch.cpu.Event if hasattr(torch.cpu, "Event") else None,
        "stream": torch.cpu.stream,
        "current_stream": torch.cpu.current_stream,
        "device": torch.cpu.device if hasattr(torch.cpu, "device") else contextlib.nullcontext,
    }
    for name, value in attributes.items():
        setattr(module, name, value)

    def _getattr(name: str) -> Any:
        return getattr(torch.cpu, name)

    vars(module)["__getattr__"] = _getattr  # the module-level __getattr__ (PEP 562)
    return module


DEVICE_MODULE = _build_device_module()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """verl platform for plain CPUs (gloo collectives, no device memory)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # Never auto-selected: a GPU box must keep its CUDA platform. Chosen only by VERL_PLATFORM=cpu.
        return False

    def current_device(self) -> str:  # type: ignore[override]
        # verl uses ``get_device_id()`` as a ``.to()`` target (verl/utils/fsdp_utils.py:507); an int
        # there means a CUDA ordinal, so the CPU platform answers with the device string.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextlib.contextmanager
    def nvtx_range(self, msg: str) -> Iterator[None]:
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None
