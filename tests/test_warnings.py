"""Warnings: what they say, and that they point at the caller's line.

``warn_at_caller`` attributes a warning to the first frame outside skssl and
scikit-learn: the line of this file that called ``fit``, whatever wraps it.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skssl import ContrastiveVAETransformer, RepresentationCollapseWarning
from tests._helpers import FAST

X_SMALL = np.random.default_rng(0).normal(size=(40, 3))
Y_SMALL = (X_SMALL[:, 0] > 0).astype(int)
ONE_EPOCH = {**FAST, "max_epochs": 1}


def _recorded(category, call):
    """The warnings of ``category`` that ``call()`` raises."""
    with pytest.warns(category) as record:
        call()
    return [w for w in record if issubclass(w.category, category)]


def test_convergence_warning_at_max_epochs():
    X, _ = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="max_epochs=2"):
            ContrastiveVAETransformer(**{**FAST, "max_epochs": 2}).fit(X)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: ContrastiveVAETransformer(**ONE_EPOCH).fit(X_SMALL), id="fit"
        ),
        pytest.param(
            lambda: ContrastiveVAETransformer(**ONE_EPOCH).fit_transform(X_SMALL),
            id="fit_transform",
        ),
        pytest.param(
            lambda: make_pipeline(
                StandardScaler(), ContrastiveVAETransformer(**ONE_EPOCH)
            ).fit(X_SMALL),
            id="pipeline-last-step",
        ),
        pytest.param(
            lambda: make_pipeline(
                StandardScaler(), ContrastiveVAETransformer(**ONE_EPOCH)
            ).fit_transform(X_SMALL),
            id="pipeline-fit_transform",
        ),
        pytest.param(
            lambda: Pipeline(
                [
                    ("ssl", ContrastiveVAETransformer(**ONE_EPOCH)),
                    ("clf", LogisticRegression()),
                ]
            ).fit(X_SMALL, Y_SMALL),
            id="pipeline-inner-step",
        ),
    ],
)
def test_convergence_warning_points_at_the_callers_line(call):
    (warning,) = _recorded(ConvergenceWarning, call)
    assert "max_epochs=1" in str(warning.message)
    assert warning.filename == __file__


def test_collapse_warning_points_at_the_callers_line():
    constant = np.ones((40, 3))  # every row embeds alike
    (warning,) = _recorded(
        RepresentationCollapseWarning,
        lambda: ContrastiveVAETransformer(**ONE_EPOCH).fit(constant),
    )
    assert "collapsed" in str(warning.message)
    assert warning.filename == __file__
    (warning,) = _recorded(
        RepresentationCollapseWarning,
        lambda: ContrastiveVAETransformer(**ONE_EPOCH).partial_fit(constant),
    )
    assert warning.filename == __file__


def test_partial_fit_does_not_warn_about_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ContrastiveVAETransformer(**ONE_EPOCH).partial_fit(X_SMALL)


def test_only_a_fixed_max_epochs_warns_when_the_budget_runs_out():
    # n_iter_no_change beyond the budget: the loss never counts as converged.
    never = {**FAST, "n_iter_no_change": 1000}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = ContrastiveVAETransformer(**{**never, "max_epochs": "auto"})
        auto.fit(X_SMALL)
    # The budget "auto" chose ran out, which n_iter_ shows, without a warning.
    assert auto.n_iter_ == auto.max_epochs_ == 100
    with pytest.warns(ConvergenceWarning, match="max_epochs=100"):
        ContrastiveVAETransformer(**{**never, "max_epochs": 100}).fit(X_SMALL)


def test_a_default_fit_prints_no_warning():
    # 300 rows of digits: the default fit (100 epochs) used up the budget
    # "auto" chose under a constant rate (and warned about it before the
    # policy above); under the cosine schedule the training loss stops
    # improving as the rate reaches 0, a little before the budget ends.
    X, _ = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = ContrastiveVAETransformer(random_state=0).fit(X[:300])
    assert est.max_epochs_ == 100 and est.n_iter_ > 50


def test_a_default_grid_search_prints_no_warning():
    X, y = load_digits(return_X_y=True)
    pipe = Pipeline(
        [
            ("ssl", ContrastiveVAETransformer(random_state=0)),
            ("clf", LogisticRegression()),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search = GridSearchCV(pipe, {"ssl__temperature": [0.2, 0.5]}, cv=2)
        search.fit(X[:150], y[:150])
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
