"""The classifier's head fitted as a logistic regression on fixed features.

After self-supervised pre-training, the classification head (linear in the
raw columns, one-hot categories and every hidden activation; see
:class:`skssl._networks.ClassificationHead`) is fitted in closed form as a
multinomial logistic regression whose L2 strength is chosen by
cross-validation on the labeled rows: with few labels, a convex fit with a
tuned penalty is what a few hundred noisy gradient steps are not. The
fitted coefficients are written into the torch head, which fine-tuning (if
any) then continues from.
"""

import warnings
from contextlib import contextmanager

import numpy as np
import torch
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold

# Inverse L2 strengths the cross-validation chooses among, and its folds.
HEAD_CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
HEAD_FOLDS = 3
HEAD_MAX_ITER = 2000
# The intercept of a class no labeled row has: it is never predicted.
ABSENT_CLASS_LOGIT = -1e4


@torch.no_grad()
def head_inputs(model, batch):
    """The head's inputs for ``batch``: dense columns (raw values, missing
    flags, hidden activations) and one-hot category columns, as float64."""
    encoder, head = model.encoder, model.classifier
    features = encoder.input_layer(batch.numeric, batch.observed, batch.categorical)
    hidden = encoder.hidden_layers(features)[0]
    dense = torch.cat([features[:, : head.n_dense_inputs], hidden], dim=1)
    one_hot = []
    if head.n_categorical:
        codes = batch.categorical + head.offsets
        one_hot = torch.zeros(
            (len(codes), head.one_hot.num_embeddings), dtype=dense.dtype
        )
        one_hot.scatter_(1, codes.cpu(), 1.0)
        one_hot = [one_hot]
    return torch.cat([dense.cpu(), *one_hot], dim=1).double().numpy()


def head_folds(labels, seed):
    """The stratified folds the head's cross-validation uses on ``labels``
    (class indices): :data:`HEAD_FOLDS`, fewer if a class has fewer rows;
    None when a class has a single row (no cross-validation possible)."""
    counts = np.bincount(labels)
    n_folds = min(HEAD_FOLDS, counts[counts > 0].min())
    if n_folds < 2:
        return None
    return StratifiedKFold(n_folds, shuffle=True, random_state=seed)


def _logistic_regression(Z, labels, n_classes, seed, sample_weight=None):
    cv = head_folds(labels, seed)
    if cv is not None:
        lr = LogisticRegressionCV(
            Cs=list(HEAD_CS), cv=cv, scoring="accuracy", max_iter=HEAD_MAX_ITER
        )
    else:  # a class with one labeled row: no cross-validation possible
        lr = LogisticRegression(C=1.0, max_iter=HEAD_MAX_ITER)
    with _quiet_regression():
        return lr.fit(Z, labels, sample_weight=sample_weight)


@contextmanager
def _quiet_regression():
    with warnings.catch_warnings():
        # scikit-learn 1.8 announces a new default for l1_ratios, which an
        # L2 penalty does not read; setting it would warn on earlier versions.
        warnings.filterwarnings("ignore", "The default value for l1_ratios")
        warnings.filterwarnings("ignore", "The fitted attributes of Logistic")
        yield


def _exclude_absent(intercept, present):
    """Classes without a labeled row never win: a very low intercept."""
    intercept[np.setdiff1d(np.arange(len(intercept)), present)] = ABSENT_CLASS_LOGIT


def _class_logits(lr, n_classes):
    """``lr``'s coefficients and intercepts as one logit per class of all
    ``n_classes`` (zero for classes without a labeled row)."""
    coef = np.zeros((n_classes, lr.coef_.shape[1]))
    intercept = np.zeros(n_classes)
    present = lr.classes_
    if len(present) == 2 and lr.coef_.shape[0] == 1:
        # Binary: sklearn's one logit is the second class's against the first.
        coef[present[1]] = lr.coef_[0]
        intercept[present[1]] = lr.intercept_[0]
    else:
        coef[present] = lr.coef_
        intercept[present] = lr.intercept_
    return coef, intercept


def _standardised_inputs(model, batch):
    """:func:`head_inputs` standardised per column, with the mean and scale."""
    X = head_inputs(model, batch)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-12] = 1.0
    return (X - mean) / scale, mean, scale


def _raw_columns(head, n_inputs):
    """Mask of the head's inputs that are raw columns (not hidden activations)."""
    raw = np.ones(n_inputs, dtype=bool)
    raw[head.n_dense_inputs : head.dense.in_features] = False
    return raw


@torch.no_grad()
def fit_head(model, batch, labels, seed, sample_weight=None):
    """Fit ``model.classifier`` to ``labels`` (class indices) of ``batch``'s rows.

    Returns the two regressions as ``(columns, regression)`` pairs, ``columns``
    a mask of the head's inputs that the regression reads (standardised).

    Columns are standardised for the fit (the penalty then treats them
    alike) and the scaling is folded back into the head's weights. Two
    regressions are cross-validated, on the raw columns with the hidden
    activations and on the raw columns alone, and the head is their
    logit average (a product of the two experts, still linear). With few
    labels, choosing one of the two by cross-validated accuracy picks by
    noise; the average is never far from the better one, and where the
    learned features do not help, the raw columns' regression holds the
    head near what a logistic regression on them does. ``sample_weight``
    (one per row, or None) is passed to both regressions' ``fit``.
    """
    head = model.classifier
    Z, mean, scale = _standardised_inputs(model, batch)
    coef = np.zeros((head.n_classes, Z.shape[1]))
    intercept = np.zeros(head.n_classes)
    experts = []
    for columns in (np.ones(Z.shape[1], dtype=bool), _raw_columns(head, Z.shape[1])):
        lr = _logistic_regression(
            Z[:, columns], labels, head.n_classes, seed, sample_weight
        )
        expert_coef, expert_intercept = _class_logits(lr, head.n_classes)
        coef[:, columns] += expert_coef / 2
        intercept += expert_intercept / 2
        experts.append((columns, lr))
    _exclude_absent(intercept, lr.classes_)
    weights = coef / scale
    bias = intercept - weights @ mean
    n_dense = head.dense.in_features
    dtype = head.dense.weight.dtype
    head.dense.weight.copy_(torch.as_tensor(weights[:, :n_dense], dtype=dtype))
    head.dense.bias.copy_(torch.as_tensor(bias, dtype=dtype))
    if head.n_categorical:
        head.one_hot.weight.copy_(torch.as_tensor(weights[:, n_dense:].T, dtype=dtype))
    return experts


@torch.no_grad()
def out_of_fold_log_proba(model, batch, labels, experts, folds, sample_weight=None):
    """Out-of-fold log-probabilities of the head :func:`fit_head` fitted.

    For each of ``folds`` (a splitter over ``labels``), both regressions of
    ``experts`` are refitted on the other folds' rows with the L2 strength
    the head's cross-validation chose, and their logit average predicts the
    fold's rows. ``model``'s encoder is not refitted: it was trained without
    labels, so its features of a held-out row carry nothing of that row's
    label.

    Returns
    -------
    log_proba : ndarray of shape (n_rows, n_classes)
        Zero in the rows no split holds out.
    """
    Z, _, _ = _standardised_inputs(model, batch)
    n_classes = model.classifier.n_classes
    log_proba = np.zeros((len(labels), n_classes))
    for fitted, held_out in folds.split(Z, labels):
        logits = np.zeros((len(held_out), n_classes))
        for columns, expert in experts:
            C = expert.C_[0] if hasattr(expert, "C_") else expert.C
            lr = LogisticRegression(C=float(C), max_iter=HEAD_MAX_ITER)
            weight = None if sample_weight is None else sample_weight[fitted]
            with _quiet_regression():
                lr.fit(Z[fitted][:, columns], labels[fitted], sample_weight=weight)
            coef, intercept = _class_logits(lr, n_classes)
            _exclude_absent(intercept, lr.classes_)
            logits += (Z[held_out][:, columns] @ coef.T + intercept) / 2
        log_proba[held_out] = log_softmax(logits, axis=1)
    return log_proba
