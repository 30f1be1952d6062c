"""The classifier's gradient-boosting expert (skssl._boosting)."""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.metrics import log_loss

from skssl import ContrastiveVAEClassifier
from skssl._boosting import (
    BOOSTING_WEIGHTS,
    MAX_ITERATIONS,
    _fold_trees,
    _trees,
    fit_boosting_expert,
    tree_inputs,
)
from skssl._encoding import MISSING_CODE
from skssl._head import RAW_REGRESSION_WEIGHTS, head_folds
from tests._helpers import TINY_CLASSIFIER

# The trees' tests: no graph expert beside them (tests/test_graph.py).
TINY = dict(TINY_CLASSIFIER, graph_weight=0)


def _xor_table(n, seed):
    """Two categorical columns whose class is their XOR, and noise columns:
    no function linear in the one-hot codes separates the classes; trees do."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, size=(2, n))
    X = pd.DataFrame(
        {
            "a": pd.Categorical(np.array(["p", "q"])[a]),
            "b": pd.Categorical(np.array(["r", "s"])[b]),
            "noise": rng.normal(size=n),
        }
    )
    return X, a ^ b


def test_tree_inputs_mark_missing_values_as_nan():
    numeric = np.array([[1.5, 0.0], [0.0, -2.0]], dtype=np.float32)
    observed = np.array([[True, False], [True, True]])
    categorical = np.array([[MISSING_CODE, 3], [2, 4]])
    inputs = tree_inputs(numeric, observed, categorical)
    assert inputs.dtype == np.float32
    expected = [[1.5, np.nan, np.nan, 3.0], [0.0, -2.0, 2.0, 4.0]]
    np.testing.assert_array_equal(inputs, np.array(expected, dtype=np.float32))


def _stripes(n, seed):
    """Class 1 on every other of six stripes of the first column: a rule that
    trees split exactly, which no function linear in a tiny encoder's
    features (or the column itself) follows."""
    X = np.random.default_rng(seed).uniform(-3, 3, size=(n, 4))
    return X, (np.floor(X[:, 0]) % 2).astype(int)


def test_trees_win_a_rule_the_linear_head_cannot_learn():
    X, y = _stripes(600, seed=0)
    X_test, y_test = _stripes(400, seed=1)
    y_partial = np.where(np.arange(600) < 400, y, -1)
    auto = ContrastiveVAEClassifier(**TINY).fit(X, y_partial)
    head = ContrastiveVAEClassifier(**TINY, boosting_weight=0).fit(X, y_partial)
    assert auto.boosting_weight_ in BOOSTING_WEIGHTS[1:]
    assert head.boosting_weight_ == 0.0
    assert head._training_state.boosting is None
    assert auto.score(X_test, y_test) > 0.95
    assert head.score(X_test, y_test) < 0.8
    # The trees on every labeled row grow the folds' chosen iteration count.
    trees = auto._training_state.boosting.trees
    assert not trees.early_stopping and trees.n_iter_ == trees.max_iter


def test_trees_that_learn_nothing_get_no_weight():
    """Eight labels per class: too few rows for the trees to split on, so
    their out-of-fold predictions are the prior, and the head predicts alone."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    X = rng.normal(size=(200, 3)) + 3.0 * y[:, None]
    y_partial = np.where(np.arange(200) % 100 < 8, y, -1)
    clf = ContrastiveVAEClassifier(**TINY).fit(X, y_partial)
    assert clf.boosting_weight_ == 0.0
    assert clf._training_state.boosting is None


def test_a_single_labeled_row_of_a_class_leaves_no_folds_to_choose_on():
    X, y = _xor_table(100, seed=0)
    y_partial = np.full(100, -1)
    y_partial[:30] = y[:30]
    y_partial[np.flatnonzero(y_partial == 1)[1:]] = -1  # one row of class 1
    clf = ContrastiveVAEClassifier(**TINY).fit(X, y_partial)
    assert clf.boosting_weight_ == 0.0


def test_predictions_are_the_geometric_blend_of_head_and_trees():
    """Same seed, same head: the blend's probabilities are the normalised
    product p_head^(1 - w) p_trees^w."""
    X, y = _xor_table(300, seed=0)
    # The same head in both: a fixed mix of its regressions.
    params = dict(TINY, raw_regression_weight=0.5)
    head = ContrastiveVAEClassifier(**params, boosting_weight=0).fit(X, y)
    blended = ContrastiveVAEClassifier(**params, boosting_weight=0.375).fit(X, y)
    trees = blended._training_state.boosting.trees
    codes = blended.table_encoder_.transform(X, dtype=np.float32)
    p_trees = trees.predict_proba(tree_inputs(*codes.arrays))
    expected = softmax(
        0.625 * np.log(head.predict_proba(X)) + 0.375 * np.log(p_trees), axis=1
    )
    proba = blended.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        blended.predict(X), blended.classes_[proba.argmax(axis=1)]
    )


def test_blend_is_deterministic_and_survives_pickling():
    X, y = _xor_table(300, seed=0)
    X.loc[::7, "noise"] = np.nan
    clf = ContrastiveVAEClassifier(**TINY, boosting_weight=0.5).fit(X, y)
    again = ContrastiveVAEClassifier(**TINY, boosting_weight=0.5).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_sample_weight_of_zero_rows_keeps_them_out_of_the_trees():
    X, y = _xor_table(300, seed=0)
    weight = np.ones(300)
    weight[:100] = 0.0
    y_flipped = y.copy()
    y_flipped[:100] = 1 - y_flipped[:100]
    params = dict(TINY, boosting_weight=0.5)
    weighted = ContrastiveVAEClassifier(**params).fit(X, y_flipped, weight)
    trees = weighted._training_state.boosting.trees
    inputs = tree_inputs(*weighted.table_encoder_.transform(X, np.float32).arrays)
    # The trees learned the rule of the weighted rows, not the flipped ones.
    assert (trees.predict(inputs[100:]) == y[100:]).mean() > 0.95


@pytest.mark.parametrize("weight", [-0.1, 1.5, "high"])
def test_bad_boosting_weight_raises(weight):
    X, y = _xor_table(50, seed=0)
    with pytest.raises(ValueError, match="boosting_weight"):
        ContrastiveVAEClassifier(**TINY, boosting_weight=weight).fit(X, y)


def test_fold_trees_predict_at_the_held_out_log_loss_minimum():
    """On noisy labels, boosting overfits the log-loss well before 100
    iterations: the fold's held-out rows are predicted at the iteration
    count of their lowest log-loss, and the final trees grow the folds'
    mean count (see the stripes test)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(scale=1.5, size=300) > 0).astype(int)
    inputs = tree_inputs(X, np.ones_like(X, dtype=bool), np.zeros((300, 0), int))
    fitted, held_out = np.arange(200), np.arange(200, 300)
    trees = _trees(4, [], seed=0, early_stopping=False, max_iter=MAX_ITERATIONS)
    log_proba, n_iter = _fold_trees(trees, inputs, y, fitted, held_out, 2, None)
    staged = [
        log_loss(y[held_out], p, labels=[0, 1])
        for p in trees.staged_predict_proba(inputs[held_out])
    ]
    assert len(staged) == MAX_ITERATIONS
    assert n_iter == np.argmin(staged) + 1 < MAX_ITERATIONS // 2
    np.testing.assert_allclose(
        -log_proba[np.arange(100), y[held_out]].mean(), min(staged)
    )


def _noisy_threshold(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return tree_inputs(X, np.ones_like(X, dtype=bool), np.zeros((n, 0), int)), y


@pytest.mark.parametrize("weight", ["auto", 0.0, 0.5])
def test_the_head_of_the_lowest_out_of_fold_log_loss_is_chosen(weight):
    """Candidate heads: the one whose out-of-fold predictions follow the
    labels wins, in whichever order the candidates come, alone (weight 0),
    with the trees at a given weight, or with the weight chosen too."""
    inputs, y = _noisy_threshold(200, seed=0)
    right = np.log(np.where(np.eye(2)[y] == 1, 0.8, 0.2))
    wrong = right[:, ::-1]
    for candidates in (
        {"right": right, "wrong": wrong},
        {"wrong": wrong, "right": right},
    ):
        expert, head = fit_boosting_expert(
            inputs, y, 2, [], weight, 0, candidates, folds=head_folds(y, 0)
        )
        assert head == "right"
        if weight == "auto":
            # A head right on 100 % of rows at 0.8 leaves the trees little.
            assert expert is None or expert.weight < 0.5
        else:
            assert (expert is None) == (weight == 0.0)


def test_without_folds_the_first_head_is_taken():
    inputs, y = _noisy_threshold(50, seed=0)
    uniform = np.log(np.full((50, 2), 0.5))
    expert, head = fit_boosting_expert(
        inputs, y, 2, [], "auto", 0, {"first": uniform, "second": uniform}, folds=None
    )
    assert expert is None and head == "first"


def test_raw_regression_weight_is_chosen_or_kept():
    X, y = _xor_table(200, seed=0)
    y_partial = np.where(np.arange(200) < 80, y, -1)
    auto = ContrastiveVAEClassifier(**TINY).fit(X, y_partial)
    assert auto.raw_regression_weight_ in RAW_REGRESSION_WEIGHTS
    fixed = ContrastiveVAEClassifier(**TINY, raw_regression_weight=0.3)
    assert fixed.fit(X, y_partial).raw_regression_weight_ == 0.3
    # A class with a single labeled row: no folds, the regressions' average.
    y_partial[np.flatnonzero(y_partial == 1)[1:]] = -1
    assert (
        ContrastiveVAEClassifier(**TINY).fit(X, y_partial).raw_regression_weight_ == 0.5
    )
    with pytest.raises(ValueError, match="raw_regression_weight"):
        ContrastiveVAEClassifier(**TINY, raw_regression_weight=2).fit(X, y_partial)
