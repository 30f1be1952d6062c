"""The classifier's head fitted as a cross-validated logistic regression."""

import numpy as np
import pytest
import torch

from skssl._head import _cv_accuracy, _logistic_regression, fit_head, head_inputs
from skssl._networks import ContrastiveVAE
from skssl._training_data import Batch


def _model(n_numeric=3, cardinalities=(4, 3), n_classes=3, seed=0):
    torch.manual_seed(seed)
    return ContrastiveVAE(
        n_numeric=n_numeric,
        missing_indicator_index=[0],
        cardinalities=list(cardinalities),
        hidden_layer_sizes=[8],
        latent_dim=2,
        projection_dim=4,
        with_decoder=False,
        with_projection=False,
        n_classes=n_classes,
    )


def _batch(n, seed=0):
    rng = np.random.default_rng(seed)
    numeric = torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float32)
    observed = torch.as_tensor(rng.random((n, 3)) > 0.1)
    categorical = torch.as_tensor(
        np.stack([rng.integers(0, 4, n), rng.integers(0, 3, n)], axis=1)
    )
    return Batch(numeric, observed, categorical)


def test_head_inputs_are_raw_columns_hidden_activations_and_one_hot_codes():
    model, batch = _model(), _batch(10)
    X = head_inputs(model, batch)
    # 3 numeric + 1 missing flag + 8 hidden + 4 + 3 one-hot slots.
    assert X.shape == (10, 3 + 1 + 8 + 7)
    one_hot = X[:, 12:]
    assert (one_hot.sum(axis=1) == 2).all()
    np.testing.assert_array_equal(one_hot[:, :4].argmax(1), batch.categorical[:, 0])


def test_fitted_head_predicts_what_the_regression_predicts():
    model, batch = _model(), _batch(90)
    # Labels a linear function of the raw columns can fit.
    labels = (batch.categorical[:, 0] % 3).numpy()
    lr = fit_head(model, batch, labels, seed=0)
    with torch.no_grad():
        logits = model.class_logits(batch.numeric, batch.observed, batch.categorical)
    X = head_inputs(model, batch)
    Z = (X - X.mean(0)) / np.where(X.std(0) < 1e-12, 1.0, X.std(0))
    columns = Z if lr.n_features_in_ == Z.shape[1] else np.delete(Z, range(4, 12), 1)
    np.testing.assert_allclose(
        logits.softmax(1).numpy(), lr.predict_proba(columns), atol=1e-4
    )
    assert (logits.argmax(1).numpy() == labels).mean() > 0.95


@pytest.mark.parametrize("seed", range(4))
def test_head_keeps_the_better_cross_validated_regression(seed):
    model, batch = _model(n_classes=2, seed=seed), _batch(60, seed=seed)
    labels = (batch.numeric[:, 1] > 0).long().numpy()  # raw column 1 decides
    kept = fit_head(model, batch, labels, seed=0)
    X = head_inputs(model, batch)
    Z = (X - X.mean(0)) / np.where(X.std(0) < 1e-12, 1.0, X.std(0))
    hidden = slice(4, 12)
    both = _logistic_regression(Z, labels, 2, seed=0)
    raw = _logistic_regression(np.delete(Z, range(4, 12), 1), labels, 2, seed=0)
    best = max(_cv_accuracy(both), _cv_accuracy(raw))
    assert _cv_accuracy(kept) == best
    if kept.n_features_in_ < X.shape[1]:  # raw columns alone: hidden weights 0
        assert (model.classifier.dense.weight[:, hidden] == 0).all()
    else:
        assert _cv_accuracy(both) >= _cv_accuracy(raw)


def test_classes_without_a_labeled_row_never_win():
    model, batch = _model(n_classes=3), _batch(40)
    labels = (batch.numeric[:, 0] > 0).long().numpy()  # classes 0 and 1 only
    fit_head(model, batch, labels, seed=0)
    with torch.no_grad():
        logits = model.class_logits(batch.numeric, batch.observed, batch.categorical)
    assert (logits.argmax(1) != 2).all()
