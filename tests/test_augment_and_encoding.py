"""SCARF corruption, minibatching and the table encoding, tested directly."""

import numpy as np
import pandas as pd
import pytest
import torch

from skssl._augment import corrupt, n_corrupted_columns
from skssl._encoding import (
    MISSING_CODE,
    RARE_CODE,
    TabularEncoder,
    resolve_categorical_mask,
)
from skssl._training_data import Batch, minibatch_indices


def _batch(n_rows, n_numeric, n_categorical, offset):
    numeric = torch.arange(n_rows * n_numeric, dtype=torch.float32).reshape(
        n_rows, n_numeric
    )
    categorical = torch.arange(n_rows * n_categorical).reshape(n_rows, n_categorical)
    return Batch(
        numeric=numeric + offset,
        observed=torch.ones(n_rows, n_numeric, dtype=torch.bool),
        categorical=categorical + int(offset),
    )


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.9, 1.0])
def test_scarf_replaces_exactly_floor_rate_times_columns(rate):
    batch = _batch(64, 6, 4, offset=0)
    pool = _batch(50, 6, 4, offset=10_000)  # values disjoint from the batch's
    generator = torch.Generator().manual_seed(0)
    view = corrupt(batch, pool, rate, noise_scale=0.0, generator=generator)
    replaced = torch.cat(
        [view.numeric != batch.numeric, view.categorical != batch.categorical], dim=1
    )
    expected = n_corrupted_columns(rate, 10)
    assert expected == int(np.floor(rate * 10 + 1e-9))
    assert (replaced.sum(dim=1) == expected).all()
    # Replacements come from the same column of some pool row (the marginal).
    for j in range(6):
        donors = view.numeric[replaced[:, j], j]
        assert torch.isin(donors, pool.numeric[:, j]).all()
    for j in range(4):
        donors = view.categorical[replaced[:, 6 + j], j]
        assert torch.isin(donors, pool.categorical[:, j]).all()


def test_scarf_replaced_numeric_entries_take_the_donors_missing_flag():
    batch = _batch(300, 7, 3, offset=0)
    pool = _batch(40, 7, 3, offset=10_000)
    pool.numeric[:] = 0.0  # every numeric pool entry missing
    pool.observed[:] = False
    view = corrupt(batch, pool, 0.5, noise_scale=0.0, generator=torch.Generator())
    replaced_numeric = ~view.observed
    # Only replaced entries changed, and they carry the donor's value and flag.
    assert (view.numeric[replaced_numeric] == 0).all()
    assert (view.numeric[~replaced_numeric] == batch.numeric[~replaced_numeric]).all()
    replaced_categorical = view.categorical != batch.categorical
    counts = replaced_numeric.sum(dim=1) + replaced_categorical.sum(dim=1)
    assert (counts == n_corrupted_columns(0.5, 10)).all()
    # Both column groups are chosen, in proportion to their widths.
    share = replaced_numeric.sum() / counts.sum()
    assert 0.6 < share < 0.8  # 7 of 10 columns are numeric


def test_scarf_columns_are_uniformly_chosen():
    batch = _batch(4000, 5, 0, offset=0)
    pool = _batch(100, 5, 0, offset=10_000)
    view = corrupt(batch, pool, 0.4, 0.0, torch.Generator().manual_seed(1))
    frequency = (view.numeric != batch.numeric).float().mean(dim=0)
    np.testing.assert_allclose(frequency.numpy(), 0.4, atol=0.03)


def _with_complete(batch, complete):
    return Batch(batch.numeric, batch.observed, batch.categorical, complete)


def test_scarf_on_complete_rows_skips_the_flags_with_the_same_result():
    batch = _batch(300, 7, 3, offset=0)
    pool = _batch(40, 7, 3, offset=10_000)
    views = [
        corrupt(
            _with_complete(batch, complete),
            _with_complete(pool, complete),
            0.5,
            noise_scale=0.3,
            generator=torch.Generator().manual_seed(3),
        )
        for complete in (False, True)
    ]
    assert views[1].complete and not views[0].complete
    for field in ("numeric", "observed", "categorical"):
        assert torch.equal(getattr(views[0], field), getattr(views[1], field))
    assert (views[1].numeric != batch.numeric).any()


@pytest.mark.parametrize("complete_side", ["pool", "batch"])
def test_scarf_gathers_the_flags_unless_rows_and_pool_are_both_complete(
    complete_side,
):
    batch = _batch(300, 7, 3, offset=1)  # no numeric 0 in the rows
    pool = _batch(40, 7, 3, offset=10_000)
    # The side not known to be complete has every numeric entry missing.
    incomplete = batch if complete_side == "pool" else pool
    incomplete.numeric[:] = 0.0
    incomplete.observed[:] = False
    batch = _with_complete(batch, complete_side == "batch")
    pool = _with_complete(pool, complete_side == "pool")
    view = corrupt(batch, pool, 0.5, noise_scale=0.0, generator=torch.Generator())
    assert not view.complete
    # A numeric entry's flag is its donor's where it was replaced, else its own.
    replaced = view.numeric != batch.numeric
    if complete_side == "pool":
        assert torch.equal(view.observed, replaced)
    else:
        assert torch.equal(view.observed, ~replaced)
    assert replaced.any() and not replaced.all()


def test_zero_corruption_rate_switches_augmentation_off():
    batch = _batch(8, 3, 2, offset=0)
    view = corrupt(batch, batch, 0.0, noise_scale=1.0, generator=torch.Generator())
    assert view is batch


def test_noise_only_on_observed_numeric_entries():
    batch = _batch(200, 3, 0, offset=0)
    batch.observed[:, 1] = False
    view = corrupt(batch, batch, 0.01, noise_scale=0.5, generator=torch.Generator())
    difference = view.numeric - batch.numeric
    assert (difference[:, 1] == 0).all()
    assert 0.3 < difference[:, 0].std() < 0.7


def test_minibatches_cover_every_row_once_without_tiny_batches():
    parts = minibatch_indices(1030, 256, torch.Generator().manual_seed(0), "cpu")
    assert len(parts) == 4
    assert sorted(torch.cat(parts).tolist()) == list(range(1030))
    assert min(len(p) for p in parts) >= 256


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
