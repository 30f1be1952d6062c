"""The classifier's graph expert: labels spread over a neighbour graph
(skssl._graph)."""

import numpy as np
import pytest
from sklearn.datasets import make_moons

from skssl import ContrastiveVAEClassifier
from skssl._boosting import GRAPH_WEIGHTS, MAX_EXPERTS_WEIGHT, fit_boosting_expert
from skssl._encoding import MISSING_CODE
from skssl._graph import (
    GRAPH_NEIGHBORS,
    MAX_GRAPH_ROWS,
    UNIFORM_SHARE,
    fit_label_graph,
    graph_inputs,
    graph_rows,
)
from skssl._head import cross_validation_splits, head_folds
from tests._helpers import TINY_CLASSIFIER as TINY


def _moons(n, seed):
    """Two moons, the classes alternating row by row (so any first rows
    hold both): unlabeled rows trace the moons, which a classifier of a
    few labeled rows alone does not see."""
    X, y = make_moons(n, noise=0.05, random_state=seed)
    order = np.column_stack([np.flatnonzero(y == 0), np.flatnonzero(y == 1)]).ravel()
    return X[order], y[order]


def test_graph_inputs_one_hot_the_codes_and_zero_missing_values():
    numeric = np.array([[1.5, 7.0], [0.5, -2.0]])
    observed = np.array([[True, False], [True, True]])
    categorical = np.array([[MISSING_CODE, 2], [1, 3]])
    inputs = graph_inputs(numeric, observed, categorical, [3, 4])
    # Missing code: no one; the others (the rare code 1 too) their column.
    expected = [
        [1.5, 0.0, 0, 0, 0, 0, 0, 1, 0],
        [0.5, -2.0, 0, 1, 0, 0, 0, 0, 1],
    ]
    assert inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs, np.array(expected, dtype=np.float32))
    # No categorical column: the numeric values alone.
    alone = graph_inputs(numeric, observed, np.zeros((2, 0), int), [])
    np.testing.assert_array_equal(alone, [[1.5, 0.0], [0.5, -2.0]])


def test_graph_rows_put_the_labeled_first_and_bound_the_rest():
    labeled = np.array([5, 1, 9])
    np.testing.assert_array_equal(
        graph_rows(np.arange(12), labeled, 0), [5, 1, 9, 0, 2, 3, 4, 6, 7, 8, 10, 11]
    )
    many = graph_rows(np.arange(MAX_GRAPH_ROWS + 100), labeled, 0)
    assert len(many) == MAX_GRAPH_ROWS and len(set(many)) == MAX_GRAPH_ROWS
    np.testing.assert_array_equal(many[:3], labeled)
    np.testing.assert_array_equal(
        many, graph_rows(np.arange(MAX_GRAPH_ROWS + 100), labeled, 0)
    )
    # Rows outside ``rows`` (of zero weight) are not drawn.
    np.testing.assert_array_equal(
        graph_rows(np.array([1, 3, 5, 9]), labeled, 0), [5, 1, 9, 3]
    )
    assert (
        graph_rows(np.arange(MAX_GRAPH_ROWS + 2), np.arange(MAX_GRAPH_ROWS + 1), 0)
        is None
    )


def test_spread_labels_follow_the_moons():
    """Ten labels: a row's nearest labeled row is often on the other moon,
    but the labels spread along each moon's rows reach its whole length."""
    X, y = _moons(400, seed=0)
    inputs = X.astype(np.float32)
    graph, out_of_fold = fit_label_graph(inputs, 10, y[:10], 2, None)
    assert out_of_fold is None
    X_new, y_new = make_moons(200, noise=0.05, random_state=1)
    log_proba = graph.log_proba(X_new.astype(np.float32))
    assert (log_proba.argmax(axis=1) == y_new).mean() > 0.97
    proba = np.exp(log_proba)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The uniform share keeps every class's probability finite.
    assert proba.min() >= UNIFORM_SHARE / 2 - 1e-12


def test_out_of_fold_predictions_do_not_read_the_held_out_labels():
    X, y = _moons(300, seed=0)
    inputs = X.astype(np.float32)
    labels = y[:60]
    folds = head_folds(labels, 0)
    _, out_of_fold = fit_label_graph(inputs, 60, labels, 2, folds)
    assert (out_of_fold.argmax(axis=1) == labels).mean() > 0.9
    # One split, and its held-out labels flipped: their predictions stay.
    fitted, held_out = cross_validation_splits(folds, labels)[0]

    class OneSplit:
        def split(self, X, y):
            return iter([(fitted, held_out)])

    flipped = labels.copy()
    flipped[held_out] = 1 - flipped[held_out]
    _, once = fit_label_graph(inputs, 60, labels, 2, OneSplit())
    _, once_flipped = fit_label_graph(inputs, 60, flipped, 2, OneSplit())
    np.testing.assert_array_equal(once[held_out], out_of_fold[held_out])
    np.testing.assert_array_equal(once_flipped[held_out], once[held_out])
    # The fitted rows' labels do count.
    flipped = labels.copy()
    flipped[fitted] = 1 - flipped[fitted]
    _, fitted_flipped = fit_label_graph(inputs, 60, flipped, 2, OneSplit())
    assert not np.array_equal(fitted_flipped[held_out], once[held_out])


def test_graph_weight_is_chosen_with_the_trees_and_bounded():
    X, y = _moons(300, seed=0)
    inputs = X.astype(np.float32)
    labels = y[:60]
    folds = head_folds(labels, 0)
    graph = fit_label_graph(inputs, 60, labels, 2, folds)
    uniform = {"head": np.log(np.full((60, 2), 0.5))}
    tree_columns = inputs[:60]
    expert, _ = fit_boosting_expert(
        tree_columns, labels, 2, [], "auto", 0, uniform, folds, graph=graph
    )
    # A head that knows nothing: the graph takes the most it may.
    assert expert.graph_weight in GRAPH_WEIGHTS[1:]
    assert expert.weight + expert.graph_weight <= MAX_EXPERTS_WEIGHT
    assert expert.graph is graph[0]
    expert, _ = fit_boosting_expert(
        tree_columns, labels, 2, [], 0.0, 0, uniform, folds, graph=graph, graph_weight=0
    )
    assert expert is None


def test_classifier_uses_the_unlabeled_rows_through_the_graph():
    """Two moons, ten labels: with the graph the classifier follows the
    moons; the same model without it does not do as well."""
    X, y = _moons(400, seed=0)
    y_partial = np.where(np.arange(400) < 10, y, -1)
    X_test, y_test = make_moons(400, noise=0.05, random_state=1)
    params = dict(TINY, boosting_weight=0)
    graph = ContrastiveVAEClassifier(**params).fit(X, y_partial)
    head = ContrastiveVAEClassifier(**params, graph_weight=0).fit(X, y_partial)
    assert graph.graph_weight_ > 0 and head.graph_weight_ == 0
    assert graph.score(X_test, y_test) > 0.97
    assert graph.score(X_test, y_test) > head.score(X_test, y_test) + 0.03


def test_fixed_graph_weight_gives_the_geometric_blend():
    X, y = _moons(300, seed=0)
    y_partial = np.where(np.arange(300) < 60, y, -1)
    params = dict(TINY, boosting_weight=0, raw_regression_weight=0.5)
    head = ContrastiveVAEClassifier(**params, graph_weight=0).fit(X, y_partial)
    blended = ContrastiveVAEClassifier(**params, graph_weight=0.25).fit(X, y_partial)
    assert blended.graph_weight_ == 0.25
    graph = blended._training_state.boosting.graph
    codes = blended.table_encoder_.transform(X, dtype=np.float32)
    logits = 0.75 * np.log(head.predict_proba(X)) + 0.25 * graph.log_proba(
        graph_inputs(*codes.arrays, [])
    )
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(blended.predict_proba(X), expected, rtol=1e-10)
    assert len(graph.rows) == 300 and GRAPH_NEIGHBORS == 7


@pytest.mark.parametrize("weight", [-0.1, 0.8, "high"])
def test_bad_graph_weight_raises(weight):
    X, y = _moons(50, seed=0)
    with pytest.raises(ValueError, match="graph_weight"):
        ContrastiveVAEClassifier(**TINY, graph_weight=weight).fit(X, y)


def test_rows_of_zero_weight_are_not_in_the_graph():
    X, y = _moons(200, seed=0)
    y_partial = np.where(np.arange(200) < 40, y, -1)
    weight = np.ones(200)
    weight[150:] = 0.0
    params = dict(TINY, boosting_weight=0, graph_weight=0.25)
    clf = ContrastiveVAEClassifier(**params).fit(X, y_partial, sample_weight=weight)
    assert len(clf._training_state.boosting.graph.rows) == 150


def test_a_graph_of_fewer_rows_than_neighbours_still_predicts():
    X, y = _moons(6, seed=0)
    graph, out_of_fold = fit_label_graph(
        X.astype(np.float32), 6, y, 2, head_folds(y, 0)
    )
    log_proba = graph.log_proba(X.astype(np.float32))
    assert log_proba.shape == (6, 2) and np.isfinite(log_proba).all()
    assert np.isfinite(out_of_fold).all()
