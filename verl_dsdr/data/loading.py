"""Read a raw dataset into plain Python rows, from a local file or (when online) the Hugging Face hub.

Rows are plain ``dict``s of Python values (lists stay lists, not numpy arrays), so the column
logic downstream never has to care which format the data came in.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["DataError", "load_rows", "looks_like_local_path"]

_LOCAL_SUFFIXES = (".parquet", ".json", ".jsonl")


class DataError(ValueError):
    """Input data that cannot be turned into verl rows; the message says what to fix."""


def looks_like_local_path(source: str) -> bool:
    """Whether ``source`` names a local file (existing, or with a data-file suffix) rather than a hub id."""
    path = Path(source)
    return path.exists() or path.suffix.lower() in _LOCAL_SUFFIXES or source.startswith((".", "/", "~"))


def _read_json(path: Path) -> list[dict]:
    """A JSON array, an object holding one list of rows, or JSON lines (also under a ``.json`` name)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _read_jsonl_text(text, path)
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
        return [data]
    raise DataError(f"{path}: expected a JSON array of objects or JSON lines, got {type(data).__name__}")


def _read_jsonl_text(text: str, path: Path) -> list[dict]:
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{line_no}: not valid JSON ({err.msg}); fix or remove that line") from err
    return rows


def _read_local(path: Path) -> list[dict]:
    if not path.is_file():
        raise DataError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".jsonl":
        return _read_jsonl_text(path.read_text(encoding="utf-8"), path)
    if suffix == ".json":
        return _read_json(path)
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .parquet, .json or .jsonl")


def _read_hub(name: str, config: str | None, split: str) -> list[dict]:
    """``datasets.load_dataset(name, config, split=split)`` as rows, with an actionable error offline."""
    import datasets

    try:
        table = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # the hub client raises many unrelated types when offline
        raise DataError(
            f"could not load {name!r} (config={config!r}, split={split!r}) from the Hugging Face hub: "
            f"{type(err).__name__}: {err}. Offline? Download the dataset file elsewhere and pass "
            f"--input PATH (.parquet, .json or .jsonl)."
        ) from err
    return table.to_list()


def load_rows(source: str, *, hub_config: str | None = None, hub_split: str = "train") -> list[dict]:
    """Rows of ``source``: a local parquet/json/jsonl file, or a hub dataset id when it is not a path."""
    if looks_like_local_path(source):
        rows = _read_local(Path(source).expanduser())
    else:
        rows = _read_hub(source, hub_config, hub_split)
    bad = [i for i, row in enumerate(rows) if not isinstance(row, dict)]
    if bad:
        raise DataError(f"{source}: rows {bad[:10]} are not objects (every row must map column -> value)")
    return rows
