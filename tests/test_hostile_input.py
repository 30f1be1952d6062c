"""Hostile input: extreme finite values, huge integers, complex and nested cells.

One test per finding of issue 17 (values beyond 1e154, ints beyond float64,
complex columns, inference near the float64 limit, NaN scores, lists and
dicts in object columns and frames without columns, row independence), then
the same input through partial_fit, mixed precision, host-streamed data,
early stopping and the classifier.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer
from skssl._encoding import TRAINING_LIMIT, _column_statistics
from skssl.training import TrainingSession
from tests._helpers import (
    REPRODUCER,
    fit_with,
    make_mixed_frame,
    with_representation,
)

TINY = REPRODUCER
FLOAT_MAX = float(np.finfo(np.float64).max)

pytestmark = pytest.mark.usefixtures("quiet")


def _assert_finite_output(est, X, width=8):
    Z = est.transform(X)
    assert Z.dtype == np.float64 and Z.shape == (len(X), width)
    assert np.isfinite(Z).all()
    return Z


def _frame_with_one_extreme_cell(value, n=50):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame.loc[7, "a"] = value
    return frame


# ------------------------------------------------- 1. values beyond 1e154
@pytest.mark.parametrize(
    "column",
    [
        [0.0, 0.0, 0.0, 1e300],  # the issue's: a missing-value marker
        [0.0, 1.0, 2.0, FLOAT_MAX],
        [FLOAT_MAX, FLOAT_MAX, -FLOAT_MAX, 0.0],  # the sum overflows too
        [-FLOAT_MAX] + [FLOAT_MAX] * 6,  # so does x - mean
        [1e300] * 7,  # constant, but its mean is not exactly 1e300
        [1e300, 1e300, 1e300 * (1 + 1e-15), 1e300],  # constant up to rounding
    ],
)
def test_finite_values_beyond_1e154_train_without_diverging(column):
    X = np.array(column)[:, None]
    est = ContrastiveVAETransformer(**TINY).fit(X)
    mean, scale = est.table_encoder_.mean_[0], est.table_encoder_.scale_[0]
    assert np.isfinite(mean) and np.isfinite(scale) and scale > 0
    assert np.isfinite(est.loss_curve_).all()
    _assert_finite_output(est, X)
    encoded = est.table_encoder_.transform(X, dtype=np.float32).numeric
    assert np.abs(encoded).max() <= np.sqrt(len(X))  # standardised, not huge


def test_statistics_of_huge_columns_are_those_of_the_column_scaled():
    values = np.array([0.0, 0.0, 0.0, 1e300, np.nan])
    mean, scale, has_missing = _column_statistics(values)
    assert mean == pytest.approx(2.5e299, rel=1e-15)
    assert scale == pytest.approx(1e300 * np.std([0.0, 0.0, 0.0, 1.0]), rel=1e-15)
    assert has_missing
    # Ordinary columns: the plain statistics, bit for bit.
    ordinary = np.random.default_rng(0).normal(size=100)
    assert _column_statistics(ordinary)[:2] == (ordinary.mean(), ordinary.std())
    assert _column_statistics(np.full(5, 0.1))[1] == 1.0


def test_an_extreme_cell_in_a_frame_trains():
    for value in (1e300, FLOAT_MAX, -1.7e308):
        frame = _frame_with_one_extreme_cell(value)
        est = ContrastiveVAETransformer(**{**TINY, "max_epochs": 3}).fit(frame)
        _assert_finite_output(est, frame)


# ------------------------------------------- 2. ints beyond float64
def test_python_ints_beyond_float64_name_the_column():
    with pytest.raises(ValueError, match="Column 'x0' holds a number too large"):
        ContrastiveVAETransformer(**TINY).fit([[10**400], [1], [2]])
    frame = pd.DataFrame(
        {"big": pd.Series([10**400, 1, 2], dtype=object), "c": list("aba")}
    )
    with pytest.raises(ValueError, match="Column 'big' holds a number too large"):
        ContrastiveVAETransformer(**TINY, categorical_features=["c"]).fit(frame)
    est = ContrastiveVAETransformer(**TINY, categorical_features=[1]).fit(
        [[1, "a"], [2, "b"], [3, "a"]]
    )
    with pytest.raises(ValueError, match="Column '0' holds a number too large"):
        est.transform([[-(10**400), "a"]])
    # Within float64 (2**64 and beyond), big ints are numbers like any other.
    est = ContrastiveVAETransformer(**TINY).fit([[2**70], [1], [2]])
    _assert_finite_output(est, [[2**70], [1], [2]])


# ---------------------------------------------------- 3. complex columns
def test_complex_columns_are_refused_on_both_paths_naming_the_column():
    z = [1 + 1j, 2 + 5j, 3 - 1j, 4 + 0j]
    mixed = pd.DataFrame({"z": z, "c": list("abab")})
    numeric = pd.DataFrame({"x": [1.0, 2, 3, 4], "z": z})
    for frame in (mixed, numeric):
        with pytest.raises(ValueError, match="Complex data not supported: column 'z'"):
            ContrastiveVAETransformer(**TINY).fit(frame)
    for X in (np.array(z)[:, None], sparse.csr_matrix(np.array(z)[:, None])):
        with pytest.raises(ValueError, match="Complex data not supported: column 'x0'"):
            ContrastiveVAETransformer(**TINY).fit(X)
    # At transform time too, after a fit on real numbers.
    est = ContrastiveVAETransformer(**TINY).fit(mixed.assign(z=[1.0, 2, 3, 4]))
    with pytest.raises(ValueError, match="column 'z'"):
        est.transform(mixed)


# ---------------------------------- 4. inference near the float64 limit
def test_transform_near_the_float64_limit_is_finite_or_a_clear_error():
    rng = np.random.default_rng(0)
    for spread in (0.1, 3.0):  # scales below 1 overflow the standardisation
        X = rng.normal(size=(40, 3)) * spread
        est = ContrastiveVAETransformer(**TINY).fit(X)
        for representation, width in (("hidden", 8), ("latent", 2)):
            with_representation(est, representation)
            try:
                _assert_finite_output(est, np.full((2, 3), 1.7e308), width)
            except ValueError as error:
                assert "'x0'" in str(error) and "float64" in str(error)


def test_rows_whose_representation_overflows_raise_naming_row_and_column():
    X = np.random.default_rng(0).normal(size=(40, 3))
    est = ContrastiveVAETransformer(**TINY).fit(X)
    with torch.no_grad():  # networks whose products overflow float64
        est.model_.encoder.body[0].weight.mul_(1e30)  # (float32 weights)
    rows = np.array([[0.1, 0.2, -0.1], [1e300, 0.0, 0.0]])
    with pytest.raises(ValueError, match="row 1 of X overflows float64.*'x0'"):
        est.transform(rows)
    assert np.isfinite(est.transform(rows[:1])).all()  # the ordinary row is fine


# --------------------------------------------------- 5. NaN-free scores
def test_score_samples_is_never_nan():
    rng = np.random.default_rng(0)
    for spread in (0.1, 3.0):
        est = ContrastiveVAETransformer(**TINY).fit(rng.normal(size=(20, 3)) * spread)
        try:
            assert not np.isnan(est.score_samples(np.full((2, 3), 1.7e308))).any()
        except ValueError as error:  # the standardisation overflows
            assert spread < 1 and "Column 'x" in str(error)
    frame = make_mixed_frame(40)
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    hostile = frame.copy()
    hostile.loc[0, "income"] = 1e200
    scores = est.score_samples(hostile)
    assert scores[0] == -np.inf and np.isfinite(scores[1:]).all()
    with torch.no_grad():  # overflow inside the networks: inf - inf
        est.model_.encoder.body[0].weight.mul_(1e30)
    hostile.loc[1, "age"] = 1e300
    assert not np.isnan(est.score_samples(hostile)).any()


def test_inverse_transform_of_overflowing_codes_raises():
    latent = {**TINY, "representation": "latent", "n_components": 2, "latent_dim": None}
    est = ContrastiveVAETransformer(**latent).fit(
        np.random.default_rng(0).normal(size=(20, 3))
    )
    with torch.no_grad():
        est.model_.decoder.out.weight.mul_(1e30)
    Z = np.array([[0.1, -0.2], [1e300, 1e300]])
    with pytest.raises(ValueError, match="decoding of row 1 overflows float64"):
        est.inverse_transform(Z)
    assert np.isfinite(est.inverse_transform(Z[:1])).all()


# -------------------------- 6. nested cells, frames without columns
@pytest.mark.parametrize(
    "cells, kind",
    [([[1], [2], [1], [3]], "list"), ([{"x": 1}, {}, {}, {"y": 2}], "dict")],
)
def test_unhashable_categories_name_the_column(cells, kind):
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "nested": cells})
    with pytest.raises(TypeError, match=f"Column 'nested' holds a {kind}"):
        ContrastiveVAETransformer(**TINY).fit(frame)
    est = ContrastiveVAETransformer(**TINY).fit(frame.assign(nested=list("abab")))
    with pytest.raises(TypeError, match=f"Column 'nested' holds a {kind}"):
        est.transform(frame)
    # On the numeric path (an object array), the column is named too.
    X = np.empty((4, 2), dtype=object)
    X[:, 0], X[:, 1] = [1.0, 2, 3, 4], cells
    with pytest.raises((TypeError, ValueError), match="column 'x1'"):
        ContrastiveVAETransformer(**TINY).fit(X)


def test_tuples_are_categories():
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "t": [(1, 2), (3, 4), (1, 2), (5,)]})
    frame["t"] = frame["t"].astype(object)
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    assert est.table_encoder_.categories_[0].shape == (3,)
    codes = est.table_encoder_.transform(frame).categorical[:, 0]
    assert codes[0] == codes[2] != codes[1]


def test_a_frame_without_columns_says_so():
    for X in (pd.DataFrame(index=range(4)), np.empty((4, 0))):
        with pytest.raises(ValueError, match="0 feature"):
            ContrastiveVAETransformer(**TINY).fit(X)
    with pytest.raises(ValueError, match="no columns"):
        ContrastiveVAETransformer(**TINY).fit(pd.DataFrame(index=range(4)))


def test_ragged_lists_say_so():
    with pytest.raises(ValueError, match="rows differ in length"):
        ContrastiveVAETransformer(**TINY).fit([[1.0, 2.0], [3.0]])


# ------------------------------------------------- 7. row independence
def test_a_rows_output_does_not_depend_on_the_other_rows():
    """Bit for bit, a row's output does not depend on the other rows' values;
    its position in the batch and the batch's size change the last bits
    only (the matrix products' blocking: README, docs/estimator.md)."""
    X, other = make_mixed_frame(120), make_mixed_frame(120, seed=1)
    est = ContrastiveVAETransformer(
        n_components=96,
        hidden_layer_sizes=(64, 32),
        latent_dim=16,
        max_epochs=1,
        random_state=0,
    ).fit(X)
    for representation in ("hidden", "latent"):
        with_representation(est, representation)
        full = est.transform(X)
        for k in (1, 2, 3, 5, 8, 13, 64):
            i = k // 2
            mixed = other.iloc[:k].copy()
            mixed.iloc[i] = X.iloc[i]
            np.testing.assert_array_equal(
                est.transform(mixed)[i], est.transform(X.iloc[:k])[i]
            )
            for start in (0, 3, 50):
                np.testing.assert_allclose(
                    est.transform(X.iloc[start : start + k]),
                    full[start : start + k],
                    rtol=1e-12,
                    atol=1e-12,
                )
    scores = est.score_samples(X)
    mixed = other.iloc[:3].copy()
    mixed.iloc[1] = X.iloc[1]
    assert est.score_samples(mixed)[1] == est.score_samples(X.iloc[:3])[1]
    np.testing.assert_allclose(est.score_samples(X.iloc[5:8]), scores[5:8], rtol=1e-12)


# ------------------------------ the training modes under hostile input
def _hostile_frame(n=40):
    frame = make_mixed_frame(n)
    frame.loc[3, "age"] = 1e300
    frame.loc[5, "income"] = FLOAT_MAX
    frame["marker"] = np.where(np.arange(n) % 9 == 0, 1e300, 0.0)
    return frame


def test_partial_fit_under_hostile_input():
    frame = _hostile_frame()
    est = ContrastiveVAETransformer(**TINY).partial_fit(frame).partial_fit(frame)
    _assert_finite_output(est, frame)
    # A later chunk far outside the first one's scale is refused, naming the
    # column, and the estimator keeps what the earlier calls trained.
    ordinary = make_mixed_frame(40).assign(marker=0.5)
    est = ContrastiveVAETransformer(**TINY).partial_fit(ordinary)
    before = est.transform(ordinary)
    with pytest.raises(ValueError, match="Column 'marker'.*standard deviations"):
        est.partial_fit(frame)
    assert est.n_iter_ == 1
    np.testing.assert_array_equal(est.transform(ordinary), before)
    scale = est.table_encoder_.scale_[-1]
    with pytest.raises(ValueError, match="beyond the 1e\\+18"):
        est.partial_fit(ordinary.assign(marker=2 * TRAINING_LIMIT * scale))


def test_mixed_precision_under_hostile_input():
    frame = _hostile_frame()
    est = ContrastiveVAETransformer(**{**TINY, "max_epochs": 2}, mixed_precision=True)
    _assert_finite_output(est.fit(frame), frame)


def test_streamed_data_under_hostile_input():
    frame = _hostile_frame()
    resident = ContrastiveVAETransformer(**{**TINY, "max_epochs": 2}).fit(frame)
    streamed = ContrastiveVAETransformer(**{**TINY, "max_epochs": 2})
    fit_with(streamed, frame, TrainingSession.from_estimator(streamed, device_rows=8))
    _assert_finite_output(streamed, frame)
    _assert_finite_output(resident, frame)
    with pytest.raises(ValueError, match="Column 'x0' holds a number too large"):
        fit_with(
            ContrastiveVAETransformer(**TINY),
            [[10**400], [1], [2], [3]],
            TrainingSession.from_estimator(streamed, device_rows=2),
        )


def test_early_stopping_under_hostile_input():
    frame = _hostile_frame(60)
    est = ContrastiveVAETransformer(
        **{**TINY, "max_epochs": 6}, early_stopping=True, n_iter_no_change=2
    ).fit(frame)
    assert np.isfinite(est.validation_loss_curve_).all()
    _assert_finite_output(est, frame)


def test_the_classifier_under_hostile_input():
    frame = _hostile_frame(60)
    y = np.where(np.arange(60) % 3 == 0, -1, np.arange(60) % 2)
    for params in ({}, {"early_stopping": True, "max_epochs": 4}):
        clf = ContrastiveVAEClassifier(**{**TINY, **params}).fit(frame, y)
        proba = clf.predict_proba(frame)
        assert proba.shape == (60, 2) and np.isfinite(proba).all()
    hostile = frame.copy()
    hostile.loc[0, "marker"] = 1.7e308
    try:
        assert np.isfinite(clf.predict_proba(hostile)).all()
    except ValueError as error:
        assert "row 0" in str(error) or "'marker'" in str(error)
    for bad, match in (
        (frame.assign(z=1 + 1j), "Complex data not supported: column 'z'"),
        (frame.assign(l=[[i] for i in range(60)]), "Column 'l' holds a list"),
        (pd.DataFrame(index=range(60)), "no columns"),
    ):
        with pytest.raises((TypeError, ValueError), match=match):
            ContrastiveVAEClassifier(**TINY).fit(bad, y)
    with pytest.raises(ValueError, match="Column 'x0' holds a number too large"):
        ContrastiveVAEClassifier(**TINY).fit([[10**400], [1], [2]], [0, 1, -1])
