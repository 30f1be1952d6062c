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

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold

# Inverse L2 strengths the cross-validation chooses among, and its folds.
HEAD_CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
HEAD_FOLDS = 3
HEAD_MAX_ITER = 2000


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


def _logistic_regression(Z, labels, n_classes, seed, sample_weight=None):
    counts = np.bincount(labels, minlength=n_classes)
    folds = min(HEAD_FOLDS, counts[counts > 0].min())
    if folds >= 2:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        lr = LogisticRegressionCV(
            Cs=list(HEAD_CS), cv=cv, scoring="accuracy", max_iter=HEAD_MAX_ITER
        )
    else:  # a class with one labeled row: no cross-validation possible
        lr = LogisticRegression(C=1.0, max_iter=HEAD_MAX_ITER)
    with warnings.catch_warnings():
        # scikit-learn 1.8 announces a new default for l1_ratios, which an
        # L2 penalty does not read; setting it would warn on earlier versions.
        warnings.filterwarnings("ignore", "The default value for l1_ratios")
        warnings.filterwarnings("ignore", "The fitted attributes of Logistic")
        return lr.fit(Z, labels, sample_weight=sample_weight)


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
    X = head_inputs(model, batch)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-12] = 1.0
    Z = (X - mean) / scale
    raw = np.ones(X.shape[1], dtype=bool)
    raw[head.n_dense_inputs : head.dense.in_features] = False  # the hidden ones
    coef = np.zeros((head.n_classes, X.shape[1]))
    intercept = np.zeros(head.n_classes)
    experts = []
    for columns in (np.ones(X.shape[1], dtype=bool), raw):
        lr = _logistic_regression(
            Z[:, columns], labels, head.n_classes, seed, sample_weight
        )
        expert_coef, expert_intercept = _class_logits(lr, head.n_classes)
        coef[:, columns] += expert_coef / 2
        intercept += expert_intercept / 2
        experts.append((columns, lr))
    present = lr.classes_
    # Classes without a labeled row never win.
    intercept[np.setdiff1d(np.arange(head.n_classes), present)] = -1e4
    weights = coef / scale
    bias = intercept - weights @ mean
    n_dense = head.dense.in_features
    dtype = head.dense.weight.dtype
    head.dense.weight.copy_(torch.as_tensor(weights[:, :n_dense], dtype=dtype))
    head.dense.bias.copy_(torch.as_tensor(bias, dtype=dtype))
    if head.n_categorical:
        head.one_hot.weight.copy_(torch.as_tensor(weights[:, n_dense:].T, dtype=dtype))
    return experts
