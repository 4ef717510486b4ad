"""Loaded by verl in every process that imports it.

verl imports this module through the ``verl.plugins`` entry point (``verl/__init__.py``) and
through ``VERL_USE_EXTERNAL_MODULES`` (set by ``verl_dsdr.main_ppo`` in Ray's runtime env), so
the trainer actor, the trainer workers, the rollout servers and the reward workers all see
the same registrations. Kept light on purpose: the CPU platform is registered first, and no
trainer or engine module is imported here (``verl/workers/engine/fsdp/transformer_impl.py``
asks for the device at import time; importing it before the platform exists fails).
"""

from verl_dsdr.cpu.patches import cpu_backend_requested, install_cpu_backend
from verl_dsdr.glue.verl_private import check_verl_version
from verl_dsdr.registration import register_all

check_verl_version()  # before anything follows verl's private names in this process
if cpu_backend_requested():
    install_cpu_backend()
register_all()
