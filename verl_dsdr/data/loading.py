"""Read a raw dataset into plain Python rows, from a local file or (when online) the Hugging Face hub.

Rows are plain ``dict``s of Python values (lists stay lists, not numpy arrays), so the column
logic downstream never has to care which format the data came in. A line that cannot be read
(not JSON, not an object, a CSV line with the wrong number of fields) becomes a :class:`BadRow`
in its place, so that it is reported or dropped with the others instead of ending the run.
Text is decoded as UTF-8 with invalid bytes kept as lone surrogates (``surrogateescape``): the
rows holding them are refused by the row checks, each named, instead of one decode error for
the whole file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verl_dsdr.utils.hub import is_hub_id
from verl_dsdr.utils.jsonl import JsonlError, iter_jsonl

__all__ = ["DataError", "BadRow", "load_rows", "resolve_source", "LOCAL_SUFFIXES"]

LOCAL_SUFFIXES = (".parquet", ".json", ".jsonl", ".csv", ".json.gz", ".jsonl.gz", ".csv.gz")
"""File types read (a ``.gz`` suffix means gzip-compressed)."""
_PATH_LIKE_SUFFIXES = frozenset(
    {".parquet", ".json", ".jsonl", ".csv", ".tsv", ".txt", ".gz", ".zip", ".xz", ".bz2", ".zst", ".arrow"}
)


class DataError(ValueError):
    """Input data that cannot be turned into verl rows; the message says what to fix."""


@dataclass(frozen=True)
class BadRow:
    """A row of the input that could not be read at all; ``reason`` says why."""

    reason: str


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] == ".gz":
        return "".join(suffixes)
    return suffixes[-1] if suffixes else ""


def _missing_file(path: Path, why: str) -> DataError:
    near = sorted(p.name for p in path.parent.glob(path.name + "*")) if path.parent.is_dir() else []
    hint = f" Did you mean {', '.join(str(path.parent / n) for n in near[:3])}?" if near else ""
    return DataError(
        f"input file {path} does not exist ({why}, so it is not taken for a hub dataset id).{hint} "
        "Hub ids look like ORG/NAME."
    )


def resolve_source(source: str) -> Path | str:
    """A local ``Path`` or a hub dataset id; a path-like string that does not exist is an error at once.

    Path-like: starts with ``.``, ``/`` or ``~``, holds a backslash or more than one ``/``, ends in a
    data-file suffix, or its folder exists here. Anything else (``NAME`` or ``ORG/NAME``) is a hub id.
    """
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_file():
            raise DataError(f"input {path} is a folder; pass a data file ({', '.join(LOCAL_SUFFIXES)})")
        return path
    if source.startswith((".", "/", "~")) or "\\" in source:
        raise _missing_file(path, "it is a path")
    if path.suffix.lower() in _PATH_LIKE_SUFFIXES:
        raise _missing_file(path, f"it ends in {path.suffix}")
    if path.parent != Path(".") and path.parent.is_dir():
        raise _missing_file(path, f"its folder {path.parent} exists here")
    if not is_hub_id(source, owner_required=False):
        raise _missing_file(path, "it is no hub id")
    return source


def _read_bytes(path: Path, compressed: bool) -> bytes:
    return gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def _read_jsonl(path: Path, data: bytes) -> list[dict | BadRow]:
    return [
        BadRow(f"line {line}: {row.problem}; {row.fix}") if isinstance(row, JsonlError) else row
        for line, row in iter_jsonl(path, data, undecodable="escape", bad_lines="yield")
    ]


def _read_json(path: Path, raw: bytes) -> list[dict | BadRow]:
    """A JSON array, an object holding one list of rows, or JSON lines (also under a ``.json`` name)."""
    try:
        data = json.loads(_decode(raw))
    except json.JSONDecodeError:
        return _read_jsonl(path, raw)
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of objects or JSON lines, got {type(data).__name__}")
    return [row if isinstance(row, dict) else BadRow(f"a JSON {type(row).__name__}, not an object") for row in data]


def _read_csv_text(text: str) -> list[dict | BadRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict | BadRow] = []
    try:
        for row in reader:
            if None in row or None in row.values():
                rows.append(
                    BadRow(
                        f"line {reader.line_num}: the number of fields differs from the header's "
                        f"{len(reader.fieldnames or ())}"
                    )
                )
            else:
                rows.append(row)
    except csv.Error as err:
        raise DataError(f"line {reader.line_num}: not valid CSV ({err})") from None
    return rows


def _read_local(path: Path) -> list[dict | BadRow]:
    suffix = _suffix(path)
    if suffix not in LOCAL_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; use {', '.join(LOCAL_SUFFIXES)}")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        raw = _read_bytes(path, compressed=suffix.endswith(".gz"))
        kind = suffix.removesuffix(".gz")
        if kind == ".jsonl":
            return _read_jsonl(path, raw)
        if kind == ".json":
            return _read_json(path, raw)
        return _read_csv_text(_decode(raw))
    except DataError as err:
        raise DataError(f"{path}: {err}" if not str(err).startswith(str(path)) else str(err)) from None
    except (OSError, EOFError, ValueError) as err:  # unreadable, a broken gzip or parquet file, ...
        raise DataError(f"{path}: cannot read it as {suffix}: {type(err).__name__}: {err}") from None


def _read_hub(name: str, config: str | None, split: str | None, preferred: tuple[str, ...]) -> tuple[list[dict], str]:
    """Rows of one split of a hub dataset (``split``, else the only one, else the first preferred)."""
    import datasets

    try:
        loaded = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # the hub client raises many unrelated types when offline
        raise DataError(
            f"could not load {name!r} (config={config!r}, split={split!r}) from the Hugging Face hub: "
            f"{type(err).__name__}: {err}. Offline? Download the dataset file elsewhere and pass "
            f"--input PATH ({', '.join(LOCAL_SUFFIXES)})."
        ) from None
    if split is None:
        names = list(loaded)
        chosen = names[0] if len(names) == 1 else next((s for s in preferred if s in names), None)
        if chosen is None:
            raise DataError(f"{name!r} has splits {names}; choose one with --hf-split")
        loaded, split = loaded[chosen], chosen
    return loaded.to_list(), split


def load_rows(
    source: str,
    *,
    hub_config: str | None = None,
    hub_split: str | None = None,
    preferred_splits: tuple[str, ...] = ("test", "train"),
) -> tuple[Sequence[dict | BadRow], str]:
    """Rows of ``source`` and where they came from (the path, or ``id [split]`` for a hub dataset)."""
    resolved = resolve_source(source)
    if isinstance(resolved, Path):
        return _read_local(resolved), str(resolved)
    rows, split = _read_hub(resolved, hub_config, hub_split, preferred_splits)
    return rows, f"{resolved} [split {split}]"
