"""The committed toy results match the code: the report rebuilt from docs/toy gives the committed numbers,
the doc quotes them, and the run that made them is in this checkout's history."""

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from verl_dsdr.toy.__main__ import main
from verl_dsdr.toy.report import comparison_table

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "toy"
DOC = REPO / "docs" / "TOY_REPRODUCTION.md"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """A copy of docs/toy with its report rebuilt by `python -m verl_dsdr.toy report`."""
    out = tmp_path_factory.mktemp("toy_results") / "toy"
    shutil.copytree(RESULTS, out)
    assert main(["report", "--out", str(out)]) == 0
    return out


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_summary_csv_is_what_the_report_computes(rebuilt):
    committed = _rows(RESULTS / "summary.csv")
    assert committed == _rows(rebuilt / "summary.csv")
    assert {"method", "seed", "pass@1"} <= set(committed[0])
    methods = {r["method"] for r in committed}
    assert {"warm_start", "grpo", "dapo", "dsdr"} <= methods
    for method in ("grpo", "dapo", "dsdr"):
        assert sorted(int(r["seed"]) for r in committed if r["method"] == method) == [0, 1, 2]
    assert all(0.0 <= float(r["pass@1"]) <= 1.0 for r in committed)


def test_comparison_and_doc_quote_the_same_numbers(rebuilt):
    committed = json.loads((RESULTS / "comparison.json").read_text())
    assert committed == json.loads((rebuilt / "comparison.json").read_text())
    assert {"dsdr - grpo", "dsdr - dapo", "grpo - warm_start"} <= set(committed)
    assert comparison_table(committed, 16) in DOC.read_text(), "docs/TOY_REPRODUCTION.md quotes other numbers"


def test_provenance_names_a_commit_of_this_history_and_the_run():
    provenance = json.loads((RESULTS / "provenance.json").read_text())
    assert provenance["command"].startswith(("bash scripts/reproduce_toy.sh", "python -m verl_dsdr.toy run"))
    assert provenance["wall_s"] > 0 and provenance["started"] and provenance["finished"]
    commit = provenance["commit"]
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), commit
    if (REPO / ".git").exists():
        ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=REPO)
        assert ancestor.returncode == 0, f"{commit} is not in this checkout's history"
