"""A method's required parts are abstract: a class without them fails when it is registered or created."""

import inspect

import pytest

from verl_dsdr.methods import METHODS, Method, RewardField, register_method
from verl_dsdr.methods.wire import FormulaSet, ResponseEmbedding


def test_a_method_without_an_advantage_fails_at_registration():
    class NoAdvantage(Method):
        config_cls = object

    with pytest.raises(TypeError, match=r"method 'test_no_advantage' \(.*NoAdvantage\) does not define advantage: "):
        register_method("test_no_advantage")(NoAdvantage)
    assert "test_no_advantage" not in METHODS


def test_a_reward_field_without_compute_cannot_be_created():
    class NoCompute(RewardField):
        key = "x"

    with pytest.raises(TypeError, match="compute"):
        NoCompute()


def test_every_registered_method_and_the_packages_reward_fields_are_concrete():
    assert METHODS and all(not inspect.isabstract(type(m)) for m in METHODS.values())
    assert not inspect.isabstract(ResponseEmbedding) and not inspect.isabstract(FormulaSet)
