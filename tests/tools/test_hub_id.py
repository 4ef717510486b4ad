"""One hub-id check for the config checks and the encoder (verl_dsdr.utils.hub)."""

import pytest

from verl_dsdr.utils.hub import is_hub_id


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Qwen/Qwen3-1.7B", True),
        ("sentence-transformers/all-MiniLM-L6-v2", True),
        ("data/train.parquet", False),  # a local data file, not a repository
        ("/abs/path/model", False),
        ("./model", False),
        ("gsm8k", False),  # no owner
        ("a/b/c", False),
        ("-org/name", False),
    ],
)
def test_hub_id(value, expected):
    assert is_hub_id(value) is expected


def test_bare_name_when_no_owner_is_required():
    assert is_hub_id("gsm8k", owner_required=False) and not is_hub_id("a b", owner_required=False)
