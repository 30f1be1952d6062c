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
from dataclasses import dataclass

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
# The raw columns' regression's share of the head's logits: by default the
# two regressions' average; "auto" chooses among the grid.
DEFAULT_RAW_REGRESSION_WEIGHT = 0.5
RAW_REGRESSION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
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


@dataclass
class HeadRegressions:
    """The head's two cross-validated regressions, before the head is written.

    Attributes
    ----------
    experts : list of (columns, LogisticRegression)
        The regression on every input (raw columns and hidden activations)
        and the one on the raw columns alone, ``columns`` a mask of the
        standardised head inputs each reads.
    folds : cross-validation splitter or None
        The folds they were cross-validated on (:func:`head_folds`); None
        when a class has a single row.
    out_of_fold_logits : list of ndarray, or None
        Each regression's held-out logits at its chosen strength
        (:func:`_cross_validated_regression`); None without folds.
    mean, scale : ndarray
        The standardisation of the head inputs the regressions were fitted on.
    n_classes : int
    """

    experts: list
    folds: object
    out_of_fold_logits: list
    mean: np.ndarray
    scale: np.ndarray
    n_classes: int

    def _mixed(self, parts, raw_weight):
        every, raw = parts
        return (1 - raw_weight) * every + raw_weight * raw

    def out_of_fold_log_proba(self, raw_weight):
        """The head's out-of-fold log-probabilities when the raw columns'
        regression has ``raw_weight`` of its logits; None without folds."""
        if self.out_of_fold_logits is None:
            return None
        return log_softmax(self._mixed(self.out_of_fold_logits, raw_weight), axis=1)

    @torch.no_grad()
    def write(self, head, raw_weight):
        """Write the head: the two regressions' logits, the raw columns' with
        weight ``raw_weight`` (a product of the two experts, still linear),
        the standardisation folded into the weights."""
        parts = []
        for columns, lr in self.experts:
            coef, intercept = _class_logits(lr, self.n_classes)
            full = np.zeros((self.n_classes, len(columns)))
            full[:, columns] = coef
            parts.append((full, intercept))
        coef = self._mixed([coef for coef, _ in parts], raw_weight)
        intercept = self._mixed([intercept for _, intercept in parts], raw_weight)
        _exclude_absent(intercept, self.experts[0][1].classes_)
        weights = coef / self.scale
        bias = intercept - weights @ self.mean
        n_dense = head.dense.in_features
        dtype = head.dense.weight.dtype
        head.dense.weight.copy_(torch.as_tensor(weights[:, :n_dense], dtype=dtype))
        head.dense.bias.copy_(torch.as_tensor(bias, dtype=dtype))
        if head.n_categorical:
            head.one_hot.weight.copy_(
                torch.as_tensor(weights[:, n_dense:].T, dtype=dtype)
            )


@torch.no_grad()
def fit_regressions(model, batch, labels, seed, sample_weight=None):
    """The head's two regressions of ``labels`` (class indices) on ``batch``'s
    rows, cross-validated on :func:`head_folds`
    (:func:`cross_validation_splits`).

    Columns are standardised for the fits (the penalty then treats them
    alike); :meth:`HeadRegressions.write` folds the scaling back into the
    head's weights. One regression reads the raw columns with the hidden
    activations, the other the raw columns alone, and the head mixes their
    logits: with few labels, choosing one of the two by cross-validated
    accuracy picks by noise, while a mix chosen by the out-of-fold log-loss
    (:func:`skssl._boosting.fit_boosting_expert`) reads every row's
    probability, and where the learned features do not help, the raw
    columns' regression holds the head near what a logistic regression on
    them does. ``sample_weight`` (one per row, or None) weighs both
    regressions' fits and their held-out accuracies.

    The out-of-fold logits are each held-out row's from the fold's fits
    that did not see it, at the chosen strengths (zero in rows no split
    holds out). The encoder is not refitted per fold: trained without
    labels, its features of a held-out row carry nothing of that row's
    label.

    Returns
    -------
    HeadRegressions
    """
    head = model.classifier
    Z, mean, scale = _standardised_inputs(model, batch)
    folds = head_folds(labels, seed)
    experts, out_of_fold = [], []
    for columns in (np.ones(Z.shape[1], dtype=bool), _raw_columns(head, Z.shape[1])):
        lr, held_out_logits = _cross_validated_regression(
            Z[:, columns], labels, head.n_classes, folds, sample_weight
        )
        experts.append((columns, lr))
        out_of_fold.append(held_out_logits)
    return HeadRegressions(
        experts,
        folds,
        None if folds is None else out_of_fold,
        mean,
        scale,
        head.n_classes,
    )
