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

    k = n_corrupted_columns(corruption_rate, n_columns)
    if k > 0:
        # The k smallest of M uniform scores per row give a uniformly random
        # subset of exactly k columns.
        scores = torch.rand(n_rows, n_columns, generator=generator, device=device)
        threshold = scores.kthvalue(k, dim=1, keepdim=True).values
        replace = scores <= threshold
        donors = torch.randint(
            pool.n_samples, (n_rows, n_columns), generator=generator, device=device
        )
        if n_numeric:
            replace_num = replace[:, :n_numeric]
            donor_num = donors[:, :n_numeric]
            # Flat indices into the row-major pool: take() is a plain gather,
            # cheaper than two-tensor advanced indexing.
            flat = donor_num * n_numeric + torch.arange(n_numeric, device=device)
            numeric = torch.where(
                replace_num, pool.numeric.reshape(-1).take(flat), numeric
            )
            observed = torch.where(
                replace_num, pool.observed.reshape(-1).take(flat), observed
            )
        if n_columns > n_numeric:
            replace_cat = replace[:, n_numeric:]
            donor_cat = donors[:, n_numeric:]
            n_categorical = n_columns - n_numeric
            flat = donor_cat * n_categorical + torch.arange(
                n_categorical, device=device
            )
            categorical = torch.where(
                replace_cat, pool.categorical.reshape(-1).take(flat), categorical
            )
    if noise_scale > 0 and n_numeric:
        noise = torch.randn(
            numeric.shape, generator=generator, device=device, dtype=numeric.dtype
        )
        numeric = numeric + noise_scale * noise * observed
    return Batch(numeric=numeric, observed=observed, categorical=categorical)
