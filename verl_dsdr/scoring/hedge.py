"""The hedge rule: an answer scores only if it states one answer and nothing more (docs/SCORING.md).

math-verify takes the last relation of an answer (``x=3 (we rejected x=5)`` reads as 5), so an
answer that lists a guess and a "rejected" alternative would be rewarded. Before any symbolic
comparison, an answer is refused (scores 0) when, compared with the ground truth, it
1. names several values (a top-level ``,`` or ``;``, ``\\pm``/``\\mp``, the words "or"/"and",
   several different boxes) while the ground truth is no list, set, tuple or interval (has no
   ``,`` or ``;`` anywhere, no ``\\pm``, no "or"/"and");
2. holds more relations (``=``, ``<``, ``\\le``, ``\\approx``, ``\\Rightarrow`` ...) than the ground
   truth, counting at least one as allowed (``x = 5`` is fine for ``5``), and one per value
   when the ground truth is a list (``x = 1 or x = 2`` for ``1, 2``);
3. has, in its one relation (when the ground truth has none), a left side that is not a name:
   a number before the relation (``3 = 5``, ``2+3 = 5``, ``3 if x = 5``), no letter or named
   symbol at all (``\\frac{1}{2} = 5``), a short English word (``so x = 5``) or a word of three
   or more letters that is no math name and no upper-case point name (``Note that x = 5``;
   ``\\theta = ..``, ``AB = ..``, ``\\angle ABC = ..`` are names);
4. has words beyond the answer: a run of two or more letters (outside LaTeX command names,
   ``\\text{..}`` contents included) that is not in the ground truth, not a math name
   (``sin``, ``log``, ``gcd`` ...) and not a unit (``cm``, ``degrees`` ...), unless all its letters
   are variables of the ground truth (``yx`` for ``xy``).
Numbers written with thousands separators (``1,000``) are one value, as in math-verify.
"""

from __future__ import annotations

import re

__all__ = ["hedge_reason", "names_several_values", "MATH_WORDS", "UNIT_WORDS"]

MATH_WORDS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "arcsin",
        "arccos",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "log",
        "ln",
        "lg",
        "exp",
        "max",
        "min",
        "gcd",
        "lcm",
        "mod",
        "pmod",
        "det",
        "lim",
        "sup",
        "inf",
        "arg",
        "deg",
        "dim",
        "ker",
        "sqrt",
        "frac",
        "pi",
        "infty",
        "infinity",
    ]
)
UNIT_WORDS = frozenset(
    [
        "mm",
        "cm",
        "dm",
        "km",
        "in",
        "inch",
        "inches",
        "ft",
        "foot",
        "feet",
        "yd",
        "yard",
        "yards",
        "mi",
        "mile",
        "miles",
        "meter",
        "meters",
        "metre",
        "metres",
        "sq",
        "square",
        "cubic",
        "unit",
        "units",
        "degree",
        "degrees",
        "rad",
        "radian",
        "radians",
        "sec",
        "second",
        "seconds",
        "min",
        "minute",
        "minutes",
        "hr",
        "hrs",
        "hour",
        "hours",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "dollar",
        "dollars",
        "cent",
        "cents",
        "kg",
        "mg",
        "gram",
        "grams",
        "lb",
        "lbs",
        "pound",
        "pounds",
        "oz",
        "ounce",
        "ounces",
        "ml",
        "liter",
        "liters",
        "litre",
        "litres",
        "gallon",
        "gallons",
        "mph",
        "kmh",
        "percent",
    ]
)
_NOT_NAMES = frozenset(
    ["if", "is", "so", "we", "as", "be", "by", "of", "on", "to", "at", "it", "an", "no", "or", "and", "but", "not"]
)
_SEPARATOR_WORDS = frozenset({"or", "and"})

_COMMAND = re.compile(r"\\[A-Za-z]+")
_SPACING = re.compile(r"\\[,;:!> ]\s*")
# Commands that are part of a value, not a name: a left side made only of these and digits is a value.
_VALUE_COMMANDS = frozenset(
    [
        "frac",
        "dfrac",
        "tfrac",
        "sqrt",
        "cdot",
        "times",
        "div",
        "pi",
        "infty",
        "left",
        "right",
        "pm",
        "mp",
        "circ",
        "text",
        "mathrm",
        "mbox",
        "textbf",
        "displaystyle",
    ]
)
_WORD = re.compile(r"[^\W\d_]{2,}")
_LETTER = re.compile(r"[^\W\d_]")
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")
_RELATION = re.compile(
    r"\\(?:leq?|geq?|neq?|leqslant|geqslant|approx|equiv|Rightarrow|implies|iff)(?![A-Za-z])|[=<>≤≥≠≈]"
)
_PLUS_MINUS = re.compile(r"\\(?:pm|mp)(?![A-Za-z])|±")
_OPEN, _CLOSE = "([{", ")]}"


def _top_level(text: str) -> str:
    """``text`` with everything inside brackets, braces, ``\\{..\\}`` and sub/superscripts blanked."""
    out, depth, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            out.append("  ")
            i += 2
            continue
        if c == "\\" and i + 1 < n and not text[i + 1].isalpha():
            out.append("  ")  # an escape such as \, or \; is no separator
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(0, depth - 1)
        elif c in "_^" and depth == 0 and i + 1 < n and text[i + 1] not in "{\\":
            out.append("  ")  # a one-character script: x_1, 2^3
            i += 2
            continue
        out.append(c if depth == 0 and c not in _OPEN else " ")
        i += 1
    return "".join(out)


def _words(text: str) -> list[str]:
    """Lower-cased letter runs outside LaTeX command names (``\\text{..}`` contents included)."""
    return [w.lower() for w in _WORD.findall(_COMMAND.sub(" ", text))]


def _letters(text: str) -> set[str]:
    return {c.lower() for c in _LETTER.findall(_COMMAND.sub(" ", text))}


def names_several_values(text: str) -> bool:
    """Whether ``text`` lists several values: a top-level ``,``/``;``, ``\\pm``, "or", "and"."""
    return _parts(text) > 1 or bool(_PLUS_MINUS.search(text))


def _parts(text: str) -> int:
    """How many values a list names: its top-level ``,``/``;`` and "or"/"and" words, plus one."""
    separators = len(re.findall(r"[,;]", _top_level(_THOUSANDS.sub("0", _SPACING.sub("", text)))))
    return 1 + separators + sum(1 for word in _words(text) if word in _SEPARATOR_WORDS)


def _is_collection(truth: str) -> bool:
    """Whether the ground truth has several values: a list, or a set, tuple or interval (any ``,``)."""
    return names_several_values(truth) or bool(re.search(r"[,;]", _THOUSANDS.sub("0", truth)))


def _allowed(word: str, truth_words: set[str], truth_letters: set[str]) -> bool:
    return word in truth_words or word in MATH_WORDS or word in UNIT_WORDS or set(word) <= truth_letters


def hedge_reason(answer: str, truth: str) -> str | None:
    """Why ``answer`` says more than one answer, judged against ``truth``; None for a clean answer."""
    collection = _is_collection(truth)
    if names_several_values(answer) and not collection:
        return "names several values where the ground truth has one"
    relations = list(_RELATION.finditer(_top_level(answer)))
    truth_relations = len(_RELATION.findall(_top_level(truth)))
    # against a list, each value may carry its own relation: x = 1 or x = 2
    allowed_relations = max(1, truth_relations, _parts(answer) if collection else 1)
    if len(relations) > allowed_relations:
        return "holds more relations than the ground truth"
    truth_words = set(_words(truth)) | (_SEPARATOR_WORDS if collection else set())
    truth_letters = _letters(truth)
    value = answer
    if len(relations) == 1 and truth_relations == 0:
        cut = relations[0]
        left, value = answer[: cut.start()], answer[cut.end() :]
        names = _letters(left) | {c[1:] for c in _COMMAND.findall(left)} - _VALUE_COMMANDS
        if re.search(r"\d", _top_level(left)) or not names:
            return "a value stands before the relation"
        for word in _WORD.findall(_COMMAND.sub(" ", left)):
            point_name = word.isupper() and len(word) <= 4  # ABC in \angle ABC = 30^\circ
            lower = word.lower()
            if lower in _NOT_NAMES or (
                len(word) > 2 and not point_name and not _allowed(lower, truth_words, truth_letters)
            ):
                return f"the relation's left side is not a name ({lower!r})"
    extra = sorted({w for w in _words(value) if not _allowed(w, truth_words, truth_letters)})
    if extra:
        return f"words beyond the answer: {', '.join(extra[:5])}"
    return None
