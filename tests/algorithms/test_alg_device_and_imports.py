"""The math layer runs without verl/ray and gives the same numbers on CUDA as on CPU."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import verl_dsdr.algorithms as alg


def test_import_pulls_in_neither_verl_nor_ray():
    code = (
        "import sys, verl_dsdr.algorithms; bad = [m for m in ('verl', 'ray') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(alg.__file__).parents[2])
    )


def _batch():
    gen = torch.Generator().manual_seed(0)
    index = np.array(["a"] * 4 + ["b"] * 3 + ["c"], dtype=object)
    emb = torch.randn(8, 16, generator=gen)
    correct = torch.tensor([1, 0, 1, 1, 0, 0, 1, 1], dtype=torch.bool)
    sets = [{"x", "y"}, {"x"}, {"z"}, set(), {"a"}, {"a", "b"}, {"c"}, {"q"}]
    lp = -torch.rand(8, 5, generator=gen) * 3
    mask = torch.ones(8, 5, dtype=torch.bool)
    mask[2, 3:] = False
    return index, emb, correct, sets, lp, mask


def _everything(device):
    index, emb, correct, sets, lp, mask = _batch()
    emb, correct, lp, mask = (t.to(device) for t in (emb, correct, lp, mask))
    sem = alg.semantic_diversity(emb, index, peer_mask=correct)
    form = alg.formula_uniqueness(sets, index, peer_mask=correct)
    d = alg.global_diversity(sem, form, weight=0.5)
    w = alg.coupling_weights(d, correct, index, tau=5.0, sigma_d=1.0, mode="softmax")
    out = {
        "sem": sem,
        "form": form,
        "rewards": alg.shaped_rewards(correct.float(), correct, d, lambda_d=0.01, sigma_d=1.0),
        "w": w,
        "c": alg.loss_coefficients(w, index),
        "went": alg.entropy_of_weights(w, index),
        "h": alg.local_entropy(lp, lp + 0.1, mask, detach_ratio=False),
        "setpo": alg.setpo_contributions(emb, index),
        "asym": alg.asym_grpo_advantages(correct.float(), index, beta_pos=0.9, beta_neg=0.4, threshold=0.0),
    }
    return out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu_and_stays_on_device():
    cpu = _everything("cpu")
    gpu = _everything("cuda")
    for name, value in gpu.items():
        assert value.device.type == "cuda", name
        torch.testing.assert_close(value.cpu(), cpu[name], atol=1e-5, rtol=1e-5, msg=name)
