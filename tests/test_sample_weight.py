"""``sample_weight`` in fit and partial_fit: rows' weights in the loss.

A row's weight multiplies its own terms (contrastive anchors, reconstruction,
KL, the classifier's cross-entropy); its values still reach training as a
negative, through the augmentation's marginals and the column encoding. So
the exact tests use the VAE branch alone (rows independent) and change the
values of the zero-weight rows in a way that keeps every column's encoding.
"""

import dataclasses

import numpy as np
import pytest
import torch

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer
from skssl.training import TrainingSession, row_weights
from tests._helpers import SMALL

pytestmark = pytest.mark.usefixtures("quiet")

TINY = dict(SMALL, max_epochs=3, batch_size=32, device="cpu")
# The VAE branch alone: each row's loss depends on that row only.
VAE_ONLY = dict(TINY, contrastive_weight=0.0)


def _data(n=120, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    ignored = np.arange(n) % 4 == 0
    # The ignored rows' values, shuffled within each column: other rows, the
    # same column statistics (up to the order of summation).
    shuffled = X.copy()
    for j in range(d):
        shuffled[ignored, j] = rng.permutation(X[ignored, j])
    return X, shuffled, ignored


def test_rows_of_zero_weight_take_no_part_in_the_loss():
    X, shuffled, ignored = _data()
    weights = np.where(ignored, 0.0, rng_weights(len(X)))
    a = ContrastiveVAETransformer(**VAE_ONLY).fit(X, sample_weight=weights)
    b = ContrastiveVAETransformer(**VAE_ONLY).fit(shuffled, sample_weight=weights)
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-6)
    # Unweighted, the same change of values changes the fit.
    a = ContrastiveVAETransformer(**VAE_ONLY).fit(X)
    b = ContrastiveVAETransformer(**VAE_ONLY).fit(shuffled)
    assert np.abs(b.transform(X) - a.transform(X)).max() > 1e-3


def rng_weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n)


def test_partial_fit_weights_the_chunks_rows():
    X, shuffled, ignored = _data()
    weights = np.where(ignored, 0.0, 1.0)

    def streamed(table, sample_weight):
        est = ContrastiveVAETransformer(**VAE_ONLY, partial_fit_epochs=2)
        return est.partial_fit(table, sample_weight=sample_weight)

    a, b = streamed(X, weights), streamed(shuffled, weights)
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-6, atol=1e-9)
    a, b = streamed(X, None), streamed(shuffled, None)
    assert np.abs(b.transform(X) - a.transform(X)).max() > 1e-3


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"contrastive_loss": "balanced", "repulsion_weight": 0.8},
        {"self_labeling": 0.5},
        {"momentum_mixup": 1.0},
        {"early_stopping": True},
    ],
    ids=["infonce", "balanced", "self_labeling", "momentum_mixup", "early_stopping"],
)
def test_weights_change_every_contrastive_variants_fit(params):
    X, _, ignored = _data()
    weights = np.where(ignored, 0.0, 1.0)
    plain = ContrastiveVAETransformer(**TINY, **params).fit(X)
    weighted = ContrastiveVAETransformer(**TINY, **params).fit(X, sample_weight=weights)
    assert np.isfinite(weighted.transform(X)).all()
    assert not np.allclose(weighted.transform(X), plain.transform(X))


def test_equal_weights_are_the_unweighted_fit_exactly():
    X, _, _ = _data()
    plain = ContrastiveVAETransformer(**TINY).fit(X)
    for weights in (np.full(len(X), 3.0), [1] * len(X)):
        est = ContrastiveVAETransformer(**TINY).fit(X, sample_weight=weights)
        np.testing.assert_array_equal(est.transform(X), plain.transform(X))


def test_scaling_the_weights_changes_nothing_but_rounding():
    X, _, _ = _data()
    weights = rng_weights(len(X))
    a = ContrastiveVAETransformer(**TINY).fit(X, sample_weight=weights)
    b = ContrastiveVAETransformer(**TINY).fit(X, sample_weight=1e6 * weights)
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"contrastive_loss": "balanced", "repulsion_weight": 0.8},
        {"self_labeling": 0.5},
        {"momentum_mixup": 1.0},
    ],
    ids=["infonce", "balanced", "self_labeling", "momentum_mixup"],
)
def test_a_batchs_loss_terms_are_the_sum_of_the_rows_weighted_shares(params):
    """Linear in the weights: with the same random draws, the terms under
    weights ``w`` are the sum over rows of ``w_i`` times the terms under the
    weight vector that keeps row ``i`` alone; unit weights are no weights."""
    X, _, _ = _data(n=8)
    est = ContrastiveVAETransformer(**TINY, **params)
    session = TrainingSession.from_estimator(est)
    run = session.start(X, seed=0)

    def terms(weights):
        batch = dataclasses.replace(run.data, weights=weights)
        generator = torch.Generator().manual_seed(0)
        return session.objective.batch_losses(
            run.model, batch, run.pool, generator
        ).detach()

    torch.testing.assert_close(terms(torch.ones(8)), terms(None), rtol=1e-6, atol=0)
    weights = torch.as_tensor(rng_weights(8), dtype=torch.float32)
    weights[3] = 0.0
    shares = sum(weights[i] * terms(torch.eye(8)[i]) for i in range(8))
    torch.testing.assert_close(terms(weights), shares, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(terms(weights), terms(None), rtol=1e-3)


def test_row_weights_have_mean_one_and_keep_their_ratios():
    weights = row_weights(np.array([1e300, 3e300, 0.0, 2e300]), "training")
    np.testing.assert_allclose(weights, [2 / 3, 2.0, 0.0, 4 / 3])
    assert np.isfinite(weights).all()


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(12), "Negative values"),
        (np.r_[np.ones(11), np.nan], "NaN"),
        (np.r_[np.ones(11), np.inf], "infinity"),
        (np.zeros(12), "zero"),
        (np.ones(5), "shape"),
    ],
)
def test_invalid_weights_are_refused(weights, match):
    X = np.random.default_rng(0).normal(size=(12, 3))
    with pytest.raises(ValueError, match=match):
        ContrastiveVAETransformer(**TINY).fit(X, sample_weight=weights)
    with pytest.raises(ValueError, match=match):
        ContrastiveVAETransformer(**TINY).partial_fit(X, sample_weight=weights)


def test_weights_zero_on_every_training_or_validation_row_are_refused():
    X = np.random.default_rng(0).normal(size=(40, 3))
    est = ContrastiveVAETransformer(
        **TINY, early_stopping=True, validation_fraction=0.5
    )
    with pytest.raises(
        ValueError, match="zero for every one of the (training|validation)"
    ):
        # Weight on one row only: the split leaves the other side all zero.
        est.fit(X, sample_weight=np.r_[1.0, np.zeros(39)])


def test_renyi_refuses_weights_by_name():
    X = np.random.default_rng(0).normal(size=(40, 3))
    est = ContrastiveVAETransformer(**TINY, contrastive_loss="renyi")
    with pytest.raises(ValueError, match="sample_weight is not supported with "):
        est.fit(X, sample_weight=rng_weights(40))
    est.fit(X)  # without weights it trains
    with pytest.raises(ValueError, match="contrastive_loss='renyi'"):
        est.partial_fit(X, sample_weight=rng_weights(40))
    # With its contrastive branch off, renyi is not used: weights apply.
    est.set_params(contrastive_weight=0.0).fit(X, sample_weight=rng_weights(40))


# ------------------------------------------------------------- classifier
def _labeled(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    y[np.arange(n) % 3 != 0] = -1  # a third of the rows labeled
    return X, y


def test_the_classifier_ignores_the_labels_of_rows_of_zero_weight():
    X, y = _labeled()
    labeled = np.flatnonzero(y >= 0)
    ignored = labeled[::4]
    weights = np.ones(len(y))
    weights[ignored] = 0.0
    flipped = y.copy()
    flipped[ignored] = 1 - flipped[ignored]
    params = dict(VAE_ONLY, fine_tune_epochs=2)
    a = ContrastiveVAEClassifier(**params).fit(X, y, sample_weight=weights)
    b = ContrastiveVAEClassifier(**params).fit(X, flipped, sample_weight=weights)
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))
    # Weighted 1, the flipped labels change the classifier.
    a = ContrastiveVAEClassifier(**params).fit(X, y)
    b = ContrastiveVAEClassifier(**params).fit(X, flipped)
    assert not np.allclose(b.predict_proba(X), a.predict_proba(X))


def test_the_classifier_needs_two_weighted_classes():
    X, y = _labeled()
    weights = np.where(y == 1, 1.0, 0.0)
    with pytest.raises(ValueError, match="1 class"):
        ContrastiveVAEClassifier(**TINY).fit(X, y, sample_weight=weights)
