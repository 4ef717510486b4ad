"""Score math-verify's own test pairs with this project's verifier and list every disagreement.

math-verify's ``tests/test_all.py`` holds (gold, prediction, expected) pairs. Each prediction
becomes a model response: as it is when it has a box or an ``Answer:`` line, else wrapped as
``The answer is $\\boxed{PRED}$.``; the gold is passed as the ground truth. Pairs tested with
non-default math-verify options (float precision, set-relation comparison) are included with
their expected value, so a few disagreements are expected; docs/SCORING.md explains the rest.
Needs a local copy of the file (this project does not download it):

    python scripts/check_verifier_pairs.py PATH/TO/Math-Verify/tests/test_all.py
"""

from __future__ import annotations

import argparse
import ast
import logging
from pathlib import Path


def _pairs(path: Path) -> list[tuple[str, str, str, int]]:
    """(test name, gold, prediction, expected) of every ``parametrize("gold,pred,expected...")`` list."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize"):
                continue
            names = ast.literal_eval(deco.args[0])
            if [n.strip() for n in names.split(",")][:3] != ["gold", "pred", "expected"]:
                continue
            for row in deco.args[1].elts:
                try:
                    values = ast.literal_eval(row)
                except ValueError:  # a row built by code (an f-string, a call): not a plain pair
                    continue
                found.append((node.name, values[0], values[1], int(values[2])))
    return found


def _response(pred: str) -> str:
    if "\\boxed" in pred or "answer:" in pred.lower():
        return pred
    inner = pred.strip()
    while len(inner) > 1 and inner.startswith("$") and inner.endswith("$"):
        inner = inner[1:-1].strip()
    return "The answer is $\\boxed{" + inner + "}$."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test_file", type=Path, help="math-verify's tests/test_all.py")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if not args.test_file.is_file():
        parser.error(f"{args.test_file} does not exist: pass math-verify's tests/test_all.py")

    from verl_dsdr.scoring.correctness import score_correctness

    counts = {(e, s): 0 for e in (0, 1) for s in (0, 1)}
    for name, gold, pred, expected in _pairs(args.test_file):
        score = int(score_correctness(_response(pred), gold, time_limit=2.0))
        counts[(expected, score)] += 1
        if score != expected:
            print(
                f"{name}: expected {expected}, scored {score}: gold {gold[:60]!r}, response ...{_response(pred)[-90:]!r}"
            )
    total = sum(counts.values())
    print(
        f"{total} pairs: equal pairs scored 1: {counts[(1, 1)]}, scored 0: {counts[(1, 0)]}; "
        f"unequal pairs scored 0: {counts[(0, 0)]}, scored 1: {counts[(0, 1)]}"
    )


if __name__ == "__main__":
    main()
