"""Warnings: what they say, and that they point at the caller's line.

``warn_at_caller`` attributes a warning to the first frame outside skssl and
scikit-learn: the line of this file that called ``fit``, whatever wraps it.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
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
