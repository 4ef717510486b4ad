"""The plugin registers and patches when verl imports each registry, not when verl itself is imported.

Run in a fresh interpreter: the test session has long imported every module involved.
"""

import json
import os
import subprocess
import sys

PROBE = r"""
import json, sys
import verl  # loads verl_dsdr.plugin through the verl.plugins entry point
heavy = ["verl.trainer.ppo.core_algos", "verl.utils.fsdp_utils", "peft", "sklearn",
         "verl.experimental.reward_loop.reward_manager", "verl_dsdr.glue.reward_manager"]
after_verl = {name: name in sys.modules for name in heavy}

from verl.trainer.ppo.core_algos import get_adv_estimator_fn
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
from verl.workers.rollout.replica import RolloutReplicaRegistry
from verl.workers.rollout import base
import verl.utils.fsdp_utils as fsdp_utils
import verl.utils.distributed as distributed

print(json.dumps({
    "after_verl": after_verl,
    "estimators": {name: get_adv_estimator_fn(name).__module__ for name in ("dsdr", "setpo", "asym_grpo")},
    "reward_manager": get_reward_manager_cls("dsdr").__name__,
    "replica": RolloutReplicaRegistry.get("hf_cpu").__name__,
    "adapter": base.get_rollout_class("hf_cpu", "async").__name__,
    "unpinned": bool(getattr(fsdp_utils.CPUOffloadPolicy, "_verl_dsdr_cpu", False)),
    "gloo": bool(getattr(distributed.initialize_global_process_group_ray, "_verl_dsdr_cpu", False)),
}))
"""


def _probe(platform: str) -> dict:
    env = {**os.environ, "VERL_PLATFORM": platform}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plugin_defers_every_registration_to_its_registry_import():
    seen = _probe("cpu")
    assert seen["after_verl"] == dict.fromkeys(seen["after_verl"], False), seen["after_verl"]
    assert set(seen["estimators"].values()) <= {
        "verl_dsdr.methods.dsdr",
        "verl_dsdr.methods.setpo",
        "verl_dsdr.methods.asym_grpo",
    }, seen["estimators"]
    assert seen["reward_manager"] == "DSDRRewardManager"
    assert (seen["replica"], seen["adapter"]) == ("HFReplica", "HFServerAdapter")
    assert seen["unpinned"] and seen["gloo"]
