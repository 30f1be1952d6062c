"""Tabular augmentations, applied to whole minibatches on the training device.

SCARF corruption (Bahri et al., arXiv 2106.15147): every row gets exactly
``floor(corruption_rate * M)`` of its ``M`` raw columns replaced by a draw from
that column's empirical marginal, i.e. the value of the same column in a
uniformly drawn training row. Numeric columns additionally get Gaussian noise
(in standardised units). Everything is vectorised: no Python loop over rows or
columns, and all random numbers come from the caller's ``torch.Generator``.
"""

import math

import torch

from ._training_data import Batch

# Distinct values of the column scores: torch.rand's float32 resolution.
SCORE_LEVELS = 1 << 24


def n_corrupted_columns(corruption_rate, n_columns):
    """Number of columns SCARF replaces in each row."""
    return int(math.floor(corruption_rate * n_columns + 1e-9))


def corrupt(batch, pool, corruption_rate, noise_scale, generator):
    """Return an augmented copy of ``batch``.

    Parameters
    ----------
    batch : Batch
        The rows to augment.
    pool : Batch
        Rows whose column values form the empirical marginals.
    corruption_rate : float
        Fraction of raw columns replaced in each row. ``0`` disables all
        augmentation (the batch is returned unchanged).
    noise_scale : float
        Standard deviation of the Gaussian noise added to numeric columns.
    generator : torch.Generator
    """
    if corruption_rate == 0:
        return batch
    n_rows = batch.numeric.shape[0]
    n_numeric = batch.numeric.shape[1]
    n_columns = n_numeric + batch.categorical.shape[1]
    device = batch.numeric.device
    numeric, observed, categorical = batch.numeric, batch.observed, batch.categorical
    # Without a missing entry in the rows or the pool, every observed flag is
    # and stays True: skip gathering flags and masking the noise (the same
    # result, cheaper on a wide table).
    complete = batch.complete and pool.complete

    k = n_corrupted_columns(corruption_rate, n_columns)
    if k > 0:
        # The k smallest of M uniform scores per row give a uniformly random
        # subset of exactly k columns; only those k entries are gathered from
        # the pool and written, not all M. The scores are 24-bit integers:
        # torch.rand's float32 keeps the same 24 bits of each draw (on the
        # CPU the very same draws, so the same subsets), but integer topk is
        # faster there, where its branches on random data dominate
        # (docs/scale.md).
        scores = torch.randint(
            SCORE_LEVELS,
            (n_rows, n_columns),
            generator=generator,
            device=device,
            dtype=torch.int32,
        )
        columns = scores.topk(k, dim=1, largest=False, sorted=False).indices
        donors = torch.randint(
            pool.n_samples, (n_rows, k), generator=generator, device=device
        )
        if n_numeric:
            numeric = _replace(numeric, pool.numeric, columns, donors, 0, n_columns)
            if not complete:
                observed = _replace(
                    observed, pool.observed, columns, donors, 0, n_columns
                )
        if n_columns > n_numeric:
            categorical = _replace(
                categorical, pool.categorical, columns, donors, n_numeric, n_columns
            )
    if noise_scale > 0 and n_numeric:
        noise = torch.randn(
            numeric.shape, generator=generator, device=device, dtype=numeric.dtype
        )
        noise = noise_scale * noise
        numeric = numeric + (noise if complete else noise * observed)
    return Batch(numeric, observed, categorical, complete)


def _replace(values, pool_values, columns, donors, first, n_columns):
    """Write pool draws into the chosen entries of one column group.

    ``values`` holds columns ``first, first + 1, ...`` of a table of
    ``n_columns`` columns. For each chosen ``columns[i, j]`` among them, entry
    ``i`` of that column becomes the same column's value in pool row
    ``donors[i, j]``; chosen columns of the other group are left alone.
    """
    width = values.shape[1]
    local = columns - first
    # Flat indices into the row-major pool: take() is a plain gather.
    drawn = pool_values.reshape(-1).take(donors * width + local.clamp(0, width - 1))
    if width == n_columns:  # one group only: every chosen column is in it
        return values.scatter(1, local, drawn)
    # Decided from shapes, not data, so a GPU never waits on the host.
    # Chosen columns of the other group write to a scratch column, dropped.
    target = torch.where((local >= 0) & (local < width), local, width)
    padded = torch.cat([values, values[:, :1]], dim=1)
    return padded.scatter_(1, target, drawn)[:, :width]
