"""Alignment, uniformity, effective rank and collapse detection."""

import math

import numpy as np
import pytest
import torch

from skssl import metrics


def _isotropic(n=512, d=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def _rank_k(n, d, k, seed=0):
    """Centred (n, d) data whose singular values are k ones."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((n, k))
    basis -= basis.mean(axis=0)
    left, _ = np.linalg.qr(basis)  # orthonormal, still centred columns
    right, _ = np.linalg.qr(rng.standard_normal((d, k)))
    return left @ right.T + rng.standard_normal(d)  # an offset: centring removes it


# -- linear CKA ------------------------------------------------------------------


@pytest.mark.parametrize("n", [40, 400])  # the Gram form (n < d) and the d x d form
def test_linear_cka_is_one_up_to_rotation_scale_and_offset(n):
    z = _isotropic(n, 64)
    rotation, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((64, 64)))
    assert metrics.linear_cka(z, z) == pytest.approx(1.0)
    assert metrics.linear_cka(z, 3.0 * z @ rotation + 5.0) == pytest.approx(1.0)
    # a column more (widths may differ) that repeats one: still the same rows
    assert metrics.linear_cka(z, np.hstack([z, np.zeros((n, 1))])) == pytest.approx(1)


def test_linear_cka_forms_agree_and_fall_for_unrelated_representations():
    rng = np.random.default_rng(0)
    x, noise = rng.standard_normal((200, 8)), rng.standard_normal((200, 8))
    # The same pair by the n x n form (padded to 300 columns) and the d x d form.
    wide = np.hstack([x, np.zeros((200, 292))])
    for mix in (0.0, 0.5, 2.0):
        y = x + mix * noise
        assert metrics.linear_cka(wide, y) == pytest.approx(metrics.linear_cka(x, y))
    values = [metrics.linear_cka(x, x + mix * noise) for mix in (0.0, 0.5, 2.0)]
    assert values[0] > values[1] > values[2]
    assert metrics.linear_cka(x, noise) < 0.15  # independent: near 0 (d/n)


def test_linear_cka_of_a_constant_representation_is_zero_and_rows_must_match():
    z = _isotropic(50, 4)
    assert metrics.linear_cka(z, np.ones((50, 3))) == 0.0
    with pytest.raises(ValueError, match="Row counts differ: 50 and 49"):
        metrics.linear_cka(z, z[:49])


# -- alignment -------------------------------------------------------------------


def test_alignment_of_identical_views_is_zero():
    z = _isotropic(64, 8)
    assert metrics.alignment(z, z) == 0.0
    # Only directions matter: rescaled rows are the same view.
    assert metrics.alignment(z, 3.0 * z) == pytest.approx(0.0, abs=1e-12)


def test_alignment_known_values():
    e1, e2 = np.eye(3)[[0]], np.eye(3)[[1]]
    assert metrics.alignment(e1, e2) == pytest.approx(2.0)  # ||e1 - e2||^2
    assert metrics.alignment(e1, e2, alpha=1) == pytest.approx(math.sqrt(2))
    assert metrics.alignment(e1, -e1) == pytest.approx(4.0)  # the maximum
    z = _isotropic(100, 5)
    noisy = z + 0.1 * _isotropic(100, 5, seed=1)
    assert 0 < metrics.alignment(z, noisy) < metrics.alignment(z, _isotropic(100, 5, 2))


# -- uniformity ------------------------------------------------------------------


def test_uniformity_of_collapsed_set_is_zero_its_maximum():
    collapsed = np.tile([[0.3, -1.2, 2.0]], (50, 1))
    assert metrics.uniformity(collapsed) == pytest.approx(0.0, abs=1e-12)
    spread = _isotropic(50, 3)
    assert metrics.uniformity(spread) < -1.0
    nearly = collapsed + 1e-2 * spread
    assert metrics.uniformity(spread) < metrics.uniformity(nearly) < 0.0


def test_uniformity_known_value_and_brute_force():
    antipodal = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert metrics.uniformity(antipodal) == pytest.approx(-8.0)  # -2 * 2**2
    z = _isotropic(37, 4)
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    pairs = [
        np.exp(-3 * np.sum((u[i] - u[j]) ** 2))
        for i in range(37)
        for j in range(i + 1, 37)
    ]
    expected = math.log(np.mean(pairs))
    # Blocks smaller than the data exercise the blockwise log-sum-exp.
    assert metrics.uniformity(z, t=3, block_size=8) == pytest.approx(expected)
    assert metrics.uniformity(z, t=3) == pytest.approx(expected)


# -- effective rank ----------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 7])
def test_effective_rank_of_rank_k_data(k):
    assert metrics.effective_rank(_rank_k(200, 12, k)) == pytest.approx(k, rel=1e-9)
    # Generic (unequal singular values) rank-k data: at most k, close to it.
    rng = np.random.default_rng(k)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    generic = rng.standard_normal((2000, k)) @ q[:k]  # isotropic in a k-subspace
    rank = metrics.effective_rank(generic)
    assert 0.9 * k <= rank <= k + 1e-9


def test_effective_rank_of_isotropic_data_is_close_to_dimension():
    assert 14.5 < metrics.effective_rank(_isotropic(4000, 16)) <= 16.0


def test_effective_rank_of_constant_data_is_zero():
    assert metrics.effective_rank(np.ones((10, 4))) == 0.0


# -- inputs and outputs --------------------------------------------------------------


def test_torch_and_numpy_inputs_agree_and_return_floats():
    z1, z2 = _isotropic(40, 6), _isotropic(40, 6, seed=1)
    t1 = torch.tensor(z1, dtype=torch.float32, requires_grad=True)
    t2 = torch.tensor(z2, dtype=torch.float32)
    pairs = [
        (metrics.alignment(z1, z2), metrics.alignment(t1, t2)),
        (metrics.uniformity(z1), metrics.uniformity(t1)),
        (metrics.effective_rank(z1), metrics.effective_rank(t1)),
        (metrics.relative_variance(z1), metrics.relative_variance(t1)),
    ]
    for from_numpy, from_torch in pairs:
        assert type(from_numpy) is float and type(from_torch) is float
        assert from_torch == pytest.approx(from_numpy, rel=1e-5)
    assert metrics.alignment(z1.tolist(), z2.tolist()) == pairs[0][0]
    with pytest.raises(ValueError):
        metrics.effective_rank(np.zeros(5))


# -- collapse --------------------------------------------------------------------


def test_collapse_detected_on_collapsed_embeddings():
    rng = np.random.default_rng(0)
    constant = np.tile(rng.standard_normal(16), (256, 1))
    # Complete collapse, even with rounding-level noise (whose effective rank
    # is high: the variance test must catch it).
    noisy = constant + 1e-9 * rng.standard_normal((256, 16))
    for z in (constant, noisy, torch.tensor(noisy)):
        report = metrics.collapse_report(z)
        assert report["collapsed"] and report["complete_collapse"]
        assert metrics.is_collapsed(z)
    assert metrics.collapse_report(noisy)["effective_rank"] > 10
    # Dimensional collapse: rank 1 and rank 3 in 16 dimensions (3 < 0.2 * 16).
    for k in (1, 3):
        report = metrics.collapse_report(_rank_k(256, 16, k))
        assert report["dimensional_collapse"] and not report["complete_collapse"]
        assert report["collapsed"]


def test_collapse_not_detected_on_isotropic_embeddings():
    z = _isotropic(512, 16)
    report = metrics.collapse_report(z)
    assert not report["collapsed"]
    assert not metrics.is_collapsed(torch.tensor(z, dtype=torch.float32))
    assert report["effective_rank_ratio"] > 0.8
    assert report["relative_variance"] > 0.9
    assert report["uniformity"] < -2.0
    assert report["n_samples"] == 512 and report["n_components"] == 16
    # Rank 4 of 16 is above the 0.2 threshold: not collapsed.
    assert not metrics.is_collapsed(_rank_k(256, 16, 4))


def test_collapse_threshold_uses_n_components():
    # Rank 4 data: fine in 16 dimensions, collapsed against a nominal 32.
    z = _rank_k(256, 16, 4)
    assert not metrics.is_collapsed(z, n_components=16)
    assert metrics.is_collapsed(z, n_components=32)
    assert metrics.is_collapsed(z, rank_ratio=0.5)
