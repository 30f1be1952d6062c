"""The table encoding (skssl._encoding): vocabularies, standardisation, missing."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer
from skssl._encoding import (
    MISSING_CODE,
    RARE_CODE,
    TabularEncoder,
    resolve_categorical_mask,
)
from tests._helpers import FAST


def test_encoder_vocabulary_is_bounded_and_deterministic():
    labels = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"]
    frame = pd.DataFrame({"c": pd.Series(labels, dtype=object)})
    encoder = TabularEncoder(np.array([True]), max_categories=2).fit(frame)
    # Ties ("b" and "c") are broken by the label, not by row order.
    assert encoder.categories_[0].tolist() == ["a", "b"]
    shuffled = TabularEncoder(np.array([True]), max_categories=2).fit(frame[::-1])
    assert shuffled.categories_[0].tolist() == ["a", "b"]
    codes = encoder.transform(
        pd.DataFrame({"c": pd.Series(["a", "c", None, "zzz"], dtype=object)})
    ).categorical[:, 0]
    assert codes.tolist() == [2, RARE_CODE, MISSING_CODE, RARE_CODE]


def test_encoder_numeric_statistics_and_missing():
    X = np.array([[1.0, 5.0], [3.0, np.nan], [5.0, 5.0]])
    encoder = TabularEncoder(np.zeros(2, dtype=bool), 10).fit(X)
    np.testing.assert_allclose(encoder.mean_, [3.0, 5.0])
    # A constant column keeps scale 1 instead of dividing by zero.
    np.testing.assert_allclose(encoder.scale_, [np.std([1, 3, 5]), 1.0])
    encoded = encoder.transform(X)
    assert encoded.observed.tolist() == [[True, True], [True, False], [True, True]]
    assert encoded.numeric[1, 1] == 0.0
    assert encoder.missing_indicator_index_.tolist() == [1]


def test_encoder_statistics_and_float32_encoding_match_whole_table_arithmetic():
    # The encoder works column by column (bounded memory); its statistics and
    # output must be those of the whole-table formulas.
    rng = np.random.default_rng(0)
    X = rng.normal(100.0, 3.0, size=(500, 4))
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 2] = 7.0  # constant
    X[:, 3] = np.nan  # all missing
    encoder = TabularEncoder(np.zeros(4, dtype=bool), 10).fit(X)
    np.testing.assert_allclose(encoder.mean_[:2], np.nanmean(X[:, :2], axis=0))
    np.testing.assert_allclose(encoder.scale_[:2], np.nanstd(X[:, :2], axis=0))
    assert encoder.mean_[2:].tolist() == [7.0, 0.0]
    assert encoder.scale_[2:].tolist() == [1.0, 1.0]
    assert encoder.missing_indicator_index_.tolist() == [0, 1, 3]

    as_float64 = encoder.transform(X)
    expected = np.where(np.isnan(X), 0.0, (X - encoder.mean_) / encoder.scale_)
    np.testing.assert_array_equal(as_float64.numeric, expected)
    np.testing.assert_array_equal(as_float64.observed, ~np.isnan(X))
    # Training's float32 encoding is the float64 one rounded once.
    as_float32 = encoder.transform(X, dtype=np.float32)
    assert as_float32.numeric.dtype == np.float32
    np.testing.assert_array_equal(
        as_float32.numeric, as_float64.numeric.astype(np.float32)
    )
    np.testing.assert_array_equal(as_float32.observed, as_float64.observed)


def test_encoder_names_the_column_holding_infinity():
    X = np.zeros((4, 3))
    X[2, 1] = np.inf
    encoder = TabularEncoder(np.zeros(3, dtype=bool), 10).fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="infinity in column 'x1'"):
        encoder.transform(X)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="infinity in column 'b'"):
        TabularEncoder(np.zeros(3, dtype=bool), 10).fit(frame)


def test_categorical_mask_resolution():
    frame = pd.DataFrame(
        {"n": [1.0], "c": pd.Categorical(["x"]), "o": ["y"], "b": [True]}
    )
    names = np.array(frame.columns, dtype=object)
    auto = resolve_categorical_mask(frame, "auto", 4, names)
    assert auto.tolist() == [False, True, True, True]
    assert resolve_categorical_mask(frame, ["n"], 4, names).tolist() == [
        True,
        False,
        False,
        False,
    ]
    assert resolve_categorical_mask(np.ones((1, 3)), [0, 2], 3, None).tolist() == [
        True,
        False,
        True,
    ]
    assert not resolve_categorical_mask(np.ones((1, 3)), "auto", 3, None).any()
    with pytest.raises(ValueError, match="out of range"):
        resolve_categorical_mask(np.ones((1, 3)), [5], 3, None)
    with pytest.raises(ValueError, match="shape"):
        resolve_categorical_mask(np.ones((1, 3)), [True, False], 3, None)


def test_high_cardinality_column_is_bounded():
    rng = np.random.RandomState(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "user_id": [f"id{i}" for i in rng.permutation(n)],
            "x": rng.normal(size=n),
        }
    )
    est = ContrastiveVAETransformer(max_categories=20, **FAST).fit(frame)
    assert est.table_encoder_.cardinalities_.tolist() == [22]
    assert est.model_.encoder.input_layer.embedding.num_embeddings == 22
    assert est.model_.decoder.max_cardinality == 22


def test_standardisation_uses_fit_statistics():
    rng = np.random.RandomState(0)
    X = 100 + 0.01 * rng.normal(size=(50, 3))
    est = ContrastiveVAETransformer(**FAST).fit(X)
    np.testing.assert_allclose(est.table_encoder_.mean_, X.mean(axis=0))
    encoded = est.table_encoder_.transform(X).numeric
    np.testing.assert_allclose(encoded.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(encoded.std(axis=0), 1, atol=1e-9)


def test_missing_values_never_reach_the_network():
    X, _ = load_breast_cancer(return_X_y=True)
    X = X[:100].copy()
    X[::7, 2] = np.nan
    X[:, 5] = np.nan  # an all-missing column
    est = ContrastiveVAETransformer(**FAST).fit(X)
    assert np.isfinite(est.loss_curve_).all()
    assert np.isfinite(est.transform(X)).all()
    # A missing entry does not change the reconstruction score: it is not scored.
    X2 = X.copy()
    X2[0, 5] = np.nan
    np.testing.assert_allclose(est.score_samples(X2), est.score_samples(X))
