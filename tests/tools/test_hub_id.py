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
        ("org/-name", False),  # each part starts with a letter or digit
        ("org/.name", False),
    ],
)
def test_hub_id(value, expected):
    assert is_hub_id(value) is expected


def test_bare_name_when_no_owner_is_required():
    assert is_hub_id("gsm8k", owner_required=False) and not is_hub_id("a b", owner_required=False)


@pytest.mark.parametrize("source", ["org/-name", "a/b/c", "a b"])
def test_the_data_loader_uses_the_same_check(source):
    """``verl_dsdr.data.loading`` refuses what is neither an existing file nor a hub id, by this one check."""
    from verl_dsdr.data.loading import DataError, resolve_source

    assert not is_hub_id(source, owner_required=False)
    with pytest.raises(DataError, match="it is no hub id"):
        resolve_source(source)


def test_the_data_loader_takes_bare_names_and_org_names_as_hub_ids():
    from verl_dsdr.data.loading import resolve_source

    assert resolve_source("gsm8k") == "gsm8k" and resolve_source("openai/gsm8k") == "openai/gsm8k"
