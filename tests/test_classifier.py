"""ContrastiveVAEClassifier: the scikit-learn face and the y = -1 convention."""

import pickle
import random

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_moons
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from skssl import ContrastiveVAEClassifier
from skssl._classifier import unlabeled_mask
from tests._helpers import SAMPLE_WEIGHT_IS_NOT_REPETITION
from tests._helpers import TINY_CLASSIFIER as TINY


@parametrize_with_checks(
    # unlabeled_label=None: check_classifiers_classes fits binary labels -1
    # and 1, which the default marker reads as "unlabeled" and "1" (scikit-
    # learn's own semi-supervised estimators are exempted from it by name).
    [
        # hidden_layer_sizes=None: the checks set n_components=1.
        ContrastiveVAEClassifier(n_components=32, random_state=0, unlabeled_label=None)
    ],
    expected_failed_checks=lambda est: SAMPLE_WEIGHT_IS_NOT_REPETITION,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _semi_labeled(y, n_per_class, marker=-1):
    """``y`` with all but the first ``n_per_class`` rows of each class unlabeled."""
    y_partial = np.array(y, dtype=object if isinstance(marker, str) else None)
    keep = np.concatenate([np.flatnonzero(y == c)[:n_per_class] for c in np.unique(y)])
    unlabeled = np.setdiff1d(np.arange(len(y)), keep)
    y_partial[unlabeled] = marker
    return y_partial, keep


def test_unlabeled_marker_never_is_a_class():
    X, y = make_blobs(120, centers=3, random_state=0)
    y_partial, _ = _semi_labeled(y, 10)
    clf = ContrastiveVAEClassifier(**TINY).fit(X, y_partial)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert set(clf.predict(X)) <= {0, 1, 2}
    assert clf.predict_proba(X).shape == (120, 3)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_string_labels_use_the_string_marker():
    X, y = make_blobs(90, centers=3, random_state=0)
    names = np.array(["ant", "bee", "cat"], dtype=object)[y]
    y_partial, _ = _semi_labeled(names, 8, marker="-1")
    clf = ContrastiveVAEClassifier(**TINY).fit(X, y_partial)
    assert clf.classes_.tolist() == ["ant", "bee", "cat"]
    assert set(clf.predict(X)) <= {"ant", "bee", "cat"}


@pytest.mark.parametrize(
    "y, marker, expected",
    [
        ([0, -1, 1], -1, [False, True, False]),
        ([0.0, -1.0, 1.0], -1, [False, True, False]),
        (np.array(["a", "-1", "b"], dtype=object), -1, [False, True, False]),
        (np.array(["a", -1, "b"], dtype=object), -1, [False, True, False]),
        (["a", "-1", "b"], "-1", [False, True, False]),
        ([0, -1, 1], None, [False, False, False]),
        ([0, -1, 1], "none", [False, False, False]),
    ],
)
def test_unlabeled_mask(y, marker, expected):
    assert unlabeled_mask(np.asarray(y), marker).tolist() == expected


def test_labels_minus_one_and_one_are_classes_with_unlabeled_label_none():
    X, y = make_blobs(60, centers=2, random_state=0)
    y = np.where(y == 0, -1, 1)
    clf = ContrastiveVAEClassifier(**TINY, unlabeled_label=None).fit(X, y)
    assert clf.classes_.tolist() == [-1, 1]


def test_unlabeled_rows_shape_the_fit_through_their_features():
    X, y = make_blobs(200, centers=2, n_features=4, random_state=0)
    y_partial, keep = _semi_labeled(y, 5)
    unlabeled = np.setdiff1d(np.arange(200), keep)
    other_rows = np.random.default_rng(0).normal(size=(len(unlabeled), 4))
    # A head that reads the learned features: on blobs this far apart the
    # out-of-fold log-loss may choose the raw columns' regression alone
    # (raw_regression_weight_ 1), which the unlabeled rows do not touch.
    params = dict(TINY, raw_regression_weight=0.5)
    base = ContrastiveVAEClassifier(**params).fit(X, y_partial)
    # The same labeled rows; unlabeled rows with other values.
    X_other = X.copy()
    X_other[unlabeled] = other_rows
    moved = ContrastiveVAEClassifier(**params).fit(X_other, y_partial)
    # The labeled rows alone.
    alone = ContrastiveVAEClassifier(**params).fit(X[keep], y[keep])
    p = base.predict_proba(X)
    assert not np.allclose(p, moved.predict_proba(X))
    assert not np.allclose(p, alone.predict_proba(X))


def test_two_moons_unlabeled_rows_beat_the_labeled_rows_alone():
    """Ten labels on two moons: fine-tuning with consistency on the unlabeled
    rows propagates them along each moon, which the ten rows alone cannot."""
    X, y = make_moons(600, noise=0.1, random_state=0)
    X_test, y_test = make_moons(400, noise=0.1, random_state=1)
    y_partial, keep = _semi_labeled(y, 5)
    gains = []
    for seed in (1, 2):
        params = dict(
            n_components=64,  # hidden layers (32, 32)
            latent_dim=128,
            batch_size=64,
            max_epochs=10,
            fine_tune_epochs=60,
            noise_scale=0.3,
            confidence_threshold=0.7,
            consistency_weight=3.0,
            random_state=seed,
        )
        semi = ContrastiveVAEClassifier(**params).fit(X, y_partial)
        alone = ContrastiveVAEClassifier(**params).fit(X[keep], y[keep])
        gains.append(semi.score(X_test, y_test) - alone.score(X_test, y_test))
    assert np.mean(gains) > 0.03, gains


def test_fully_labeled_is_a_supervised_classifier():
    X, y = make_blobs(200, centers=3, random_state=0, cluster_std=0.5)
    clf = ContrastiveVAEClassifier(
        n_components=32,
        hidden_layer_sizes=(32,),
        latent_dim=128,
        max_epochs=40,
        random_state=0,
    ).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.supervised_loss_curve_ == []  # no fine-tuning by default
    tuned = clone(clf).set_params(fine_tune_epochs=5).fit(X, y)
    # Pre-training epochs, then the fine-tuning ones with the supervised term.
    assert len(tuned.supervised_loss_curve_) == 5
    assert len(tuned.loss_curve_) == tuned.n_iter_ == clf.n_iter_ + 5
    assert tuned.score(X, y) > 0.95


def test_score_ignores_unlabeled_rows():
    X, y = make_blobs(100, centers=2, random_state=0, cluster_std=0.5)
    clf = ContrastiveVAEClassifier(**TINY).fit(X, y)
    y_partial, keep = _semi_labeled(y, 20)
    assert clf.score(X, y_partial) == pytest.approx(clf.score(X[keep], y[keep]))
    assert np.isnan(clf.score(X, np.full(100, -1)))


def test_grid_search_scores_labeled_rows_of_each_split():
    X, y = make_blobs(150, centers=2, random_state=0, cluster_std=0.5)
    y_partial, _ = _semi_labeled(y, 30)
    grid = GridSearchCV(
        ContrastiveVAEClassifier(**{**TINY, "max_epochs": 40}),
        {"supervised_weight": [0.5, 2.0]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y_partial)
    scores = grid.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores > 0.8).all()
    assert grid.best_estimator_.classes_.tolist() == [0, 1]


def test_dataframe_with_categories_and_missing_values(mixed_frame):
    y = (mixed_frame["income"] > mixed_frame["income"].median()).to_numpy().astype(int)
    y_partial = np.where(np.arange(len(y)) % 3 == 0, y, -1)
    clf = ContrastiveVAEClassifier(**TINY).fit(mixed_frame, y_partial)
    proba = clf.predict_proba(mixed_frame)
    assert proba.shape == (len(mixed_frame), 2) and np.isfinite(proba).all()
    assert clf.feature_names_in_.tolist() == list(mixed_frame.columns)


def test_pickle_round_trip_and_determinism(mixed_frame):
    y = np.arange(len(mixed_frame)) % 2
    clf = ContrastiveVAEClassifier(**TINY).fit(mixed_frame, y)
    again = ContrastiveVAEClassifier(**TINY).fit(mixed_frame, y)
    np.testing.assert_array_equal(
        clf.predict_proba(mixed_frame), again.predict_proba(mixed_frame)
    )
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        loaded.predict_proba(mixed_frame), clf.predict_proba(mixed_frame)
    )


def test_global_random_state_and_threads_untouched():
    X, y = make_blobs(60, centers=2, random_state=0)
    global_numpy = np.random.get_state()[1].copy()  # noqa: NPY002
    states = (random.getstate(), global_numpy, torch.get_rng_state())
    threads = torch.get_num_threads()
    ContrastiveVAEClassifier(**{**TINY, "random_state": None}).fit(X, y)
    assert random.getstate() == states[0]
    np.testing.assert_array_equal(np.random.get_state()[1], states[1])  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.get_num_threads() == threads


def test_early_stopping_on_held_out_labeled_rows():
    X, y = make_blobs(300, centers=3, random_state=0)
    y_partial, _ = _semi_labeled(y, 30)
    clf = ContrastiveVAEClassifier(
        **TINY,
        fine_tune_epochs=20,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
    ).fit(X, y_partial)
    # Fine-tuning is monitored on the held-out labeled rows.
    assert 0 < len(clf.validation_loss_curve_) == len(clf.supervised_loss_curve_)
    assert clf.best_loss_ == min(clf.validation_loss_curve_)
    with pytest.raises(ValueError, match="labeled rows"):
        clone(clf).set_params(validation_fraction=0.5).fit(X, _semi_labeled(y, 1)[0])


@pytest.mark.parametrize(
    "y, match",
    [
        (np.full(40, -1), "no labeled row"),
        (np.r_[np.zeros(10), np.full(30, -1)], "single class"),
        (np.arange(39) % 2, "one label per row"),
        (np.linspace(0, 1, 40), "Unknown label type"),
    ],
)
def test_bad_labels_raise(y, match):
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match=match):
        ContrastiveVAEClassifier(**TINY).fit(X, y)


def test_predict_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ContrastiveVAEClassifier().predict(np.ones((2, 2)))


def test_classifier_parameters_in_a_pandas_frame_keep_order():
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0)[::-1]})
    clf = ContrastiveVAEClassifier(**TINY).fit(frame, np.arange(40) % 2)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[["b", "a"]])
