"""Every public function of the math layer documents its arguments and tensor shapes (like verl's core_algos)."""

import inspect

import pytest

from verl_dsdr.algorithms import asym_grpo, baselines, dsdr, groups, setpo

PUBLIC = [
    (module.__name__, name, getattr(module, name))
    for module in (asym_grpo, baselines, dsdr, groups, setpo)
    for name in module.__all__
    if inspect.isfunction(getattr(module, name))
]


def test_the_list_is_not_empty():
    assert len(PUBLIC) >= 25


@pytest.mark.parametrize("module, name, fn", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_function_has_args_and_returns(module, name, fn):
    doc = inspect.getdoc(fn) or ""
    assert "Args:" in doc and "Returns:" in doc, f"{module}.{name}: add Args: and Returns: blocks"
    for parameter in inspect.signature(fn).parameters:
        assert parameter in doc.split("Args:", 1)[1], f"{module}.{name}: Args: does not name {parameter}"
    assert "[" in doc.split("Returns:", 1)[1] or "None" in doc, f"{module}.{name}: Returns: gives no shape"
