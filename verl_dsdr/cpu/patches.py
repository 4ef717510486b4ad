"""The CPU backend's patches of verl internals, each small and named.

Every function here works around one line of verl 0.9.1 and is guarded by the package's one
version check (:func:`verl_dsdr.glue.verl_private.check_verl_version`, which also guards every
other place that follows verl's private names): on another verl version the CPU backend refuses
to start with a message saying what to do, instead of patching code it has not been checked against.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import wrapt

from verl_dsdr.glue.verl_private import UnsupportedVerlVersion, check_verl_version

if TYPE_CHECKING:
    from verl_dsdr.cpu.rollout import HFReplica

__all__ = ["UnsupportedVerlVersion", "check_verl_version", "cpu_backend_requested", "install_cpu_backend"]


def cpu_process_group_backend(requested: str | None) -> str | None:
    """The backend string to use on the CPU platform.

    ``verl/utils/distributed.py:89`` (``initialize_global_process_group_ray``) builds
    ``f"cpu:gloo,{device}:{backend}"``; on CPU that is ``"cpu:gloo,cpu:gloo"``, which torch
    rejects (a device may appear once). Plain ``gloo`` covers CPU tensors.
    """
    if requested is None or requested.replace(" ", "") in ("cpu:gloo,cpu:gloo", "cpu:gloo"):
        return "gloo"
    return requested


DIST_STORE_DIR_ENV = "VERL_DSDR_DIST_STORE_DIR"


def file_store_init_method(environ: Mapping[str, str]) -> str | None:
    """A file-based rendezvous for a CPU run's process group, or ``None`` to keep verl's.

    With no ``DIST_INIT_METHOD``, torch's default rendezvous starts a TCP store on the first rank
    that listens on every interface. A CPU run on one machine can meet through a file in its own
    Ray session folder instead (``VERL_DSDR_DIST_STORE_DIR``, set by :mod:`verl_dsdr.cpu.local_ray`),
    one file per worker group (verl gives each group its own ``MASTER_PORT``), so the run opens no
    store socket at all. A ``DIST_INIT_METHOD`` the user set is kept.
    """
    folder = environ.get(DIST_STORE_DIR_ENV)
    if not folder or environ.get("DIST_INIT_METHOD"):
        return None
    return f"file://{folder}/torch_store_{environ.get('MASTER_PORT', 'default')}"


def patch_process_group_init(distributed: ModuleType) -> None:
    """Wrap ``verl.utils.distributed.initialize_global_process_group_ray`` to use ``gloo`` on CPU.

    Must run before ``verl/workers/engine_workers.py:38`` imports the function by name (a
    post-import hook on ``verl.utils.distributed`` does); if that module is already loaded its
    reference is replaced too.
    """
    import sys

    original = distributed.initialize_global_process_group_ray
    if getattr(original, "_verl_dsdr_cpu", False):
        return

    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second: float | None = None, backend: str | None = None) -> Any:
        init_method = file_store_init_method(os.environ)
        if init_method:  # verl reads DIST_INIT_METHOD (verl/utils/distributed.py ~98)
            os.environ["DIST_INIT_METHOD"] = init_method
        return original(timeout_second=timeout_second, backend=cpu_process_group_backend(backend))

    initialize_global_process_group_ray._verl_dsdr_cpu = True  # type: ignore[attr-defined]
    # setattr: a ModuleType declares no attributes to assign for mypy.
    setattr(distributed, "initialize_global_process_group_ray", initialize_global_process_group_ray)  # noqa: B010
    workers = sys.modules.get("verl.workers.engine_workers")
    if workers is not None:
        setattr(workers, "initialize_global_process_group_ray", initialize_global_process_group_ray)  # noqa: B010


def register_cpu_replica(replica: ModuleType) -> None:
    """Make ``rollout.name=hf_cpu`` resolvable on the replica side (its public registry,
    ``RolloutReplicaRegistry.register`` in ``verl/workers/rollout/replica.py``)."""
    from verl_dsdr.cpu.rollout_names import ROLLOUT_NAME

    def _load() -> type[HFReplica]:
        from verl_dsdr.cpu.rollout import HFReplica

        return HFReplica

    replica.RolloutReplicaRegistry.register(ROLLOUT_NAME, _load)


def register_cpu_adapter(rollout_base: ModuleType) -> None:
    """Make ``rollout.name=hf_cpu`` resolvable on the trainer-worker side, which has no public
    registry: ``verl/workers/rollout/base.py:95`` looks ``(name, mode)`` up in the private
    ``_ROLLOUT_REGISTRY`` dict, so the adapter's import path is added there."""
    from verl_dsdr.cpu.rollout_names import ADAPTER_FQN, ROLLOUT_NAME

    rollout_base._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = ADAPTER_FQN


def patch_offload_pinning(fsdp_utils: ModuleType) -> None:
    """Give FSDP2's CPU offload policy unpinned memory, so the reference model builds on CPU.

    ``verl/workers/engine/fsdp/transformer_impl.py:462`` builds every forward-only engine (the
    reference model of ``use_kl_loss`` / ``use_kl_in_reward``) with
    ``CPUOffloadPolicy(pin_memory=True)``, and pinning host memory needs a CUDA driver. Pinning
    only speeds host-to-GPU copies, so on CPU the policy is the same without it. That module
    imports the class from ``verl/utils/fsdp_utils.py:43``: the name is replaced there (a post-import
    hook runs before the engine module's ``from ... import`` reads it) and in the engine module if it
    is already loaded.
    """
    import dataclasses
    import sys

    policy = fsdp_utils.CPUOffloadPolicy
    if policy is None or getattr(policy, "_verl_dsdr_cpu", False):
        return

    @dataclasses.dataclass
    class UnpinnedCPUOffloadPolicy(policy):  # type: ignore[misc, valid-type]
        _verl_dsdr_cpu = True

        def __post_init__(self) -> None:
            self.pin_memory = False

    # setattr: a ModuleType declares no attributes to assign for mypy.
    setattr(fsdp_utils, "CPUOffloadPolicy", UnpinnedCPUOffloadPolicy)  # noqa: B010
    engine = sys.modules.get("verl.workers.engine.fsdp.transformer_impl")
    if engine is not None:
        setattr(engine, "CPUOffloadPolicy", UnpinnedCPUOffloadPolicy)  # noqa: B010


# Each patch and registration, with the verl module it applies to. It runs when that module
# finishes importing in this process (wrapt's post-import hook), or at once if it already has:
# a process that never imports the module (the rollout server, the agent loop) never loads it
# for nothing. verl/utils/fsdp_utils.py alone costs peft's import, ~1-2 s per process.
ON_IMPORT: tuple[tuple[str, Callable[[ModuleType], None]], ...] = (
    ("verl.utils.distributed", patch_process_group_init),
    ("verl.utils.fsdp_utils", patch_offload_pinning),
    ("verl.workers.rollout.replica", register_cpu_replica),
    ("verl.workers.rollout.base", register_cpu_adapter),
)


def install_cpu_backend() -> None:
    """Register the CPU platform now; register the rollout and fix the process group and offload
    pinning as verl imports the modules they change (idempotent)."""
    check_verl_version()
    from verl_dsdr.cpu import platform  # noqa: F401  (registers PlatformRegistry "cpu")

    for module, apply in ON_IMPORT:
        wrapt.register_post_import_hook(apply, module)


def cpu_backend_requested() -> bool:
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == "cpu"
