"""The README and docs say what is true: the model size, one GPU install recipe, no drafting text, no
references to files users do not have."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "examples" / "README.md"]


def _install_lines(path):
    text = path.read_text()
    return [line.split("#")[0].strip() for line in text.splitlines() if line.startswith("pip install")]


def test_one_gpu_install_recipe_in_readme_and_reproduce():
    readme, reproduce = _install_lines(REPO / "README.md"), _install_lines(REPO / "docs" / "REPRODUCE.md")
    assert readme == reproduce and readme, (readme, reproduce)
    assert any('".[gpu]"' in line for line in readme)
    flash = [line for line in readme if "flash-attn" in line]
    assert flash and all("--no-build-isolation" in line for line in flash)


def test_readme_states_the_entry_point_with_the_override():
    text = (REPO / "README.md").read_text()
    intro = text[: text.index("## The two commands")]
    assert "python -m verl_dsdr.main_ppo" in intro and "algorithm.adv_estimator=dsdr" in intro


def test_readme_model_size_is_the_built_model():
    from transformers import AutoConfig, AutoModelForCausalLM

    from verl_dsdr.assets import build_assets

    config = AutoConfig.from_pretrained(build_assets().model_dir)  # cached after the first build
    count = sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())
    assert f"{count:,}-parameter" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_drafting_text_or_private_files(path):
    text = path.read_text()
    for pattern in (
        r"\(draft\)",
        r"[Dd]raft for",
        r"\bthe brief\b",
        r"\bthe lead\b",
        r"\bTODO\b",
        r"shared/",
        r"ANCHORS\.md",
        r"VERL_NOTES",
        r"DSDR_SPEC",
    ):
        assert not re.search(pattern, text), f"{path.name}: {pattern}"
