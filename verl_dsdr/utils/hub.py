"""What counts as a Hugging Face hub id (``org/name``), in one place."""

from __future__ import annotations

import re

# org/name: an owner and a repository, letters, digits, '_', '.', '-'; each part starts alphanumeric.
_PART = r"[A-Za-z0-9][\w.-]*"
_HUB_ID = re.compile(rf"{_PART}/{_PART}")
_BARE_NAME = re.compile(_PART)
DATA_FILE_SUFFIXES = (".parquet", ".json", ".jsonl", ".csv")


def is_hub_id(value: str, *, owner_required: bool = True) -> bool:
    """Whether ``value`` reads as a hub id: ``org/name`` (or a bare ``name`` with ``owner_required=False``).

    A string ending like a data file (``a/b.parquet``) is a local path, not a hub id.
    """
    if value.endswith(DATA_FILE_SUFFIXES):
        return False
    return bool(_HUB_ID.fullmatch(value) or (not owner_required and _BARE_NAME.fullmatch(value)))
