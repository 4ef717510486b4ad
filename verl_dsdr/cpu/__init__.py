"""CPU backend for verl 0.9.1: platform, HF-sampling rollout, process-group fix.

A debugging and CI path: it runs verl's real PPO trainer on a machine without a GPU with a
tiny model. It is not a way to train real models. Activated by ``VERL_PLATFORM=cpu``
(the ``preset=cpu`` config sets it for every Ray process).
"""
