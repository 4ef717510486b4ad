"""Formula sets S(o) for the formula-level diversity D_eq (Eq. 7-8).

The paper does not say how formulas are extracted; docs/SCORING.md documents the grammar below.

Scanning is one left-to-right pass. Every regex used here is a set of alternatives with no nested
or unbounded overlapping quantifiers, searched forward from the current position and never
re-scanned, so extraction is linear in the input on any text (no catastrophic backtracking).

Math spans: ``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]``, ``\\begin{ENV}..\\end{ENV}`` for ENV in
``MATH_ENVIRONMENTS`` and ``\\boxed{..}`` / ``\\fbox{..}`` (brace-matched) found outside math. A blank
line inside an open span abandons it (LaTeX forbids paragraph breaks in math): its opener counts
as text and the scan resumes after the blank line. A closing ``$`` is never followed by a digit
("$5 and $10" is not math). A span's content is split into lines at top-level ``\\\\``
(alignment rows); each line becomes one key after normalisation (see ``_normalise_tokens``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

__all__ = [
    "CANONICAL_MODES",
    "MAX_FORMULAS",
    "MAX_KEY_CHARS",
    "MAX_SPAN_CHARS",
    "MATH_ENVIRONMENTS",
    "extract_formulas",
    "canonical_key",
    "find_math_spans",
    "normalise_formula",
]

CANONICAL_MODES = ("string", "sympy")
MAX_FORMULAS = 512
"""At most this many distinct keys per response (the first ones in reading order)."""
MAX_KEY_CHARS = 2000
"""Keys longer than this (after normalisation) are dropped: such spans are degenerate output."""
MAX_SPAN_CHARS = 20000
"""Raw spans longer than this are dropped without normalising them (bounded work per span)."""
SYMPY_TIMEOUTS_PER_RESPONSE = 2
"""In sympy mode, after this many timeouts in one response the rest use the normalised string."""
SYMPY_RESPONSE_BUDGET = 4.0
"""In sympy mode one response spends at most this many times ``time_limit`` on parsing in total."""
SYMPY_CACHE_SIZE = 65536

# Line-structured environments: their rows (split at \\) are separate formulas, their "&"
# alignment marks are dropped, and their \begin/\end wrappers are not part of any key.
_LINE_ENVS = frozenset(
    name + star
    for name in (
        "align",
        "alignat",
        "aligned",
        "alignedat",
        "eqnarray",
        "flalign",
        "gather",
        "gathered",
        "multline",
        "split",
    )
    for star in ("", "*")
)
# Display wrappers whose content is the formula (the wrapper is not part of the key).
_WRAPPER_ENVS = frozenset({"equation", "equation*", "math", "displaymath", "dmath", "dmath*"})
# Structures that are math on their own (a matrix or cases block); kept whole, wrapper included.
_BLOCK_ENVS = frozenset(
    {"cases", "dcases", "matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix", "array"}
)
MATH_ENVIRONMENTS = _LINE_ENVS | _WRAPPER_ENVS | _BLOCK_ENVS

# Every top-level alternative starts with a literal character, so the regex engine can skip
# ahead with a fast character-set scan (about 10x faster than named groups at the top level);
# the empty named groups only say which alternative matched.
_BLANK = r"\n(?P<blank>[ \t\r\f\v]*\n)"
_OUTSIDE = re.compile(
    r"\\(?:(?P<esc>[\\$])|(?P<paren>\()|(?P<brack>\[)|begin\{(?P<env>[A-Za-z]{1,24}\*?)\}"
    r"|(?P<box>(?:boxed|fbox) ?\{))"
    r"|\$(?:(?P<dd>\$)|(?P<d>))"
)
_CLOSERS = {
    "$": re.compile(r"\\(?P<esc>[\\$])|\$(?P<close>)|" + _BLANK),
    "$$": re.compile(r"\\(?P<esc>[\\$])|\$(?P<close>\$)|" + _BLANK),
    "\\(": re.compile(r"\\(?:(?P<esc>\\)|(?P<close>\)))|" + _BLANK),
    "\\[": re.compile(r"\\(?:(?P<esc>\\)|(?P<close>\]))|" + _BLANK),
}
_BRACES = re.compile(r"\\(?P<esc>[\\{}])|\{(?P<open>)|\}(?P<close>)|" + _BLANK)
_env_closers: dict[str, re.Pattern[str]] = {}


def _env_closer(name: str) -> re.Pattern[str]:
    pattern = _env_closers.get(name)
    if pattern is None:
        pattern = re.compile(r"\\(?:(?P<esc>\\)|(?P<close>end\{" + re.escape(name) + r"\}))|" + _BLANK)
        _env_closers[name] = pattern
    return pattern


_DELIMITER_KIND = {"dd": "$$", "d": "$", "paren": "\\(", "brack": "\\["}


def find_math_spans(text: str) -> Iterator[tuple[str, str]]:
    """Yield ``(kind, content)`` for every math span, in order. Linear time.

    kind is "$", "$$", "\\(", "\\[", "boxed" or the environment name. Block environments
    (matrices, cases) yield their full ``\\begin..\\end`` text as content; other environments
    and delimiters yield the inside only. Spans longer than MAX_SPAN_CHARS are skipped.
    """
    pos, n = 0, len(text)
    while pos < n:
        m = _OUTSIDE.search(text, pos)
        if m is None:
            return
        group = m.lastgroup or ""  # every alternative of _OUTSIDE is a named group
        start = m.end()
        if group == "esc":
            pos = start
            continue
        if group == "box":
            end, pos = _match_brace(text, start)
            if end >= 0 and end - start <= MAX_SPAN_CHARS:
                yield "boxed", text[start:end]
            continue
        if group == "env":
            kind = m.group("env")
            if kind not in MATH_ENVIRONMENTS:
                pos = start
                continue
            closer = _env_closer(kind)
        else:
            kind = _DELIMITER_KIND[group]
            closer = _CLOSERS[kind]
        end, pos = _find_closer(text, start, closer)
        if end < 0 or end - start > MAX_SPAN_CHARS:
            continue
        if kind in _BLOCK_ENVS:
            yield kind, text[m.start() : pos]
        else:
            yield kind, text[start:end]


def _find_closer(text: str, pos: int, closer: re.Pattern[str]) -> tuple[int, int]:
    """(content end, resume position); content end is -1 if a blank line or the end came first."""
    while True:
        m = closer.search(text, pos)
        if m is None:
            return -1, len(text)
        group = m.lastgroup
        if group == "close":
            if closer is _CLOSERS["$"] and m.end() < len(text) and text[m.end()].isdigit():
                # "$5 and $10": a closing $ is never followed by a digit (pandoc's rule).
                pos = m.end()
                continue
            return m.start(), m.end()
        if group == "blank":
            return -1, m.end()
        pos = m.end()


def _match_brace(text: str, pos: int) -> tuple[int, int]:
    """Brace-match from just after an opening brace: (content end, resume position)."""
    depth = 1
    while True:
        m = _BRACES.search(text, pos)
        if m is None:
            return -1, len(text)
        group = m.lastgroup
        if group == "open":
            depth += 1
        elif group == "close":
            depth -= 1
            if depth == 0:
                return m.start(), m.end()
        elif group == "blank":
            return -1, m.end()
        pos = m.end()


# --- normalisation ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<row>\\\\(?:\[[^\]\n]{0,16}\])?)"
    r"|\\(?P<be>begin|end)\{(?P<envname>[A-Za-z]{1,24}\*?)\}"
    r"|\\(?P<cmd>[A-Za-z]+)"
    r"|(?P<esc>\\.)"
    r"|(?P<ws>\s+)"
    r"|(?P<open>\{)"
    r"|(?P<close>\})"
    r"|(?P<amp>&)"
    r"|(?P<drop>[~$])"
    r"|(?P<text>[^\\\s{}&~$]+)"
    r"|(?P<bs>\\)",
    re.S,
)
_SPACING_ESCAPES = frozenset({"\\,", "\\;", "\\:", "\\!", "\\>", "\\ ", "\\\t", "\\\n", "\\\r"})
_DROPPED_COMMANDS = frozenset(
    {
        "left",
        "right",
        "displaystyle",
        "textstyle",
        "scriptstyle",
        "scriptscriptstyle",
        "nonumber",
        "notag",
        "big",
        "Big",
        "bigg",
        "Bigg",
        "bigl",
        "bigr",
        "Bigl",
        "Bigr",
        "biggl",
        "biggr",
        "Biggl",
        "Biggr",
        "bigm",
        "Bigm",
        "biggm",
        "Biggm",
    }
)
_SPACING_COMMANDS = frozenset(
    {
        "quad",
        "qquad",
        "enspace",
        "thinspace",
        "medspace",
        "thickspace",
        "negthinspace",
        "negmedspace",
        "negthickspace",
        "enskip",
        "hfill",
    }
)
_RENAMED_COMMANDS = {"dfrac": "\\frac", "tfrac": "\\frac"}
_UNWRAP_COMMANDS = frozenset({"boxed", "fbox"})
_SUPPRESS_COMMANDS = frozenset({"label", "tag"})
_TRAILING = ".,;:"
# Spans without rows, alignment, environments, \boxed/\label/\tag or escaped \ ~ $ are
# normalised by three C-level substitutions instead of the token loop (same result; tested).
_NEEDS_TOKENS = re.compile(r"&|\\(?:[\\~$]|(?:begin|end|boxed|fbox|label|tag)(?![A-Za-z]))")
_RENAME = re.compile(r"\\[dt]frac(?![A-Za-z])")
_SIZING = r"(?:left|right|[Bb]igg?[lrm]?|displaystyle|textstyle|scriptstyle|scriptscriptstyle|nonumber|notag)"
_SPACING = (
    r"(?:\\(?:(?:quad|qquad|enspace|thinspace|medspace|thickspace|negthinspace|negmedspace"
    r"|negthickspace|enskip|hfill)(?![A-Za-z])|[,;:!>\s]))"
)
_KEY_DROP = re.compile(r"\\(?:left|right)\s*\.|\\" + _SIZING + r"(?![A-Za-z])|" + _SPACING + r"|[~$\s]")
_SRC_DROP = re.compile(r"\\(?:left|right)\s*\.|\\" + _SIZING + r"(?![A-Za-z])|[~$]")
_SRC_SPACE = re.compile(_SPACING)


def _normalise(content: str) -> list[tuple[str, str]]:
    """Split a span into lines and return ``(key, latex_source)`` per non-empty line.

    See ``_normalise_tokens`` for the rules; this dispatches simple spans to a faster path.
    """
    if _NEEDS_TOKENS.search(content):
        return _normalise_tokens(content)
    renamed = _RENAME.sub(r"\\frac", content)
    key = _KEY_DROP.sub("", renamed).rstrip(_TRAILING)
    if not key or len(key) > MAX_KEY_CHARS:
        return []
    src = " ".join(_SRC_SPACE.sub(" ", _SRC_DROP.sub("", renamed)).split()).rstrip(_TRAILING).strip()
    return [(key, src)]


# noqa: C901 below: one pass of a small LaTeX tokenizer whose branches are its grammar; split up, the
# state (depth, pending command, current key) would travel between functions.
def _normalise_tokens(content: str) -> list[tuple[str, str]]:  # noqa: C901
    """Split a span into lines and return ``(key, latex_source)`` per non-empty line.

    key: whitespace, ``\\left``/``\\right`` (and ``\\bigl`` etc.), ``\\displaystyle``, spacing
    commands, ``~``, ``$``, ``\\label{..}``/``\\tag{..}``, ``\\nonumber``, the braces of
    ``\\boxed{..}`` and trailing ``.,;:`` removed; ``\\dfrac``/``\\tfrac`` -> ``\\frac``. Lines are
    split at ``\\\\`` outside braces and outside block environments, where ``&`` is dropped and
    line-structured environment wrappers (aligned, ...) vanish.
    latex_source: the same text with whitespace kept as single spaces (parsable LaTeX).
    """
    lines: list[tuple[str, str]] = []
    key: list[str] = []
    src: list[str] = []
    braces: list[str] = []  # "n" normal, "b" unwrap (boxed), "s" suppress (label)
    opaque = 0  # open braces other than unwrapped \boxed braces: rows inside them are not split
    suppress = 0
    envs: list[bool] = []  # True: line-structured environment (transparent)
    block_depth = 0
    pending = ""  # brace kind for the next "{" after \boxed / \label
    drop_dot = False

    def end_line() -> None:
        k = "".join(key).rstrip(_TRAILING)
        if k and len(k) <= MAX_KEY_CHARS:
            lines.append((k, " ".join("".join(src).split()).rstrip(_TRAILING).strip()))
        key.clear()
        src.clear()

    for m in _TOKEN.finditer(content):
        group = m.lastgroup
        tok = m.group()
        next_pending = ""
        if group == "ws":
            if not suppress:
                src.append(" ")
            continue
        if group == "open":
            kind = pending or "n"
            braces.append(kind)
            if kind != "b":
                opaque += 1
            if kind == "s":
                suppress += 1
            elif kind == "n" and not suppress:
                key.append("{")
                src.append("{")
            pending = ""
            drop_dot = False
            continue
        pending = ""
        if group == "close":
            kind = braces.pop() if braces else "u"  # "u": unbalanced, kept as text
            if kind in ("n", "s"):
                opaque -= 1
            if kind == "s":
                suppress -= 1
            elif kind in ("n", "u") and not suppress:
                key.append("}")
                src.append("}")
        elif suppress:
            next_pending = ""  # inside a suppressed group (\\label{...} and the like): the token is dropped
        elif group == "cmd":
            name = m.group("cmd")
            if name in ("left", "right"):
                drop_dot = True
                continue
            if name in _DROPPED_COMMANDS:
                continue
            if name in _SPACING_COMMANDS:
                src.append(" ")
                continue
            if name in _UNWRAP_COMMANDS:
                next_pending = "b"
            elif name in _SUPPRESS_COMMANDS:
                next_pending = "s"
            else:
                tok = _RENAMED_COMMANDS.get(name, tok)
                key.append(tok)
                src.append(tok)
        elif group == "esc":
            if tok in _SPACING_ESCAPES:
                src.append(" ")
            else:
                key.append(tok)
                src.append(tok)
        elif group == "row":
            if not opaque and not block_depth:
                end_line()
            else:
                key.append(tok)
                src.append(tok)
        elif group == "envname":
            name = m.group("envname")
            opening = m.group("be") == "begin"
            transparent = name in _LINE_ENVS and not opaque and not block_depth
            if opening:
                envs.append(transparent)
                if not transparent:
                    block_depth += 1
            elif envs:
                was_transparent = envs.pop()
                if not was_transparent:
                    block_depth = max(0, block_depth - 1)
                transparent = was_transparent
            if not transparent:
                key.append(tok)
                src.append(tok)
        elif group == "amp":
            if opaque or block_depth:
                key.append("&")
                src.append("&")
        elif group == "text":
            if drop_dot and tok[0] == ".":
                tok = tok[1:]
            if tok:
                key.append(tok)
                src.append(tok)
        elif group == "bs":
            key.append(tok)
            src.append(tok)
        # group "drop" (~, $) emits nothing
        pending = next_pending
        drop_dot = False
    end_line()
    return lines


def normalise_formula(formula: str) -> str:
    """The string key of one formula (no line splitting at ``\\\\``); may be empty."""
    keys = [k for k, _ in _normalise_one_line(formula)]
    return keys[0] if keys else ""


def _normalise_one_line(formula: str) -> list[tuple[str, str]]:
    lines = _normalise(formula)
    if len(lines) <= 1:
        return lines
    return [("\\\\".join(k for k, _ in lines), " \\\\ ".join(s for _, s in lines))]


# --- sympy canonical form (runs in the bounded worker) ----------------------------------------


def _sympy_canonical(source: str) -> str | None:
    """``"sympy:" + srepr`` of latex2sympy's parse (no simplification), or None if unparsable."""
    import sympy
    from latex2sympy2_extended import latex2sympy

    try:
        expr = latex2sympy(source)
    except Exception:
        return None
    if not isinstance(expr, (sympy.Basic, sympy.MatrixBase)):
        return None
    out = "sympy:" + sympy.srepr(expr)
    return out if len(out) <= MAX_KEY_CHARS else None


class _LRU:
    """Thread-safe bounded mapping: normalised key -> canonical key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_sympy_cache = _LRU(SYMPY_CACHE_SIZE)


def _check_mode(canonical: str, time_limit: float) -> None:
    if canonical not in CANONICAL_MODES:
        raise ValueError(f"unknown formula canonical mode {canonical!r}: use one of {', '.join(CANONICAL_MODES)}")
    if not time_limit > 0:
        raise ValueError(f"formula time_limit must be > 0 seconds, got {time_limit!r}")


def _canonicalise(pairs: list[tuple[str, str]], time_limit: float) -> list[str]:
    """Sympy keys for ``(key, source)`` pairs; the string key wherever sympy did not answer in time.

    Each parse gets at most ``time_limit`` s; the whole list at most SYMPY_RESPONSE_BUDGET times
    that (waits for a busy or starting worker included) and at most SYMPY_TIMEOUTS_PER_RESPONSE
    timeouts. Parse results and failures are cached; budget skips are not (they may parse later).
    """
    from verl_dsdr.scoring import bounded

    runner = None
    deadline = time.monotonic() + SYMPY_RESPONSE_BUDGET * time_limit
    timeouts = 0
    out = []
    for key, source in pairs:
        cached = _sympy_cache.get(key)
        if cached is not None:
            out.append(cached)
            continue
        left = deadline - time.monotonic()
        if timeouts >= SYMPY_TIMEOUTS_PER_RESPONSE or left <= 0:
            out.append(key)
            continue
        runner = runner or bounded.scoring_runner()
        limit = min(time_limit, left)
        outcome = runner.call_outcome(_sympy_canonical, (source,), timeout=limit, wait=left, wait_start=left)
        value = outcome.value if outcome.ok and outcome.value else key
        if outcome.status in ("timeout", "crashed"):
            timeouts += 1
        # a verdict is cached; a cut-short limit, a busy or starting pool or a closed runner is not one
        if outcome.status in ("ok", "error", "crashed") or (outcome.status == "timeout" and limit == time_limit):
            _sympy_cache.put(key, value)
        out.append(value)
    return out


def extract_formulas(text: str, canonical: str = "string", time_limit: float = 1.0) -> frozenset[str]:
    """S(o): the set of formula keys of one response (Eq. 7). Never raises on bad text.

    canonical="string": normalised strings (linear time, no sympy). "sympy": each key replaced
    by its sympy canonical form when latex2sympy parses it within ``time_limit`` seconds (hard
    limit in a worker process; cached), else kept as the normalised string.
    """
    _check_mode(canonical, time_limit)
    if not isinstance(text, str):
        raise TypeError(f"extract_formulas expects a str response, got {type(text).__name__}")
    found: dict[str, str] = {}
    for _kind, content in find_math_spans(text):
        for key, source in _normalise(content):
            if key not in found:
                found[key] = source
                if len(found) >= MAX_FORMULAS:
                    break
        if len(found) >= MAX_FORMULAS:
            break
    if canonical == "string" or not found:
        return frozenset(found)
    return frozenset(_canonicalise(list(found.items()), time_limit))


def canonical_key(formula: str, canonical: str = "string", time_limit: float = 1.0) -> str:
    """The key of one formula given without delimiters (rows joined, not split). May be empty."""
    _check_mode(canonical, time_limit)
    lines = _normalise_one_line(formula)
    if not lines:
        return ""
    if canonical == "string":
        return lines[0][0]
    return _canonicalise(lines, time_limit)[0]
