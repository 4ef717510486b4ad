"""Loaded by verl in every process that imports it.

verl imports this module through the ``verl.plugins`` entry point (``verl/__init__.py``) and
through ``VERL_USE_EXTERNAL_MODULES`` (set by ``verl_dsdr.main_ppo`` in Ray's runtime env), so
the trainer actor, the trainer workers, the rollout servers and the reward workers all see
the same registrations. Kept light on purpose: the CPU platform is registered at once, and
everything else is tied to the verl module it registers with or patches, and done when (and only
if) the process imports that module (:func:`verl_dsdr.registration.register_on_import`,
:data:`verl_dsdr.cpu.patches.ON_IMPORT`). Importing them all here cost every process ~2.4 s and
~180 MB (``docs/CPU_BACKEND.md``, "Start-up"); no trainer or engine module is imported here
(``verl/workers/engine/fsdp/transformer_impl.py`` asks for the device at import time; importing it
before the platform exists fails).
"""

from verl_dsdr.cpu.patches import cpu_backend_requested, install_cpu_backend
from verl_dsdr.glue.verl_private import check_verl_version
from verl_dsdr.registration import register_on_import

check_verl_version()  # before anything follows verl's private names in this process
if cpu_backend_requested():
    install_cpu_backend()
register_on_import()
