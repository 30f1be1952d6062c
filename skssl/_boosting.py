"""The classifier's gradient-boosting expert, blended with the linear head.

Trees and a linear head on learned features err on different rows: trees
learn rules over categorical columns and interactions that a linear head
cannot, and a linear head generalises from few labels where trees, which
need rows to split on, do not. Shwartz-Ziv and Armon (arXiv 2106.03253) find
an ensemble of deep models and gradient-boosted trees better than either on
tabular data. Here a :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
is fitted on the labeled rows' encoded columns, and the classifier predicts
with the normalised geometric mean of the two experts' probabilities::

    log p(y | x) = (1 - w) log p_head(y | x) + w log p_trees(y | x) + const

The weight ``w`` is chosen on the labeled rows alone: both experts predict
each row out of fold, and the weight of the grid :data:`BOOSTING_WEIGHTS`
with the lowest out-of-fold log-loss wins. Where the trees cannot learn from
the few labels given (a few dozen rows), their out-of-fold predictions are
poor and their weight is 0; the log-loss, unlike accuracy, ranks the weights
by more than the handful of rows whose prediction they flip.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedShuffleSplit

from ._encoding import MISSING_CODE
from ._head import head_folds

# The weights of the trees the out-of-fold log-loss chooses among.
BOOSTING_WEIGHTS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75)
# HistGradientBoosting's categorical features take codes below its bin count.
MAX_TREE_CATEGORIES = 255
# Floor of a tree probability before its logarithm (an underflowed 0).
_PROBABILITY_FLOOR = np.finfo(np.float64).tiny
# With more labeled rows than the head's folds times this, the weight is
# chosen on one stratified split holding out this many rows: their log-loss
# ranks the weights closely, and the experts are refitted once instead of
# once per fold (the head's regressions dominate a large fit's time).
MAX_HELD_OUT_ROWS = 2000


def weight_folds(labels, seed):
    """The splits of the labeled rows (class indices ``labels``) whose
    held-out predictions choose the weight; None when a class has a single
    row. The head's folds, or one split for many rows (see
    :data:`MAX_HELD_OUT_ROWS`)."""
    folds = head_folds(labels, seed)
    if folds is None or len(labels) <= folds.get_n_splits() * MAX_HELD_OUT_ROWS:
        return folds
    return StratifiedShuffleSplit(1, test_size=MAX_HELD_OUT_ROWS, random_state=seed)


def tree_inputs(numeric, observed, categorical):
    """The encoded columns as the trees read them: standardised numeric
    values with NaN where missing, then the category codes (missing ones
    NaN), as one float array."""
    numeric = np.where(observed, numeric, np.nan)
    codes = categorical.astype(numeric.dtype)
    codes[categorical == MISSING_CODE] = np.nan  # the trees' missing value
    return np.hstack([numeric, codes])


def _trees(n_numeric, cardinalities, seed):
    is_categorical = np.zeros(n_numeric + len(cardinalities), dtype=bool)
    # Wider vocabularies (max_categories above 253) are split as ordinals.
    is_categorical[n_numeric:] = np.asarray(cardinalities) <= MAX_TREE_CATEGORIES
    return HistGradientBoostingClassifier(
        categorical_features=is_categorical if is_categorical.any() else None,
        random_state=seed,
    )


@dataclass
class BoostingExpert:
    """Fitted trees and the weight of their log-probabilities in the blend.

    Attributes
    ----------
    trees : HistGradientBoostingClassifier
        Fitted on the labeled rows' :func:`tree_inputs`.
    weight : float
        ``w`` in the module's formula.
    n_classes : int
        Columns of the classifier's probabilities (classes with a labeled
        row of positive weight are ``trees.classes_``).
    """

    trees: HistGradientBoostingClassifier
    weight: float
    n_classes: int

    def log_proba(self, inputs):
        """The trees' log-probabilities of :func:`tree_inputs` rows, one
        column per class (the floor for classes the trees never saw)."""
        return _tree_log_proba(self.trees, inputs, self.n_classes)

    def blend(self, head_log_proba, inputs):
        """Class probabilities of the rows, the head's and the trees' blended."""
        logits = (1 - self.weight) * head_log_proba
        logits += self.weight * self.log_proba(inputs)
        return np.exp(log_softmax(logits, axis=1))


def _tree_log_proba(trees, inputs, n_classes):
    proba = np.zeros((len(inputs), n_classes))
    proba[:, trees.classes_] = trees.predict_proba(inputs)
    return np.log(np.maximum(proba, _PROBABILITY_FLOOR))


def _log_loss(log_proba, labels, sample_weight):
    per_row = -log_proba[np.arange(len(labels)), labels]
    return np.average(per_row, weights=sample_weight)


def fit_boosting_expert(
    inputs,
    labels,
    n_classes,
    cardinalities,
    weight,
    seed,
    head_out_of_fold=None,
    folds=None,
    sample_weight=None,
):
    """Fit the trees to the labeled rows and settle their weight.

    Parameters
    ----------
    inputs : ndarray of shape (n_labeled, n_numeric + n_categorical)
        The labeled rows' :func:`tree_inputs`.
    labels : ndarray of int
        Their class indices.
    n_classes : int
    cardinalities : sequence of int
        Codes per categorical column (the table encoder's).
    weight : float or "auto"
        The trees' weight; "auto": chosen among :data:`BOOSTING_WEIGHTS` by
        out-of-fold log-loss, which needs ``head_out_of_fold`` and ``folds``.
    seed : int
    head_out_of_fold : callable or None
        ``head_out_of_fold()``: the head's log-probabilities of each row
        held out by ``folds``, predicted by its refits on the other rows
        (:func:`skssl._head.out_of_fold_log_proba`); called only when the
        weight is chosen.
    folds : cross-validation splitter or None
        Splits of the rows (:func:`weight_folds`); the log-loss is that of
        the held-out rows. None with ``weight="auto"``: too few labels per
        class to choose; the weight is 0 and no trees are fitted.
    sample_weight : ndarray or None
        The rows' weights in the trees' fits and the log-loss.

    Returns
    -------
    expert : BoostingExpert or None
        None when the weight is 0.
    """
    n_numeric = inputs.shape[1] - len(cardinalities)
    if weight == "auto":
        if folds is None:
            return None
        trees_out_of_fold = np.zeros((len(labels), n_classes))
        splits = list(folds.split(inputs, labels))
        scored = np.concatenate([held_out for _, held_out in splits])
        for fitted, held_out in splits:
            trees = _trees(n_numeric, cardinalities, seed)
            fold_weight = None if sample_weight is None else sample_weight[fitted]
            trees.fit(inputs[fitted], labels[fitted], sample_weight=fold_weight)
            trees_out_of_fold[held_out] = _tree_log_proba(
                trees, inputs[held_out], n_classes
            )
        head = head_out_of_fold()[scored]
        trees_out_of_fold = trees_out_of_fold[scored]
        losses = [
            _log_loss(
                log_softmax((1 - w) * head + w * trees_out_of_fold, axis=1),
                labels[scored],
                None if sample_weight is None else sample_weight[scored],
            )
            for w in BOOSTING_WEIGHTS
        ]
        weight = BOOSTING_WEIGHTS[int(np.argmin(losses))]
    if weight == 0:
        return None
    trees = _trees(n_numeric, cardinalities, seed)
    trees.fit(inputs, labels, sample_weight=sample_weight)
    return BoostingExpert(trees, float(weight), n_classes)
