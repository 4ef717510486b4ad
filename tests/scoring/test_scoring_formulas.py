"""Formula extraction (Eq. 7): span grammar, normalisation, caps, sympy mode and bad input."""

import time

import pytest

from verl_dsdr.scoring import bounded, formulas
from verl_dsdr.scoring.bounded import Outcome
from verl_dsdr.scoring.formulas import (
    MAX_FORMULAS,
    MAX_KEY_CHARS,
    canonical_key,
    extract_formulas,
    find_math_spans,
)


def keys(text):
    return set(extract_formulas(text))


def test_every_delimiter_kind():
    text = (
        r"inline $a+b$, display $$c+d$$, paren \(e+f\), bracket \[g+h\], "
        r"\begin{equation} i+j \end{equation} and \boxed{k+l}."
    )
    assert [kind for kind, _ in find_math_spans(text)] == ["$", "$$", "\\(", "\\[", "equation", "boxed"]
    assert keys(text) == {"a+b", "c+d", "e+f", "g+h", "i+j", "k+l"}


def test_normalisation_rules():
    # whitespace, \left/\right, \displaystyle, spacing commands, ~ and trailing punctuation go;
    # \dfrac becomes \frac. Each line below normalises to the same key.
    same = [
        r"$\frac{1}{2}(x+1)$",
        r"$ \frac { 1 } { 2 } \left( x + 1 \right) $",
        r"$\displaystyle \dfrac{1}{2}\,(x\;+\:1\!)$.",
        r"$\tfrac{1}{2}\quad(x~+\qquad 1),$",
    ]
    for text in same:
        assert keys(text) == {r"\frac{1}{2}(x+1)"}, text
    # \left. is an invisible delimiter: the dot goes with it; \leftarrow is not \left.
    assert keys(r"$\left. x^2 \right|_0^1$") == {"x^2|_0^1"}
    assert keys(r"$a \leftarrow b$") == {r"a\leftarrowb"}
    assert keys("$x = 1.$ and $y;:$") == {"x=1", "y"}
    assert keys("$ $ and $.$") == set()  # empty keys are dropped


def test_boxed_contents_nested_braces_and_escapes():
    assert keys(r"so \boxed{\frac{1}{\sqrt{2}}}") == {r"\frac{1}{\sqrt{2}}"}
    assert keys(r"\boxed{\{1, 2\}}") == {r"\{1,2\}"}
    # inside math, \boxed's braces are unwrapped
    assert keys(r"$x = \boxed{42}$") == {"x=42"}
    # unclosed \boxed: nothing, and no error
    assert keys(r"\boxed{x + 1") == set()


def test_aligned_environments_split_into_rows():
    text = r"""\begin{align*}
    f(x) &= (x+1)^2 \\
         &= x^2 + 2x + 1. \nonumber \\[2pt]
    g &= 3 \label{eq:g}
    \end{align*}"""
    assert keys(text) == {"f(x)=(x+1)^2", "=x^2+2x+1", "g=3"}
    # aligned inside \[..\] gives the same rows as align
    assert keys(r"\[\begin{aligned} a &= b \\ c &= d \end{aligned}\]") == {"a=b", "c=d"}
    # matrices and cases are one formula, wrapper and & kept
    assert keys(r"\[ A = \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \]") == {
        r"A=\begin{pmatrix}1&2\\3&4\end{pmatrix}"
    }


def test_dollar_heuristics_and_escapes():
    # a closing $ is never followed by a digit: prices are not math
    assert keys("It costs $5 and $10 in total.") == set()
    assert keys(r"pay \$3 then $x$") == {"x"}
    # a blank line abandons an open span; scanning resumes after it
    assert keys("open $x = 1\n\nthen $y$") == {"y"}
    # \\[ is a line break, not display math
    assert keys(r"a \\[2pt] b $z$") == {"z"}


def test_caps_on_count_and_key_length():
    many = " ".join(f"$x_{{{i}}}$" for i in range(MAX_FORMULAS + 100))
    got = extract_formulas(many)
    assert len(got) == MAX_FORMULAS
    assert "x_{0}" in got and f"x_{{{MAX_FORMULAS - 1}}}" in got and f"x_{{{MAX_FORMULAS}}}" not in got
    long_key = "a" * (MAX_KEY_CHARS + 1)
    assert keys(f"${long_key}$ and $b$") == {"b"}
    assert keys(f"${'a' * MAX_KEY_CHARS}$") == {"a" * MAX_KEY_CHARS}


def test_fast_path_matches_token_path():
    spans = [
        r"\left. \frac{df}{dx} \right|_{x=0}",
        r"\Bigl( x \Bigr)",
        r"a\,b\;c\:d\!e\ f",
        r"\leftarrow x \rightarrow",
        r"\dfrac ab + \tfrac{1}{2}",
        "x = 1, ",
        r"\displaystyle\int_0^1",
        "  ",
        r"\big",
        r"a}b{",
        r"\text{ if } x > 0",
        r"\mathrm{d}x",
        r"\quadx \quad x",
    ]
    for span in spans:
        assert not formulas._NEEDS_TOKENS.search(span)
        assert formulas._normalise(span) == formulas._normalise_tokens(span), span


def test_canonical_key_and_mode_validation():
    assert canonical_key(r"\left( x \right) ^ 2 .") == "(x)^2"
    assert canonical_key(r"a &= b \\ &= c") == r"a=b\\=c"  # one formula: rows joined
    with pytest.raises(ValueError, match="string, sympy"):
        extract_formulas("$x$", canonical="latex")
    with pytest.raises(ValueError, match="string, sympy"):
        canonical_key("x", canonical="")


def test_sympy_mode_unifies_equivalent_parses():
    formulas._sympy_cache.clear()
    # two string keys, but x+1 and 1+x parse to the same Add(Symbol('x'), Integer(1))
    assert keys("$x+1$ and $1 + x$") == {"x+1", "1+x"}
    got = extract_formulas("$x+1$ and $1 + x$", canonical="sympy")
    assert got == {"sympy:Add(Symbol('x'), Integer(1))"}
    # cached now: the second call gives the same set
    assert extract_formulas("$1+x$", canonical="sympy") == got


def test_sympy_mode_falls_back_to_strings_on_timeouts(monkeypatch):
    formulas._sympy_cache.clear()
    calls = []

    class Stalled:
        def call_outcome(self, fn, args, kwargs=None, *, timeout, wait=None, wait_start=None):
            calls.append(args)
            return Outcome("timeout", detail="stub")

    monkeypatch.setattr(bounded, "scoring_runner", lambda: Stalled())
    got = extract_formulas("$a+b$ $c+d$ $e+f$ $g+h$", canonical="sympy", time_limit=0.5)
    assert got == {"a+b", "c+d", "e+f", "g+h"}
    # only SYMPY_TIMEOUTS_PER_RESPONSE formulas were tried before giving up on sympy
    assert len(calls) == formulas.SYMPY_TIMEOUTS_PER_RESPONSE
    formulas._sympy_cache.clear()


BAD_INPUTS = {
    "empty": "",
    "200KB response": ("Consider $x_{1}^2+1$ and \\[ y = \\frac{a}{b} \\] then words. " * 3000)[:200_000],
    "replacement chars": "\ufffd" * 50_000 + "$\ufffd x$",
    "lone surrogates": "\udc80$x$\udcff" * 10_000,
    "unbalanced braces": "$" + "{" * 50_000 + "x$ \\boxed{" + "}" * 10 + "{" * 50_000,
    "deep nesting": "\\boxed{" + "{" * 30_000 + "1" + "}" * 30_001,
    "boxed without end": "\\boxed{" * 50_000,
    "thousands of dollars": "$" * 100_000,
    "dollar pairs": "$a$" * 50_000,
    "backslashes": "\\" * 100_000,
    "open environments": "\\begin{align}" * 20_000,
    "huge numbers": "$2^{10^{10^{10}}}$ and $1000000!$ and $9^{9^{9}}$",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_returns_a_set_in_bounded_time(name):
    text = BAD_INPUTS[name]
    t0 = time.monotonic()
    got = extract_formulas(text)
    assert isinstance(got, frozenset) and all(isinstance(k, str) and k for k in got)
    assert time.monotonic() - t0 < 15  # hang guard, not a performance assertion


def test_bad_input_in_sympy_mode_falls_back_without_raising():
    formulas._sympy_cache.clear()
    text = BAD_INPUTS["huge numbers"] + " $\\frac{$ $\\sqrt{}{}{$ $a &= $"
    t0 = time.monotonic()
    got = extract_formulas(text, canonical="sympy", time_limit=1.0)
    assert time.monotonic() - t0 < 15  # hang guard
    # huge numbers parse unevaluated; unparsable fragments stay normalised strings
    assert "sympy:factorial(Integer(1000000))" in got
    assert r"\frac{" in got


def test_sympy_mode_respects_the_response_budget(monkeypatch):
    formulas._sympy_cache.clear()
    limits = []

    class Slow:
        def call_outcome(self, fn, args, kwargs=None, *, timeout, wait=None, wait_start=None):
            limits.append(timeout)
            time.sleep(0.05)
            return Outcome("ok", value="sympy:" + args[0])

    monkeypatch.setattr(bounded, "scoring_runner", lambda: Slow())
    monkeypatch.setattr(formulas, "SYMPY_RESPONSE_BUDGET", 4.0)
    # budget 4 x 0.02 s = 0.08 s; each call takes >= 0.05 s, so exactly two calls fit:
    # the first starts at 0 s, the second at >= 0.05 s (< 0.08), a third would start at >= 0.10 s
    got = extract_formulas("$a$ $b$ $c$ $d$", canonical="sympy", time_limit=0.02)
    assert len(limits) == 2 and all(limit <= 0.02 for limit in limits)
    assert got == {"sympy:a", "sympy:b", "c", "d"}
    formulas._sympy_cache.clear()
