"""SCARF corruption (skssl._augment), tested directly."""

import numpy as np
import pytest
import torch

from skssl._augment import corrupt, n_corrupted_columns
from skssl._training_data import Batch


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
