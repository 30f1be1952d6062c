"""The classifier's head fitted as a cross-validated logistic regression."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from skssl._head import (
    DEFAULT_RAW_REGRESSION_WEIGHT,
    HEAD_CS,
    HEAD_MAX_ITER,
    fit_regressions,
    head_folds,
    head_inputs,
)
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


def fit_head(model, batch, labels, seed, raw_weight=DEFAULT_RAW_REGRESSION_WEIGHT):
    """The regressions, the head written at ``raw_weight``, and its
    out-of-fold log-probabilities, as the classifier's fit does."""
    regressions = fit_regressions(model, batch, labels, seed)
    regressions.write(model.classifier, raw_weight)
    return regressions.experts, regressions.out_of_fold_log_proba(raw_weight)


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


def _standardised(X):
    return (X - X.mean(0)) / np.where(X.std(0) < 1e-12, 1.0, X.std(0))


def _expert_logits(lr, Z):
    scores = lr.decision_function(Z)
    return np.c_[np.zeros(len(Z)), scores] if scores.ndim == 1 else scores


@pytest.mark.parametrize("n_classes", [2, 3])
def test_head_is_the_logit_average_of_the_two_regressions(n_classes):
    model, batch = _model(n_classes=n_classes), _batch(90)
    labels = (batch.categorical[:, 0] % n_classes).numpy()
    experts, _ = fit_head(model, batch, labels, seed=0)
    Z = _standardised(head_inputs(model, batch))
    (every, both), (raw, raw_only) = experts
    assert every.all() and not raw[4:12].any() and raw.sum() == Z.shape[1] - 8
    assert both.n_features_in_ == Z.shape[1] and raw_only.n_features_in_ == raw.sum()
    with torch.no_grad():
        logits = model.class_logits(batch.numeric, batch.observed, batch.categorical)
    expected = (_expert_logits(both, Z) + _expert_logits(raw_only, Z[:, raw])) / 2
    # Softmax is shift-invariant: compare probabilities.
    np.testing.assert_allclose(
        logits.softmax(1).numpy(),
        torch.as_tensor(expected).softmax(1).numpy(),
        atol=1e-4,
    )
    # Labels a linear function of the raw columns fits: the head fits them.
    assert (logits.argmax(1).numpy() == labels).mean() > 0.95


@pytest.mark.parametrize("raw_weight", [0.0, 0.25, 1.0])
def test_head_mixes_the_regressions_logits_at_the_raw_weight(raw_weight):
    model, batch = _model(n_classes=3), _batch(90)
    labels = (batch.categorical[:, 0] % 3).numpy()
    experts, _ = fit_head(model, batch, labels, 0, raw_weight)
    Z = _standardised(head_inputs(model, batch))
    (_, both), (raw, raw_only) = experts
    with torch.no_grad():
        logits = model.class_logits(batch.numeric, batch.observed, batch.categorical)
    expected = (1 - raw_weight) * _expert_logits(both, Z)
    expected = expected + raw_weight * _expert_logits(raw_only, Z[:, raw])
    np.testing.assert_allclose(
        logits.softmax(1).numpy(),
        torch.as_tensor(expected).softmax(1).numpy(),
        atol=1e-4,
    )


def test_raw_columns_hold_the_head_where_hidden_activations_are_noise():
    # Labels decided by one raw column; hidden activations of a random
    # network. The averaged head stays as accurate on new rows as the raw
    # regression alone, whichever the cross-validation would have preferred.
    model = _model(n_classes=2, seed=1)
    train, test = _batch(60, seed=1), _batch(400, seed=2)
    labels = (train.numeric[:, 1] > 0).long().numpy()
    experts, _ = fit_head(model, train, labels, seed=0)
    with torch.no_grad():
        logits = model.class_logits(test.numeric, test.observed, test.categorical)
    truth = (test.numeric[:, 1] > 0).long().numpy()
    head_accuracy = (logits.argmax(1).numpy() == truth).mean()
    X_test = head_inputs(model, test)
    X_train = head_inputs(model, train)
    Z_test = (X_test - X_train.mean(0)) / np.where(
        X_train.std(0) < 1e-12, 1.0, X_train.std(0)
    )
    raw, raw_only = experts[1]
    raw_accuracy = (raw_only.predict(Z_test[:, raw]) == truth).mean()
    assert head_accuracy >= raw_accuracy - 0.02
    assert head_accuracy > 0.9


def test_classes_without_a_labeled_row_never_win():
    model, batch = _model(n_classes=3), _batch(40)
    labels = (batch.numeric[:, 0] > 0).long().numpy()  # classes 0 and 1 only
    fit_head(model, batch, labels, seed=0)
    with torch.no_grad():
        logits = model.class_logits(batch.numeric, batch.observed, batch.categorical)
    assert (logits.argmax(1) != 2).all()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_cross_validation_chooses_as_logistic_regression_cv(n_classes):
    # The head's own cross-validation (kept for its out-of-fold logits)
    # chooses the L2 strength scikit-learn's does on the same folds.
    model, batch = _model(n_classes=n_classes), _batch(120, seed=3)
    rng = np.random.default_rng(3)
    noisy = batch.numeric[:, 0].numpy() + rng.normal(scale=1.0, size=120)
    labels = np.digitize(
        noisy, np.quantile(noisy, np.linspace(0, 1, n_classes + 1)[1:-1])
    )
    experts, _ = fit_head(model, batch, labels, seed=0)
    Z = _standardised(head_inputs(model, batch))
    for columns, lr in experts:
        reference = LogisticRegressionCV(
            Cs=list(HEAD_CS),
            cv=head_folds(labels, 0),
            scoring="accuracy",
            max_iter=HEAD_MAX_ITER,
        ).fit(Z[:, columns], labels)
        assert lr.C == reference.C_[0]
        np.testing.assert_allclose(lr.coef_, reference.coef_, atol=1e-3)


def test_out_of_fold_log_proba_come_from_fits_that_never_saw_the_row():
    model, batch = _model(n_classes=3), _batch(90)
    labels = (batch.categorical[:, 0] % 3).numpy()
    experts, out_of_fold = fit_head(model, batch, labels, seed=0)
    Z = _standardised(head_inputs(model, batch))
    np.testing.assert_allclose(np.exp(out_of_fold).sum(axis=1), 1.0)
    for fitted, held_out in head_folds(labels, 0).split(Z, labels):
        logits = 0
        for columns, lr in experts:
            fold_fit = LogisticRegression(C=lr.C, max_iter=HEAD_MAX_ITER)
            fold_fit.fit(Z[fitted][:, columns], labels[fitted])
            logits = logits + fold_fit.decision_function(Z[held_out][:, columns]) / 2
        expected = logits - logsumexp(logits, axis=1, keepdims=True)
        # The head's fold fits start from the previous strength's solution.
        np.testing.assert_allclose(out_of_fold[held_out], expected, atol=1e-2)
    # Without folds (a class with one labeled row) there are none.
    labels = labels % 2
    labels[0] = 2
    assert fit_head(model, batch, labels, seed=0)[1] is None
