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
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

# Inverse L2 strengths the cross-validation chooses among, and its folds.
HEAD_CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
HEAD_FOLDS = 3
HEAD_MAX_ITER = 2000
# With more labeled rows than this, the cross-validation uses the first of
# the folds alone: a third of them, thousands of rows, rank the strengths
# (and the trees' weight) closely, at a third of the fits.
MAX_ROWS_ALL_FOLDS = 6000
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


def cross_validation_splits(folds, labels):
    """The (fitted, held-out) row splits of ``folds`` that the head's and
    the trees' choices are made on: every fold's, or the first fold's alone
    above :data:`MAX_ROWS_ALL_FOLDS` labeled rows."""
    splits = folds.split(np.zeros(len(labels)), labels)
    if len(labels) > MAX_ROWS_ALL_FOLDS:
        return [next(splits)]
    return list(splits)


def _cross_validated_regression(Z, labels, n_classes, folds, sample_weight=None):
    """A multinomial logistic regression of ``labels`` on ``Z``, its L2
    strength chosen among :data:`HEAD_CS` by ``folds``' held-out accuracy.

    As :class:`~sklearn.linear_model.LogisticRegressionCV` does, each fold
    fits the strengths in turn, each fit starting from the last one's
    solution, and the strength of the best summed accuracy (the strongest
    penalty among ties) is refitted on every row. The held-out logits at the
    chosen strength are kept: they are the out-of-fold predictions that
    weigh the trees (:mod:`skssl._boosting`) at no further fit.

    Returns
    -------
    regression : LogisticRegression
    out_of_fold_logits : ndarray of shape (n_rows, n_classes) or None
        Each held-out row's logits from its fold's fit at the chosen
        strength (zero in rows no split holds out); None when ``folds`` is
        None (C=1, no cross-validation possible).
    """
    if folds is None:
        return _regression(Z, labels, 1.0, sample_weight), None
    logits = np.zeros((len(HEAD_CS), len(labels), n_classes))
    splits = cross_validation_splits(folds, labels)
    accuracy = np.zeros((len(splits), len(HEAD_CS)))
    for k, (fitted, held_out) in enumerate(splits):
        path = LogisticRegression(max_iter=HEAD_MAX_ITER, warm_start=True)
        weight = None if sample_weight is None else sample_weight[fitted]
        for c, C in enumerate(HEAD_CS):
            path.set_params(C=C)
            with _quiet_regression():
                path.fit(Z[fitted], labels[fitted], sample_weight=weight)
            logits[c, held_out] = _predicted_logits(path, Z[held_out], n_classes)
            accuracy[k, c] = np.average(
                logits[c, held_out].argmax(axis=1) == labels[held_out],
                weights=None if sample_weight is None else sample_weight[held_out],
            )
    best = int(np.argmax(accuracy.sum(axis=0)))
    return _regression(Z, labels, HEAD_CS[best], sample_weight), logits[best]


def _regression(Z, labels, C, sample_weight):
    lr = LogisticRegression(C=C, max_iter=HEAD_MAX_ITER)
    with _quiet_regression():
        return lr.fit(Z, labels, sample_weight=sample_weight)


def _predicted_logits(lr, Z, n_classes):
    """``lr``'s logits of ``Z``'s rows, one per class of ``n_classes``."""
    coef, intercept = _class_logits(lr, n_classes)
    _exclude_absent(intercept, lr.classes_)
    return Z @ coef.T + intercept


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

    Columns are standardised for the fit (the penalty then treats them
    alike) and the scaling is folded back into the head's weights. Two
    regressions are cross-validated on :func:`head_folds`
    (:func:`cross_validation_splits`), on the raw
    columns with the hidden activations and on the raw columns alone, and
    the head is their logit average (a product of the two experts, still
    linear). With few labels, choosing one of the two by cross-validated
    accuracy picks by noise; the average is never far from the better one,
    and where the learned features do not help, the raw columns' regression
    holds the head near what a logistic regression on them does.
    ``sample_weight`` (one per row, or None) weighs both regressions' fits
    and their held-out accuracies.

    Returns
    -------
    experts : list of (columns, LogisticRegression)
        The two regressions, ``columns`` a mask of the head's inputs that
        each reads (standardised).
    out_of_fold_log_proba : ndarray of shape (n_rows, n_classes) or None
        The head's log-probabilities of each row held out by
        :func:`cross_validation_splits` from the fold's fits that did not
        see it, at the chosen strengths (both regressions' logits averaged;
        uniform in rows no split holds out); None without folds (a class
        with a single row). The encoder is not refitted per fold: trained
        without labels, its features of a held-out row carry nothing of
        that row's label.
    """
    head = model.classifier
    Z, mean, scale = _standardised_inputs(model, batch)
    folds = head_folds(labels, seed)
    coef = np.zeros((head.n_classes, Z.shape[1]))
    intercept = np.zeros(head.n_classes)
    out_of_fold = None if folds is None else np.zeros((len(labels), head.n_classes))
    experts = []
    for columns in (np.ones(Z.shape[1], dtype=bool), _raw_columns(head, Z.shape[1])):
        lr, held_out_logits = _cross_validated_regression(
            Z[:, columns], labels, head.n_classes, folds, sample_weight
        )
        expert_coef, expert_intercept = _class_logits(lr, head.n_classes)
        coef[:, columns] += expert_coef / 2
        intercept += expert_intercept / 2
        if out_of_fold is not None:
            out_of_fold += held_out_logits / 2
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
    if out_of_fold is not None:
        out_of_fold = log_softmax(out_of_fold, axis=1)
    return experts, out_of_fold
