"""The one module that follows verl's private names: version check, poll interval, padding tags."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from verl_dsdr.glue import verl_private
from verl_dsdr.glue.group_trainer import GroupTrainerMixin


def test_every_path_uses_the_one_version_check():
    # its message is tested in tests/cpu/test_cpu_backend.py; here: the CPU backend, the plugin and main_ppo share it
    import verl_dsdr.main_ppo as main_ppo
    from verl_dsdr.cpu import patches

    assert patches.check_verl_version is verl_private.check_verl_version
    assert main_ppo.check_verl_version is verl_private.check_verl_version
    plugin_source = (Path(verl_private.__file__).parents[1] / "plugin.py").read_text()
    assert "check_verl_version()" in plugin_source


def test_replay_poll_interval_is_settable_and_checked():
    class Buffer:
        poll_interval = 2.0

    buffer = Buffer()
    verl_private.set_replay_poll_interval(buffer, 0.05)
    assert buffer.poll_interval == 0.05
    with pytest.raises(ValueError, match="poll_interval"):
        verl_private.set_replay_poll_interval(buffer, 0)


class _Buffer:
    poll_interval = 2.0


class _BaseTrainer:
    def _build_replay_buffer(self):  # stands in for PPOTrainer._build_replay_buffer (trainer_base.py:139)
        return _Buffer()


class _Trainer(GroupTrainerMixin, _BaseTrainer):
    pass


@pytest.mark.parametrize("seconds, expected", [(0.05, 0.05), (None, 2.0)])
def test_group_trainer_applies_the_poll_interval_in_every_mode(seconds, expected):
    trainer = _Trainer()
    trainer.config = OmegaConf.create({"trainer": {"v1": {"sampler": {"poll_interval": seconds}}}})
    assert trainer._build_replay_buffer().poll_interval == expected


def test_padding_rows_follow_verls_tag():
    batch = SimpleNamespace(tags=[{}, {"is_padding": True}, {"is_padding": False}])
    assert verl_private.padding_rows(batch) == [False, True, False]


def test_the_mixins_hooks_are_abstract_and_every_group_trainer_implements_them():
    import inspect

    from verl_dsdr.glue import group_trainer

    assert verl_private.PrivateHooks.__abstractmethods__ == {
        "poll_interval",
        "validation_flag",
        "group_advantage",
        "after_actor_update",
    }

    class _OneHookMissing(verl_private.PrivateHooks):
        def poll_interval(self):
            return None

        def validation_flag(self):
            return "flag"

        def group_advantage(self, batch, metrics, verl_step):
            return verl_step(batch, metrics)

    with pytest.raises(TypeError, match="after_actor_update"):
        _OneHookMissing()
    for cls in (
        group_trainer.GroupPPOTrainerSync,
        group_trainer.GroupPPOTrainerColocateAsync,
        group_trainer.GroupPPOTrainerSeparateAsync,
    ):
        assert not inspect.isabstract(cls), cls  # verl's PPOTrainer is an ABC too: one metaclass
