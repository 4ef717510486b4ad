"""verl-dsdr: DSDR (Dual-Scale Diversity Regularization) for verl 0.9.1."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip() and not line.startswith("-")]


setup(
    name="verl-dsdr",
    version="0.1.0",
    description="DSDR, SetPO and AsymGRPO for verl 0.9.1, with a CPU backend for verl's trainer",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["verl_dsdr", "verl_dsdr.*"]),
    package_data={"verl_dsdr": ["config/*.yaml", "config/preset/*.yaml"]},
    python_requires=">=3.10",
    install_requires=requirements("requirements.txt"),
    extras_require={
        "test": ["pytest>=8", "pytest-timeout"],
        # GPU clusters: vLLM rollout and flash-attention (never installed by CI).
        "gpu": ["vllm==0.24.0", "flash-attn==2.8.3"],
    },
    entry_points={
        # verl imports every entry point of this group in every process (verl/__init__.py).
        "verl.plugins": ["verl_dsdr = verl_dsdr.plugin"],
    },
)
