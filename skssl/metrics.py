"""Diagnostics of learned embeddings: alignment, uniformity, collapse, and how
much a representation changed (linear CKA).

Every function accepts numpy arrays (or anything ``numpy.asarray`` takes) and
torch tensors (detached and moved to the CPU here), computes in float64 numpy
and returns Python floats.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp

#: Default threshold of :func:`is_collapsed`: the embeddings are collapsed when
#: their effective rank is below this fraction of ``n_components``.
RANK_RATIO_THRESHOLD = 0.2
#: Default threshold of :func:`is_collapsed`: the embeddings are collapsed when
#: their total variance is below this fraction of their mean squared norm.
VARIANCE_THRESHOLD = 1e-6

#: :func:`collapse_report` computes the uniformity (quadratic in the number of
#: rows) on at most this many evenly spaced rows.
MAX_UNIFORMITY_SAMPLES = 4096

_EPS = 1e-12


def _as_array(z):
    """Float64 numpy array of shape (n, d) from an array or a torch tensor."""
    if hasattr(z, "detach") and hasattr(z, "cpu"):  # a torch tensor
        z = z.detach().cpu().double().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"Expected a 2-D array of embeddings, got shape {z.shape}.")
    return z


def _normalize(z):
    """Rows scaled to unit L2 norm (zero rows stay zero, as ``F.normalize``)."""
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.maximum(norms, _EPS)


def alignment(z1: ArrayLike, z2: ArrayLike, alpha: float = 2) -> float:
    """Alignment loss of Wang & Isola (ICML 2020, arXiv:2005.10242).

    ``mean_i ||x_i - y_i||_2 ** alpha`` with ``x = z1``, ``y = z2`` rows
    L2-normalised. 0 when the two views coincide; at most ``2 ** alpha``
    (antipodal views). Lower is better aligned.

    Parameters
    ----------
    z1, z2 : array-like or Tensor of shape (n, d)
        Embeddings of the two views; row ``i`` of both is sample ``i``.
    alpha : float, default=2

    Returns
    -------
    float
    """
    z1, z2 = _normalize(_as_array(z1)), _normalize(_as_array(z2))
    if z1.shape != z2.shape:
        raise ValueError(f"Shapes differ: {z1.shape} and {z2.shape}.")
    distances = np.linalg.norm(z1 - z2, axis=1)
    return float(np.mean(distances**alpha))


def uniformity(z: ArrayLike, t: float = 2, block_size: int = 1024) -> float:
    """Uniformity loss of Wang & Isola (ICML 2020, arXiv:2005.10242).

    ``log mean_{i < j} exp(-t ||z_i - z_j||_2 ** 2)`` on L2-normalised rows.
    Its maximum, 0, is reached by a collapsed set (all rows equal); lower
    (more negative) means more uniformly spread on the sphere. Computed by
    blocks of rows with a log-sum-exp, in ``O(block_size * n)`` memory.

    Parameters
    ----------
    z : array-like or Tensor of shape (n, d), n >= 2
    t : float, default=2
    block_size : int, default=1024

    Returns
    -------
    float
    """
    z = _normalize(_as_array(z))
    n = z.shape[0]
    if n < 2:
        raise ValueError("uniformity needs at least 2 embeddings.")
    squared_norms = np.sum(z**2, axis=1)
    partial = []
    for start in range(0, n, block_size):
        block = z[start : start + block_size]
        squared = (
            squared_norms[start : start + block_size, None]
            + squared_norms[None, :]
            - 2.0 * block @ z.T
        )
        exponents = -t * np.maximum(squared, 0.0)
        rows = np.arange(block.shape[0])
        exponents[rows, start + rows] = -np.inf  # i == j is not a pair
        partial.append(logsumexp(exponents))
    # The ordered pairs i != j count each unordered pair twice: same mean.
    return float(logsumexp(partial) - math.log(n * (n - 1)))


def effective_rank(z: ArrayLike) -> float:
    """Effective rank of Roy & Vetterli (EUSIPCO 2007) of the centred embeddings.

    ``exp(H(p))`` with ``p_k = sigma_k / sum_k sigma_k`` the normalised singular
    values of the column-centred matrix and ``H`` the Shannon entropy (natural
    log, ``0 log 0 = 0``). Between 1 and ``min(n, d)``; equal to ``k`` when the
    centred data has ``k`` equal non-zero singular values, close to ``d`` for
    isotropic data. Returns 0.0 for constant embeddings (no variance at all).

    Parameters
    ----------
    z : array-like or Tensor of shape (n, d)

    Returns
    -------
    float
    """
    z = _as_array(z)
    centred = z - z.mean(axis=0, keepdims=True)
    singular_values = np.linalg.svd(centred, compute_uv=False)
    total = singular_values.sum()
    if not total > 0:
        return 0.0
    p = singular_values / total
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def linear_cka(z1: ArrayLike, z2: ArrayLike) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019, arXiv:1905.00414).

    ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` with ``X = z1`` and
    ``Y = z2`` column-centred: a similarity of two representations of the same
    rows, in [0, 1], invariant to rotations and isotropic scaling of either
    (so it compares what the representations tell apart, not their
    coordinates); the widths may differ. 1 for representations equal up to
    those; 0.0 when either is constant.

    Parameters
    ----------
    z1 : array-like or Tensor of shape (n, d1)
    z2 : array-like or Tensor of shape (n, d2)
        Row ``i`` of both is sample ``i``.

    Returns
    -------
    float
    """
    x, y = _as_array(z1), _as_array(z2)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"Row counts differ: {x.shape[0]} and {y.shape[0]}.")
    x = x - x.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=0, keepdims=True)
    # tr(X X^T Y Y^T) = ||Y^T X||_F^2: the n x n (Gram) form when there are
    # fewer rows than columns, the d x d form otherwise, whichever is smaller.
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        gram_x, gram_y = x @ x.T, y @ y.T
        cross = float(np.sum(gram_x * gram_y))
        norms = np.linalg.norm(gram_x) * np.linalg.norm(gram_y)
    else:
        cross = float(np.linalg.norm(y.T @ x) ** 2)
        norms = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if not norms > 0:
        return 0.0
    return float(min(cross / norms, 1.0))


def relative_variance(z: ArrayLike) -> float:
    """Total variance of the embeddings over their mean squared norm.

    ``trace(Cov(z)) / mean_i ||z_i||^2``, in [0, 1]: 0 when every row is the
    same vector (complete collapse), 1 for centred data. Scale-free, so that
    the collapse test does not depend on the embeddings' units. Returns 0.0
    for all-zero embeddings.

    Parameters
    ----------
    z : array-like or Tensor of shape (n, d)

    Returns
    -------
    float
    """
    z = _as_array(z)
    mean_squared_norm = np.mean(np.sum(z**2, axis=1))
    if not mean_squared_norm > 0:
        return 0.0
    total_variance = np.sum(np.var(z, axis=0))
    return float(total_variance / mean_squared_norm)


def is_collapsed(
    z: ArrayLike,
    n_components: int | None = None,
    rank_ratio: float = RANK_RATIO_THRESHOLD,
    variance_threshold: float = VARIANCE_THRESHOLD,
) -> bool:
    """Whether the embeddings have collapsed, completely or dimensionally.

    Collapsed when either

    * ``relative_variance(z) < variance_threshold`` (default 1e-6): all rows
      are (nearly) the same vector, complete collapse. This test comes first
      because the effective rank of such data only measures rounding noise;
    * ``effective_rank(z) < rank_ratio * n_components`` (default 0.2): the
      embeddings span less than a fifth of the available dimensions,
      dimensional collapse (e.g. effective rank below 3.2 for 16 components).

    Parameters
    ----------
    z : array-like or Tensor of shape (n, d)
    n_components : int, default=None
        Nominal embedding dimension; ``None`` means ``d``.
    rank_ratio : float, default=0.2
    variance_threshold : float, default=1e-6

    Returns
    -------
    bool
    """
    return collapse_report(z, n_components, rank_ratio, variance_threshold)["collapsed"]


def collapse_report(
    z: ArrayLike,
    n_components: int | None = None,
    rank_ratio: float = RANK_RATIO_THRESHOLD,
    variance_threshold: float = VARIANCE_THRESHOLD,
) -> dict:
    """Collapse diagnostics of a set of embeddings, as a dict of Python scalars.

    Parameters
    ----------
    z : array-like or Tensor of shape (n, d)
    n_components : int, default=None
        Nominal embedding dimension; ``None`` means ``d``.
    rank_ratio : float, default=0.2
        See :func:`is_collapsed`.
    variance_threshold : float, default=1e-6
        See :func:`is_collapsed`.

    Returns
    -------
    dict with keys
        ``n_samples``, ``n_components``;
        ``effective_rank`` (:func:`effective_rank`);
        ``effective_rank_ratio`` (``effective_rank / n_components``);
        ``relative_variance`` (:func:`relative_variance`);
        ``mean_std`` (mean over dimensions of the per-dimension standard
        deviation, in the embeddings' units);
        ``uniformity`` (:func:`uniformity` of at most 4096 evenly spaced
        rows, ``nan`` for fewer than 2 rows);
        ``complete_collapse``, ``dimensional_collapse`` and ``collapsed``
        (bools, see :func:`is_collapsed`).
    """
    z = _as_array(z)
    n_samples, d = z.shape
    if n_components is None:
        n_components = d
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components!r}.")
    rows = np.unique(np.linspace(0, n_samples - 1, MAX_UNIFORMITY_SAMPLES).round())
    rank = effective_rank(z)
    variance = relative_variance(z)
    complete = variance < variance_threshold
    dimensional = rank < rank_ratio * n_components
    return {
        "n_samples": int(n_samples),
        "n_components": int(n_components),
        "effective_rank": rank,
        "effective_rank_ratio": rank / n_components,
        "relative_variance": variance,
        "mean_std": float(np.mean(np.std(z, axis=0))),
        "uniformity": uniformity(z[rows.astype(int)]) if n_samples >= 2 else math.nan,
        "complete_collapse": bool(complete),
        "dimensional_collapse": bool(dimensional),
        "collapsed": bool(complete or dimensional),
    }
