"""The package's top-level parts import each other in one direction only (docs/ALGORITHM.md, "Layers").

Every ``import`` in ``verl_dsdr`` counts, the ones inside functions too: a lazy import is still a
dependency. A part may import parts of lower layers only; parts of one layer are independent.
A new top-level module or folder must be given a layer here (the test says so).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "verl_dsdr"

# Top to bottom. Keep equal to the list in docs/ALGORITHM.md, "Layers".
LAYERS: list[tuple[str, ...]] = [
    ("main_ppo", "plugin", "generate", "toy"),  # entry points
    ("launch", "registration"),  # run drivers, verl registration
    ("cpu", "config_checks"),  # CPU backend, checks before Ray
    ("glue",),  # everything that touches verl at run time
    ("methods", "eval", "assets"),  # methods (typed settings, group steps, estimators, losses); evaluation; tiny model
    ("algorithms", "data", "summary"),  # pure math; datasets; metrics log readers
    ("scoring", "config"),  # verifier and encoder; yaml and the hf_cpu key (config/hf_cpu.py)
    ("utils",),  # helpers that import nothing of the package
]

# Known upward imports being removed by another change; each entry says why it is still here.
# (source, target) -> reason. Empty: cpu -> launch (cpu/local_cluster.py) was the last one.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _part(relative: Path) -> str:
    """``cpu/patches.py`` -> ``cpu``; ``launch.py`` -> ``launch``."""
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _module_name(relative: Path) -> list[str]:
    parts = list(relative.with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported_parts(path: Path) -> set[str]:
    """Top-level parts of ``verl_dsdr`` that one file imports (absolute and relative imports)."""
    relative = path.relative_to(PACKAGE)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[list[str]] = []
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                here = _module_name(relative)
                package = here if path.name == "__init__.py" else here[:-1]
                base = ["verl_dsdr", *package[: len(package) - node.level + 1]]
            else:
                base = []
            module = base + (node.module.split(".") if node.module else [])
            targets = [module + [alias.name] for alias in node.names] if module == ["verl_dsdr"] else [module]
        for target in targets:
            if len(target) >= 2 and target[0] == "verl_dsdr":
                found.add(target[1])
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _part(path.relative_to(PACKAGE))
        if source == "__init__":
            continue
        graph[source] |= {p for p in _imported_parts(path) if p != source}
    return graph


def _rank() -> dict[str, int]:
    return {part: i for i, layer in enumerate(LAYERS) for part in layer}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_part_has_a_layer():
    parts = {_part(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    parts |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    missing = sorted(parts - set(_rank()))
    assert not missing, f"give {missing} a layer in LAYERS (tests/tools/test_layers.py) and docs/ALGORITHM.md"


def test_no_import_cycle_between_parts():
    graph = _graph()
    for source, target in KNOWN_EXCEPTIONS:
        graph[source].discard(target)
    assert _cycles(graph) == []


def test_imports_point_down():
    rank = _rank()
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in _graph().items()
        for target in targets
        if target in rank and rank[target] <= rank[source] and (source, target) not in KNOWN_EXCEPTIONS
    )
    assert upward == [], "a part imports one of its own layer or a higher one (see LAYERS)"


def test_known_exceptions_still_needed():
    """An exception that no longer happens must be deleted, so the check tightens by itself."""
    graph = _graph()
    stale = [pair for pair in KNOWN_EXCEPTIONS if pair[1] not in graph.get(pair[0], set())]
    assert stale == [], f"delete {stale} from KNOWN_EXCEPTIONS"


@pytest.mark.parametrize(
    "source, expected",
    [("import verl_dsdr.glue.group_trainer\n", {"glue"}), ("from ..methods import base\n", {"methods"})],
)
def test_the_scanner_sees_imports(tmp_path, monkeypatch, source, expected):
    """The check can fail: it finds absolute and relative imports (also inside functions)."""
    fake = tmp_path / "verl_dsdr"
    (fake / "algorithms").mkdir(parents=True)
    path = fake / "algorithms" / "x.py"
    path.write_text("def f():\n    " + source.replace("\n", "\n    ").rstrip() + "\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    assert _imported_parts(path) == expected
    rank = _rank()
    assert all(rank[p] <= rank["algorithms"] for p in expected)  # so test_imports_point_down would flag it
