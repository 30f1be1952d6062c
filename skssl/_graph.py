"""The classifier's graph expert: labels spread over a k-nearest-neighbour
graph of the labeled and unlabeled rows.

Where classes follow the shape of the data (images of digits, smooth
manifolds), a row's nearest neighbours, labeled or not, tell its class
better than a classifier fitted to a few labeled rows: label spreading
(Zhou et al., "Learning with local and global consistency", NIPS 2004;
scikit-learn's :class:`~sklearn.semi_supervised.LabelSpreading`) passes the
labels along the edges of a graph of every row. Here the graph is built once
on the raw columns (standardised numeric values, 0 where missing, and one-hot
categories), the labels spread with::

    F <- alpha * S @ F + (1 - alpha) * Y,   S = D^(-1/2) W D^(-1/2)

(``W`` the symmetrised k-nearest-neighbour connectivity, ``Y`` the labeled
rows' one-hot classes), and a row's probabilities are the mean of its
neighbours' normalised ``F``: for a new row, its nearest graph rows'; for a
labeled row held out of the cross-validation, those of its neighbours in a
spreading whose labels are the other folds'. Those out-of-fold predictions
enter the blend of :mod:`skssl._boosting` beside the head's and the trees'.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from ._encoding import MISSING_CODE
from ._head import cross_validation_splits

# Neighbours per row, as scikit-learn's LabelSpreading (docs/semi_supervised.md
# compares 10).
GRAPH_NEIGHBORS = 7
# Clamping of the spread labels (scikit-learn's LabelSpreading default).
SPREADING_ALPHA = 0.2
SPREADING_ITERATIONS = 30
# Rows the graph holds at most (labeled rows first): its neighbour search is
# quadratic in them.
MAX_GRAPH_ROWS = 20_000
# Share of the uniform distribution mixed into the graph's probabilities, so
# that a row no label reaches, or a class none of its neighbours has, has a
# finite log-probability.
UNIFORM_SHARE = 0.01


def graph_inputs(numeric, observed, categorical, cardinalities):
    """The rows as the graph measures them: standardised numeric values (0,
    the mean, where missing) and one-hot category codes (missing: no one),
    as one float32 array."""
    numeric = np.where(observed, numeric, 0.0).astype(np.float32)
    cardinalities = np.asarray(cardinalities, dtype=np.int64)
    offsets = np.cumsum(cardinalities) - cardinalities
    one_hot = np.zeros((len(numeric), int(np.sum(cardinalities))), dtype=np.float32)
    rows = np.arange(len(numeric))
    for column, offset in enumerate(offsets):
        codes = categorical[:, column]
        present = codes != MISSING_CODE
        one_hot[rows[present], offset + codes[present]] = 1.0
    return np.hstack([numeric, one_hot])


def _neighbours(fitted_rows, query, k, exclude_self=False):
    """Indices of each query row's ``k`` nearest fitted rows (the row itself
    left out when the queries are the fitted rows)."""
    search = NearestNeighbors(n_neighbors=k + exclude_self).fit(fitted_rows)
    index = search.kneighbors(query, return_distance=False)
    return index[:, 1:] if exclude_self else index


def _normalised_graph(neighbours):
    """``S = D^(-1/2) W D^(-1/2)`` of the symmetrised kNN connectivity."""
    n, k = neighbours.shape
    W = sp.csr_matrix(
        (np.ones(n * k), (np.repeat(np.arange(n), k), neighbours.ravel())),
        shape=(n, n),
    )
    W = W.maximum(W.T)
    degree = np.asarray(W.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(np.maximum(degree, 1.0)))
    return (scale @ W @ scale).tocsr()


def spreading_graph(inputs):
    """Each of the ``inputs`` rows' :data:`GRAPH_NEIGHBORS` nearest other rows
    (fewer in a smaller graph), and the normalised graph ``S`` the labels
    spread over."""
    k = min(GRAPH_NEIGHBORS, len(inputs) - 1)
    neighbours = _neighbours(inputs, inputs, k, exclude_self=True)
    return neighbours, _normalised_graph(neighbours)


def _spread(S, labeled, labels, n_classes):
    """Row-normalised spread labels of every graph row (zero rows where no
    label reaches)."""
    Y = np.zeros((S.shape[0], n_classes))
    Y[labeled, labels] = 1.0
    F = Y.copy()
    for _ in range(SPREADING_ITERATIONS):
        F = SPREADING_ALPHA * (S @ F) + (1 - SPREADING_ALPHA) * Y
    total = F.sum(axis=1, keepdims=True)
    return np.divide(F, total, out=np.zeros_like(F), where=total > 0)


def _neighbour_log_proba(distributions, neighbours, n_classes):
    """Log of the mean of the neighbours' distributions, mixed with uniform
    (a row no label reached counts as uniform)."""
    reached = distributions.sum(axis=1, keepdims=True) > 0
    distributions = np.where(reached, distributions, 1.0 / n_classes)
    mean = distributions[neighbours].mean(axis=1)
    return np.log((1 - UNIFORM_SHARE) * mean + UNIFORM_SHARE / n_classes)


@dataclass
class LabelGraph:
    """Spread labels of the graph's rows, which new rows' neighbours read.

    Attributes
    ----------
    rows : ndarray of shape (n_graph, n_inputs)
        The graph rows' :func:`graph_inputs`.
    distributions : ndarray of shape (n_graph, n_classes)
        Their normalised spread labels (zero where none reached).
    """

    rows: np.ndarray
    distributions: np.ndarray

    def log_proba(self, inputs):
        """Log-probabilities of :func:`graph_inputs` rows, one column per class."""
        k = min(GRAPH_NEIGHBORS, len(self.rows))
        neighbours = _neighbours(self.rows, inputs, k)
        n_classes = self.distributions.shape[1]
        return _neighbour_log_proba(self.distributions, neighbours, n_classes)


def graph_rows(rows, labeled, seed):
    """Indices of the graph's rows: the ``labeled`` ones, then the other
    ``rows`` up to :data:`MAX_GRAPH_ROWS` in all (a uniform draw beyond);
    None when the labeled rows alone are more (the graph expert is then left
    out: with that many labels the head and the trees have enough)."""
    if len(labeled) > MAX_GRAPH_ROWS:
        return None
    unlabeled = np.setdiff1d(rows, labeled)
    room = MAX_GRAPH_ROWS - len(labeled)
    if len(unlabeled) > room:
        rng = np.random.default_rng(seed)
        unlabeled = np.sort(rng.choice(unlabeled, room, replace=False))
    return np.concatenate([labeled, unlabeled])


def fit_label_graph(inputs, n_labeled, labels, n_classes, folds):
    """Spread the labels over the graph of ``inputs``, whose first
    ``n_labeled`` rows have ``labels``.

    Returns
    -------
    graph : LabelGraph
        Spread from every label.
    out_of_fold : ndarray of shape (n_labeled, n_classes) or None
        Each held-out labeled row's log-probabilities from a spreading of
        the other folds' labels (rows no split holds out: zeros); None
        without ``folds``.
    """
    neighbours, S = spreading_graph(inputs)
    labeled = np.arange(n_labeled)
    graph = LabelGraph(inputs, _spread(S, labeled, labels, n_classes))
    if folds is None:
        return graph, None
    out_of_fold = np.zeros((n_labeled, n_classes))
    for fitted, held_out in cross_validation_splits(folds, labels):
        distributions = _spread(S, fitted, labels[fitted], n_classes)
        out_of_fold[held_out] = _neighbour_log_proba(
            distributions, neighbours[held_out], n_classes
        )
    return graph, out_of_fold
