"""Encoding of heterogeneous tables into the tensors the networks consume.

A :class:`TabularEncoder` splits a table into numeric and categorical columns.
Numeric columns are standardised with statistics learned in ``fit`` (NaN-aware),
missing numeric entries become 0 (the training mean) plus an observed-mask and,
for columns that had missing values during ``fit``, a missing-indicator input.
Categorical columns become integer codes with a bounded vocabulary:

* code ``0``: missing value (never a reconstruction target),
* code ``1``: rare or unseen category (anything outside the kept vocabulary),
* codes ``2..``: the ``max_categories`` most frequent categories seen in ``fit``.

Bounding the vocabulary keeps ID-like columns with thousands of levels from
blowing up the embedding tables and the reconstruction head.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

MISSING_CODE = 0
RARE_CODE = 1
N_RESERVED_CODES = 2

# Largest standardised magnitude encoded for training. Training runs in
# float32 and squares standardised values (the reconstruction term), which
# overflows beyond about 1.8e19; a value this many standard deviations from the
# fitted mean (possible only in a partial_fit chunk after the first) is
# refused with the column's name rather than diverging. Fitted columns never
# come near it: a value is at most sqrt(n_samples) standard deviations from
# the mean of the column it is fitted on.
TRAINING_LIMIT = 1e18

# A column without spread (up to rounding) is scaled by 1; when its rounding
# noise is larger than this (values beyond about 1e18), by the noise, so that
# the noise does not encode to huge values.
_CONSTANT_NOISE_LIMIT = 1e6


@dataclass
class EncodedTable:
    """Arrays for one table, row-aligned.

    Attributes
    ----------
    numeric : ndarray of shape (n_samples, n_numeric)
        Standardised numeric values, missing entries set to 0.
    observed : ndarray of bool, shape (n_samples, n_numeric)
        False where the numeric value was missing.
    categorical : ndarray of int64, shape (n_samples, n_categorical)
        Category codes (see module docstring).
    """

    numeric: np.ndarray
    observed: np.ndarray
    categorical: np.ndarray

    @property
    def n_samples(self):
        return self.numeric.shape[0]

    @property
    def arrays(self):
        """``(numeric, observed, categorical)``, in that order."""
        return self.numeric, self.observed, self.categorical

    def take(self, rows):
        """A new table of the given rows (an index array), copied."""
        return EncodedTable(*(a[rows] for a in self.arrays))


def _is_categorical_dtype(dtype):
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
    )


def resolve_categorical_mask(X, categorical_features, n_features, feature_names):
    """Boolean mask of categorical columns from the user's specification.

    Parameters
    ----------
    X : ndarray or DataFrame
    categorical_features : "auto", None, array-like of int, str or bool
        ``"auto"`` marks pandas ``category``, ``object``, ``string`` and
        ``bool`` columns as categorical (none for arrays).
    n_features : int
    feature_names : ndarray of str or None
    """
    if categorical_features is None:
        return np.zeros(n_features, dtype=bool)
    if isinstance(categorical_features, str) and categorical_features == "auto":
        if isinstance(X, pd.DataFrame):
            return np.array([_is_categorical_dtype(dt) for dt in X.dtypes], dtype=bool)
        return np.zeros(n_features, dtype=bool)

    spec = np.asarray(categorical_features)
    if spec.size == 0:
        return np.zeros(n_features, dtype=bool)
    if spec.dtype.kind == "b":
        if spec.shape != (n_features,):
            raise ValueError(
                f"categorical_features as a boolean mask must have shape "
                f"({n_features},), got {spec.shape}."
            )
        return spec.astype(bool)
    mask = np.zeros(n_features, dtype=bool)
    if spec.dtype.kind in "iu":
        if spec.min() < -n_features or spec.max() >= n_features:
            raise ValueError(
                f"categorical_features contains an index out of range for "
                f"{n_features} features: {spec.tolist()}."
            )
        mask[spec] = True
        return mask
    if spec.dtype.kind in "UO":
        if feature_names is None:
            raise ValueError(
                "categorical_features given as column names requires X to be a "
                "DataFrame with string column names."
            )
        names = list(feature_names)
        for name in spec:
            if name not in names:
                raise ValueError(
                    f"categorical_features names column {name!r}, which is not in "
                    f"X's columns."
                )
            mask[names.index(name)] = True
        return mask
    raise TypeError(
        "categorical_features must be 'auto', None, or an array-like of int, str "
        f"or bool; got dtype {spec.dtype}."
    )


def check_numeric_dtype(dtype, name):
    """Raise a TypeError naming column ``name`` if ``dtype`` cannot hold numbers
    (a ValueError for complex numbers).

    ``object`` passes: it may hold numbers (with ``None`` for missing ones), and
    the conversion reports the column if it does not.
    """
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(
            f"Complex data not supported: column {name!r} has dtype {dtype}. "
            "Pass the real and imaginary parts as two columns."
        )
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
        dtype
    ):
        raise TypeError(
            f"Column {name!r} has dtype {dtype}; convert dates and durations to "
            "numbers (e.g. seconds) before fitting."
        )
    if not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
    ):
        raise TypeError(
            f"Column {name!r} has non-numeric dtype {dtype} but is not marked "
            "categorical; pass it as a pandas 'category' column or list it in "
            "categorical_features."
        )


def _column_as_float(column, name):
    """A numeric column as float64 with NaN for missing entries."""
    check_numeric_dtype(column.dtype, name)
    try:
        if isinstance(column, pd.Series):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = np.asarray(column, dtype=np.float64)
    except OverflowError as error:
        # Python ints beyond float64's range, in object columns.
        raise ValueError(
            f"Column {name!r} holds a number too large for float64 ({error}); "
            "rescale the column or mark such values missing (None)."
        ) from error
    except (TypeError, ValueError) as error:
        # Object columns (numbers with None, from object arrays) pass the dtype
        # check and are converted here; anything else in them is a user error.
        raise TypeError(
            f"Column {name!r} is not marked categorical but holds non-numeric "
            f"values ({error}); list it in categorical_features."
        ) from error
    _reject_infinity(values, [name])
    return values


def _reject_infinity(values, names):
    """Raise a ValueError naming the first column of ``values`` holding infinity.

    ``values`` is one column (1-D) or a block of columns (2-D), ``names`` the
    names of its columns.
    """
    infinite = np.isinf(values).reshape(len(values), -1).any(axis=0)
    if infinite.any():
        raise ValueError(
            f"Input contains infinity in column {names[np.argmax(infinite)]!r}."
        )


def _column_as_labels(column):
    """A categorical column as an object array with None for missing entries."""
    if isinstance(column, pd.Series):
        series = column.astype(object)
    else:
        series = pd.Series(np.asarray(column, dtype=object))
    return series.where(series.notna(), None).to_numpy(dtype=object)


def _unhashable_error(labels, name, error):
    """The error for a categorical column whose ``labels`` failed to hash.

    Names the column and the first unhashable value; ``error`` (pandas' own,
    which names neither) when every value hashes.
    """
    for value in labels:
        try:
            hash(value)
        except TypeError:
            text = repr(value)
            text = text if len(text) <= 40 else text[:37] + "..."
            return TypeError(
                f"Column {name!r} holds a {type(value).__name__} ({text}), which "
                "cannot be a category: categories must be hashable values (str, "
                "numbers, bool, tuples). Convert the column (e.g. to str) or drop "
                "it."
            )
    return error


def _object_array(values):
    """A 1-D object array of ``values`` (tuples stay elements, not rows)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _column_statistics(values):
    """``(mean, scale, has_missing)`` of a float column with NaN for missing.

    All-missing columns have no statistics (mean 0, scale 1); constant ones no
    spread (scale 1, or their rounding noise where it exceeds
    ``_CONSTANT_NOISE_LIMIT``). Values beyond about 1e154, whose squares (or
    sums, near the float64 limit) overflow, get the statistics of the column
    scaled to [-1, 1], scaled back.
    """
    observed = values[~np.isnan(values)]
    if observed.size == 0:
        return 0.0, 1.0, True
    with np.errstate(over="ignore", invalid="ignore"):
        mean = observed.mean()
        scale = observed.std()
    if not (np.isfinite(mean) and np.isfinite(scale)):
        peak = np.abs(observed).max()
        scaled = observed / peak
        mean, scale = scaled.mean() * peak, scaled.std() * peak
    if not scale > 1e-12 * (1 + abs(mean)):
        with np.errstate(over="ignore"):
            noise = np.abs(observed - mean).max()
        scale = noise if noise > _CONSTANT_NOISE_LIMIT else 1.0
    return mean, scale, observed.size < values.size


def _standardise(values, mean, scale, names, limit):
    """``(values - mean) / scale`` for a block of columns, NaN kept.

    Where the difference overflows float64 (a value and the mean of opposite
    signs near the limit), ``values / scale - mean / scale`` instead. Raises a
    ValueError naming the column of the first value whose standardised
    magnitude is beyond ``limit`` (or float64's range).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        standardised = (values - mean) / scale
        if standardised.size == 0:
            return standardised
        # The common case in two reductions, without temporaries (NaN skipped).
        bound = limit if np.isfinite(limit) else np.finfo(np.float64).max
        low = np.fmin.reduce(standardised, axis=None)
        high = np.fmax.reduce(standardised, axis=None)
        if not (-bound <= low and high <= bound):
            overflow = np.isinf(standardised)  # the values themselves are finite
            if overflow.any():
                split = values / scale - mean / scale
                standardised[overflow] = split[overflow]
                overflow = np.isinf(standardised)
            overflow |= np.abs(standardised) > limit
            if overflow.any():
                _raise_beyond(values, standardised, overflow, mean, scale, names, limit)
    return standardised


def _raise_beyond(values, standardised, overflow, mean, scale, names, limit):
    """The ValueError of :func:`_standardise`, for its first ``overflow``."""
    row, column = np.argwhere(overflow)[0]
    value, z = values[row, column], standardised[row, column]
    if np.isinf(limit) or np.isinf(z):
        problem = "which standardised is beyond float64's range"
    else:
        problem = (
            f"{z:.3g} standard deviations from its fitted mean: beyond the "
            f"{limit:.0e} that training in float32 accepts"
        )
    raise ValueError(
        f"Column {names[column]!r} holds {value:.6g}, {problem} (fitted mean "
        f"{mean[column]:.6g}, scale {scale[column]:.6g}). The data first fitted "
        "(with partial_fit, the first chunk) fix each column's scale; clip such "
        "values, or mark them missing (NaN)."
    )


class _ColumnBlocks:
    """The columns of a 2-D array or sparse matrix, made a block at a time.

    ``columns[j]`` is column ``j`` as a contiguous 1-D array. Columns are
    materialised :attr:`WIDTH` at a time in Fortran order (one cache line of
    float32 values per row of the block), so walking the columns in order
    reads a C-ordered table once instead of once per column, and a sparse one
    is densified a block at a time. Beyond the input, memory stays one block.
    """

    WIDTH = 16

    def __init__(self, n_columns, load_block):
        self._n_columns = n_columns
        self._load_block = load_block  # (start, stop) -> 2-D array
        self._start, self._block = None, None

    def __len__(self):
        return self._n_columns

    def __getitem__(self, j):
        start = j - j % self.WIDTH
        if start != self._start:
            stop = min(start + self.WIDTH, self._n_columns)
            self._start, self._block = start, self._load_block(start, stop)
        return self._block[:, j - start]


class TabularEncoder:
    """Learn and apply the numeric/categorical encoding of a table.

    Parameters
    ----------
    categorical_mask : ndarray of bool, shape (n_features,)
    max_categories : int
        Number of most frequent categories kept per categorical column; the
        others share the "rare" code.
    """

    def __init__(self, categorical_mask, max_categories):
        self.categorical_mask = np.asarray(categorical_mask, dtype=bool)
        self.max_categories = max_categories

    @staticmethod
    def _columns(X):
        if isinstance(X, pd.DataFrame):
            return [X.iloc[:, j] for j in range(X.shape[1])]
        if sparse.issparse(X):
            X = X.tocsc()
            return _ColumnBlocks(
                X.shape[1], lambda start, stop: X[:, start:stop].toarray(order="F")
            )
        return _ColumnBlocks(
            X.shape[1], lambda start, stop: np.asfortranarray(X[:, start:stop])
        )

    def _numeric_block(self, X, columns, indices):
        """Columns ``indices`` of ``X`` as a row-major float64 block."""
        if isinstance(X, np.ndarray):  # one gather, already row-major
            values = X[:, indices].astype(np.float64)
            _reject_infinity(values, [self.column_names_[j] for j in indices])
            return values
        return np.column_stack(
            [_column_as_float(columns[j], self.column_names_[j]) for j in indices]
        )

    def fit(self, X):
        columns = self._columns(X)
        self.numeric_index_ = np.flatnonzero(~self.categorical_mask)
        self.categorical_index_ = np.flatnonzero(self.categorical_mask)
        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
        self.column_names_ = names or [f"x{j}" for j in range(len(columns))]

        # Column by column (read in blocks): memory beyond the input stays a
        # block of columns, not several float64 copies of the whole table.
        n_numeric = len(self.numeric_index_)
        mean, scale = np.zeros(n_numeric), np.ones(n_numeric)
        has_missing = np.zeros(n_numeric, dtype=bool)
        for out, j in enumerate(self.numeric_index_):
            values = _column_as_float(columns[j], self.column_names_[j])
            mean[out], scale[out], has_missing[out] = _column_statistics(values)
        self.mean_, self.scale_ = mean, scale
        self.missing_indicator_index_ = np.flatnonzero(has_missing)

        self.categories_ = []
        for j in self.categorical_index_:
            labels = pd.Series(_column_as_labels(columns[j])).dropna()
            try:
                counts = labels.value_counts(sort=True)
                count = dict(zip(counts.index, counts.to_numpy()))
            except TypeError as error:
                raise _unhashable_error(labels, self.column_names_[j], error) from error
            # Ties in frequency are broken by the label's text so that the kept
            # vocabulary does not depend on row order.
            order = sorted(count, key=lambda c: (-count[c], str(type(c)), str(c)))
            self.categories_.append(_object_array(order[: self.max_categories]))
        self.cardinalities_ = np.array(
            [len(c) + N_RESERVED_CODES for c in self.categories_], dtype=np.int64
        )
        return self

    def transform(self, X, dtype=np.float64):
        """Encode ``X``; numeric values standardised in float64, stored as ``dtype``.

        A few columns at a time, written into the output arrays: beyond the
        input and the output, memory stays a block of columns, and each row
        of the (row-major) outputs is written in runs of a block's width
        rather than one strided entry per column.
        """
        columns = self._columns(X)
        n = X.shape[0]
        n_numeric = len(self.numeric_index_)
        numeric = np.empty((n, n_numeric), dtype=dtype)
        observed = np.empty(numeric.shape, dtype=bool)
        for start in range(0, n_numeric, _ColumnBlocks.WIDTH):
            block = slice(start, min(start + _ColumnBlocks.WIDTH, n_numeric))
            index = self.numeric_index_[block]
            values = self._numeric_block(X, columns, index)
            missing = np.isnan(values)
            standardised = _standardise(
                values,
                self.mean_[block],
                self.scale_[block],
                [self.column_names_[j] for j in index],
                TRAINING_LIMIT if np.dtype(dtype).itemsize < 8 else np.inf,
            )
            standardised[missing] = 0.0
            numeric[:, block] = standardised
            observed[:, block] = ~missing

        categorical = np.empty((n, len(self.categorical_index_)), dtype=np.int64)
        for out, (j, categories) in enumerate(
            zip(self.categorical_index_, self.categories_)
        ):
            labels = pd.Series(_column_as_labels(columns[j]), dtype=object)
            try:
                codes = pd.Index(categories, dtype=object).get_indexer(labels)
            except TypeError as error:
                raise _unhashable_error(labels, self.column_names_[j], error) from error
            codes = np.where(
                codes >= 0, codes.astype(np.int64) + N_RESERVED_CODES, RARE_CODE
            )
            codes[labels.isna().to_numpy()] = MISSING_CODE
            categorical[:, out] = codes
        return EncodedTable(numeric=numeric, observed=observed, categorical=categorical)

    def inverse_transform(self, numeric, categorical_codes, as_frame):
        """Map standardised numeric values and category codes back to the input space.

        Codes for "missing" or "rare" decode to NaN / None.
        """
        n = numeric.shape[0]
        n_features = len(self.categorical_mask)
        with np.errstate(over="ignore", invalid="ignore"):
            numeric = numeric * self.scale_ + self.mean_
        overflow = ~np.isfinite(numeric)
        if overflow.any():
            row, column = np.argwhere(overflow)[0]
            name = self.column_names_[self.numeric_index_[column]]
            raise ValueError(
                f"The decoding of row {row} overflows float64 in column {name!r}: "
                "its latent code is too far from the training data's."
            )
        if not as_frame:
            out = np.empty((n, n_features), dtype=np.float64)
            out[:, self.numeric_index_] = numeric
            return out
        data = {}
        for out, j in enumerate(self.numeric_index_):
            data[j] = numeric[:, out]
        for out, (j, categories) in enumerate(
            zip(self.categorical_index_, self.categories_)
        ):
            codes = categorical_codes[:, out] - N_RESERVED_CODES
            lookup = np.append(categories, None).astype(object)
            data[j] = lookup[np.where(codes >= 0, codes, len(categories))]
        return pd.DataFrame({self.column_names_[j]: data[j] for j in range(n_features)})
