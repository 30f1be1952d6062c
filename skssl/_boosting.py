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

A third expert, the labels spread over a neighbour graph of the labeled and
unlabeled rows (:mod:`skssl._graph`), joins the same blend with a weight
``v`` of :data:`GRAPH_WEIGHTS`::

    log p(y | x) = (1 - w - v) log p_head + w log p_trees + v log p_graph + const

``w + v`` at most :data:`MAX_EXPERTS_WEIGHT`; ``w`` and ``v`` are chosen
together, on the same out-of-fold log-loss.

The head's out-of-fold predictions come from its own cross-validation
(:func:`skssl._head.fit_regressions`), on the same folds, at no further fit;
where the head's own mix of its two regressions is to be chosen too, each
candidate mix is a head of the grid, and the pair of head and weight of the
lowest out-of-fold log-loss wins. The
trees' fold fits stop when their held-out log-loss stops falling, and the
trees fitted on every labeled row grow the folds' mean number of
iterations: the log-loss the blend reads is the trees' best, and a boosting
run on a few hundred rows overfits it well before HistGradientBoosting's
100 iterations.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax
from sklearn.ensemble import HistGradientBoostingClassifier

from ._encoding import MISSING_CODE
from ._head import cross_validation_splits

# The weights of the trees the out-of-fold log-loss chooses among.
BOOSTING_WEIGHTS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75)
# The graph's weights (skssl._graph), the trees' grid, and the most the trees
# and the graph take together: the head keeps at least a quarter of the logits.
GRAPH_WEIGHTS = BOOSTING_WEIGHTS
MAX_EXPERTS_WEIGHT = 0.75
# HistGradientBoosting's categorical features take codes below its bin count.
MAX_TREE_CATEGORIES = 255
# Floor of a tree probability before its logarithm (an underflowed 0).
_PROBABILITY_FLOOR = np.finfo(np.float64).tiny
# HistGradientBoosting's default max_iter: the trees' fold fits grow this
# many iterations, and their held-out log-loss at each picks the count.
MAX_ITERATIONS = 100


def tree_inputs(numeric, observed, categorical):
    """The encoded columns as the trees read them: standardised numeric
    values with NaN where missing, then the category codes (missing ones
    NaN), as one float array."""
    numeric = np.where(observed, numeric, np.nan)
    codes = categorical.astype(numeric.dtype)
    codes[categorical == MISSING_CODE] = np.nan  # the trees' missing value
    return np.hstack([numeric, codes])


def _trees(n_numeric, cardinalities, seed, **params):
    is_categorical = np.zeros(n_numeric + len(cardinalities), dtype=bool)
    # Wider vocabularies (max_categories above 253) are split as ordinals.
    is_categorical[n_numeric:] = np.asarray(cardinalities) <= MAX_TREE_CATEGORIES
    return HistGradientBoostingClassifier(
        categorical_features=is_categorical if is_categorical.any() else None,
        random_state=seed,
        **params,
    )


def _fold_trees(trees, inputs, labels, fitted, held_out, n_classes, sample_weight):
    """Fit ``trees`` on the ``fitted`` rows; the ``held_out`` rows'
    log-probabilities at the iteration count of their lowest log-loss, and
    that count."""
    weight = None if sample_weight is None else sample_weight[fitted]
    trees.fit(inputs[fitted], labels[fitted], sample_weight=weight)
    held_out_weight = None if sample_weight is None else sample_weight[held_out]
    best_loss, best = np.inf, None
    for n_iter, proba in enumerate(trees.staged_predict_proba(inputs[held_out]), 1):
        log_proba = _log_proba_columns(trees, proba, n_classes)
        loss = _log_loss(log_proba, labels[held_out], held_out_weight)
        if loss < best_loss:
            best_loss, best = loss, (log_proba, n_iter)
    return best


@dataclass
class BoostingExpert:
    """The experts blended with the head, and their weights.

    Attributes
    ----------
    trees : HistGradientBoostingClassifier or None
        Fitted on the labeled rows' :func:`tree_inputs`; None at weight 0.
    weight : float
        ``w`` in the module's formula.
    n_classes : int
        Columns of the classifier's probabilities (classes with a labeled
        row of positive weight are ``trees.classes_``).
    graph : skssl._graph.LabelGraph or None
        Labels spread over the rows' neighbour graph; None at weight 0.
    graph_weight : float
        The graph's weight ``v``: the blend's logits are
        ``(1 - w - v) log p_head + w log p_trees + v log p_graph``.
    """

    trees: HistGradientBoostingClassifier
    weight: float
    n_classes: int
    graph: object = None
    graph_weight: float = 0.0

    def log_proba(self, inputs):
        """The trees' log-probabilities of :func:`tree_inputs` rows, one
        column per class (the floor for classes the trees never saw)."""
        return _tree_log_proba(self.trees, inputs, self.n_classes)

    def blend(self, head_log_proba, inputs, graph_inputs=None):
        """Class probabilities of the rows, the head's, the trees' and the
        graph's blended."""
        logits = (1 - self.weight - self.graph_weight) * head_log_proba
        if self.trees is not None:
            logits += self.weight * self.log_proba(inputs)
        if self.graph is not None:
            logits += self.graph_weight * self.graph.log_proba(graph_inputs)
        return np.exp(log_softmax(logits, axis=1))


def _tree_log_proba(trees, inputs, n_classes):
    return _log_proba_columns(trees, trees.predict_proba(inputs), n_classes)


def _log_proba_columns(trees, proba, n_classes):
    """``trees``' probabilities ``proba`` as log-probabilities of all
    ``n_classes`` (the floor for classes the trees never saw)."""
    full = np.zeros((len(proba), n_classes))
    full[:, trees.classes_] = proba
    return np.log(np.maximum(full, _PROBABILITY_FLOOR))


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
    graph=None,
    graph_weight="auto",
):
    """Fit the trees to the labeled rows and settle their weight, and which
    of the candidate heads they are blended with.

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
        A given weight fits HistGradientBoosting's defaults once.
    seed : int
    head_out_of_fold : dict or None
        Candidate heads (keys in order of preference among ties) and their
        out-of-fold log-probabilities, of shape (n_labeled, n_classes), on
        ``folds`` (:meth:`skssl._head.HeadRegressions.out_of_fold_log_proba`).
        With more than one candidate, the pair of head and weight whose
        blend has the lowest out-of-fold log-loss is chosen (at a given
        ``weight``, the trees are fitted per fold for that choice).
    folds : cross-validation splitter or None
        The head's folds (:func:`skssl._head.head_folds`); the log-loss is
        that of the held-out rows of their
        :func:`~skssl._head.cross_validation_splits`. None: too few labels
        per class to choose; the first candidate is taken, and with
        ``weight="auto"`` the weight is 0 and no trees are fitted.
    sample_weight : ndarray or None
        The rows' weights in the trees' fits and the log-losses.

    graph : (LabelGraph, ndarray) or None
        The graph expert and its out-of-fold log-probabilities on ``folds``
        (:func:`skssl._graph.fit_label_graph`); its weight is chosen with
        the trees', among :data:`GRAPH_WEIGHTS`, their sum at most
        :data:`MAX_EXPERTS_WEIGHT`. None: no graph.
    graph_weight : float or "auto"
        The graph's weight, or "auto" to choose it.

    Returns
    -------
    expert : BoostingExpert or None
        None when the trees' and the graph's weights are 0.
    head : key of ``head_out_of_fold``
        The chosen candidate (None without candidates).
    """
    n_numeric = inputs.shape[1] - len(cardinalities)
    candidates = list(head_out_of_fold or [None])
    head = candidates[0]
    weights = BOOSTING_WEIGHTS if weight == "auto" else (weight,)
    params = {}
    if graph is None or folds is None:
        graph_weight = 0.0
    if folds is None:
        if weight == "auto":
            return None, head
    elif weight == "auto" or len(candidates) > 1 or graph_weight != 0:
        splits = cross_validation_splits(folds, labels)
        scored = np.concatenate([held_out for _, held_out in splits])
        trees_out_of_fold = np.zeros((len(labels), n_classes))
        n_iterations = []
        for fitted, held_out in splits if max(weights) > 0 else ():
            trees = _trees(
                n_numeric,
                cardinalities,
                seed,
                early_stopping=False,
                max_iter=MAX_ITERATIONS,
            )
            trees_out_of_fold[held_out], n_iter = _fold_trees(
                trees, inputs, labels, fitted, held_out, n_classes, sample_weight
            )
            n_iterations.append(n_iter)
        trees_out_of_fold = trees_out_of_fold[scored]
        graph_weights = GRAPH_WEIGHTS if graph_weight == "auto" else (graph_weight,)
        grid = [
            (key, w, v)
            for key in candidates
            for w in weights
            for v in graph_weights
            if v == 0 or w + v <= MAX_EXPERTS_WEIGHT
        ]
        graph_out_of_fold = 0.0 if graph_weight == 0 else graph[1][scored]
        losses = [
            _log_loss(
                log_softmax(
                    (1 - w - v) * head_out_of_fold[key][scored]
                    + w * trees_out_of_fold
                    + v * graph_out_of_fold,
                    axis=1,
                ),
                labels[scored],
                None if sample_weight is None else sample_weight[scored],
            )
            for key, w, v in grid
        ]
        head, chosen, graph_weight = grid[int(np.argmin(losses))]
        if weight == "auto":
            weight = chosen
            max_iter = int(round(np.mean(n_iterations)))
            params = {"max_iter": max_iter, "early_stopping": False}
    if weight == 0 and graph_weight == 0:
        return None, head
    trees = None
    if weight > 0:
        trees = _trees(n_numeric, cardinalities, seed, **params)
        trees.fit(inputs, labels, sample_weight=sample_weight)
    return BoostingExpert(
        trees,
        float(weight),
        n_classes,
        graph=None if graph_weight == 0 else graph[0],
        graph_weight=float(graph_weight),
    ), head
