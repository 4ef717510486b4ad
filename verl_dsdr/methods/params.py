"""Typed method settings: every key declared once, with its default, range and paper symbol.

A method's config is a frozen dataclass whose fields are declared with :func:`param`. The
same declaration gives the default (the yaml entry config is checked against it by a test),
the range check (run in ``__post_init__``, so a bad value is refused wherever the object is
built: by ``verl_dsdr.config_checks`` before Ray starts, by verl's ``omega_conf_to_dataclass``,
or in Python) and the documentation (``docs/ALGORITHM.md`` lists the same fields).
Imports neither verl nor ray.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class ConfigError(ValueError):
    """A config value verl-dsdr cannot run with; the message says which key and how to fix it."""


def fail(key: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ConfigError(
        f"{key}={value!r} is invalid: allowed {allowed}. Fix it with `{key}=<value>` on the command line."
    )


def param(
    default: Any,
    doc: str,
    *,
    symbol: str = "",
    eq: str = "",
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    choices: Sequence[str] | None = None,
) -> Any:
    """A config field: default, one-line meaning, paper symbol and equation, allowed range."""
    meta = dict(doc=doc, symbol=symbol, eq=eq, low=low, low_open=low_open, high=high, choices=choices)
    return dataclasses.field(default=default, metadata=meta)


def section(factory: type, doc: str) -> Any:
    """A nested settings section (itself a :class:`Settings` dataclass)."""
    return dataclasses.field(default_factory=factory, metadata=dict(doc=doc))


def allowed_text(meta: Mapping[str, Any], kind: Any) -> str:
    """The allowed range of a field in words (used in error messages and docs)."""
    if meta.get("choices"):
        return " | ".join(meta["choices"])
    if kind is bool:
        return "true | false"
    if kind is str:
        return "a string"
    low, high = meta.get("low"), meta.get("high")
    noun = "an integer" if kind is int else "a finite number"
    parts = []
    if low is not None:
        parts.append(f"{'>' if meta.get('low_open') else '>='} {low:g}")
    if high is not None:
        parts.append(f"<= {high:g}")
    return noun + (" " + " and ".join(parts) if parts else "")


def _check_value(key: str, value: Any, kind: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` if it fits the field (ints accepted for float fields), else a ConfigError naming ``key``."""
    allowed = allowed_text(meta, kind)
    if meta.get("choices"):
        if value not in meta["choices"]:
            fail(key, value, allowed)
        return value
    if kind is bool:
        if not isinstance(value, bool):
            fail(key, value, allowed)
        return value
    if kind is str:
        if not isinstance(value, str):
            fail(key, value, allowed)
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(key, value, allowed)
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        fail(key, value, allowed)
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value <= low if meta.get("low_open") else value < low):
        fail(key, value, allowed)
    if high is not None and value > high:
        fail(key, value, allowed)
    return float(value) if kind is float else value


@dataclasses.dataclass
class Settings:
    """Base of every method's settings: checked on construction, read-only afterwards.

    Not a ``frozen`` dataclass because OmegaConf makes frozen structured configs read-only before
    merging values in (verl's ``omega_conf_to_dataclass``); like verl's ``BaseConfig``, a field
    that is already set cannot be set again.
    """

    KEY: ClassVar[str] = ""  # where the section lives in the composed config, e.g. "algorithm.dsdr"

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__:
            raise dataclasses.FrozenInstanceError(f"{self.KEY}.{name} is read-only once the settings are built")
        super().__setattr__(name, value)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, Settings):
                continue
            checked = _check_value(f"{self.KEY}.{f.name}", value, hints[f.name], f.metadata)
            self.__dict__[f.name] = checked


def field_kinds(cls: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build(cls: Any, values: Any) -> Any:
    """``cls`` from a mapping (a DictConfig section or a dict): unknown keys and bad values name their key."""
    if isinstance(values, cls):
        return values
    if values is None:
        values = {}
    if not isinstance(values, Mapping) and not hasattr(values, "keys"):
        raise ConfigError(f"{cls.KEY} must be a mapping of settings, got {values!r}")
    kinds = field_kinds(cls)
    unknown = sorted(set(values.keys()) - set(kinds))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(cls.KEY + '.' + str(k) for k in unknown)}: allowed keys are "
            f"{', '.join(sorted(k for k in kinds if not k.startswith('_')))} (a misspelling?)"
        )
    kwargs = {}
    for name, kind in kinds.items():
        if name not in values:
            continue
        value = values[name]
        if dataclasses.is_dataclass(kind):
            value = build(kind, value)
        kwargs[name] = value
    return cls(**kwargs)


def defaults_tree(cls: Any) -> dict[str, Any]:
    """The defaults of ``cls`` as plain nested dicts (what the yaml entry config must hold)."""
    return dataclasses.asdict(cls())


def describe(cls: Any) -> list[tuple[str, Any, str, str, str, str]]:
    """``(key, default, allowed, symbol, equation, doc)`` for every leaf field, nested sections included."""
    rows = []
    kinds = field_kinds(cls)
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        kind = kinds[f.name]
        if dataclasses.is_dataclass(kind):
            rows.extend(describe(kind))
            continue
        meta = f.metadata
        rows.append(
            (
                f"{cls.KEY}.{f.name}",
                f.default,
                allowed_text(meta, kind),
                meta.get("symbol", ""),
                meta.get("eq", ""),
                meta.get("doc", ""),
            )
        )
    return rows


def _cell(value: Any) -> str:
    """A table cell: booleans as in yaml, ``|`` escaped."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return text.replace("|", "\\|")


def config_table(cls: Any) -> str:
    """The Markdown table of a settings class (docs/ALGORITHM.md holds it; a test keeps it equal)."""
    lines = ["| Key | Default | Allowed | Symbol, equation | Meaning |", "| --- | --- | --- | --- | --- |"]
    for key, default, allowed, symbol, eq, doc in describe(cls):
        where = ", ".join(x for x in (f"`{symbol}`" if symbol else "", eq) if x)
        lines.append(f"| `{key}` | {_cell(default)} | {_cell(allowed)} | {where} | {_cell(doc)} |")
    return "\n".join(lines)


TABLE_START, TABLE_END = "<!-- config-table {} -->", "<!-- /config-table -->"


def render_config_tables(text: str, classes: Sequence[Any]) -> str:
    """``text`` with the table between each class's markers regenerated (``TABLE_START.format(cls.KEY)``)."""
    for cls in classes:
        start = TABLE_START.format(cls.KEY)
        if start not in text:
            raise ValueError(f"no {start!r} marker: add it where the table of {cls.KEY} belongs")
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(TABLE_END)
        text = f"{head}{start}\n{config_table(cls)}\n{TABLE_END}{tail}"
    return text
