"""The scoring package stays light and never pulls in verl or ray (it runs in reward workers)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_package_import_is_light():
    loaded = _loaded_after("import verl_dsdr.scoring")
    assert not loaded & {"sentence_transformers", "math_verify", "sympy", "torch", "numpy", "verl", "ray"}


def test_modules_import_nothing_heavy_until_used():
    loaded = _loaded_after(
        "from verl_dsdr.scoring import score_correctness, extract_formulas, validate_embedder_config, "
        "ResponseEmbedder, BoundedRunner"
    )
    assert not loaded & {"sentence_transformers", "math_verify", "sympy", "torch", "verl", "ray"}


def test_lazy_names_resolve():
    import verl_dsdr.scoring as scoring
    from verl_dsdr.scoring.correctness import score_correctness

    assert scoring.score_correctness is score_correctness
    assert "ResponseEmbedder" in dir(scoring)
