"""Input coercion and validation: what the estimators accept as ``X``.

Numeric-only input goes through scikit-learn's ``validate_data``; input with
categorical columns is checked column by column by the encoder
(:mod:`skssl._encoding`), which names the column at fault.
"""

from numbers import Real

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._encoding import _column_as_float, check_numeric_dtype, resolve_categorical_mask
from ._warnings import warn_at_caller

# Share of a text column's values (missing and blank ones aside) that must
# parse as numbers for categorical_features="auto" to read the column as
# numbers stored as text rather than as categories.
NUMERIC_TEXT_SHARE = 0.9


def as_table(X):
    """Nested lists as an array, and string arrays as object arrays.

    The categorical mask needs the number of columns before validation, so
    lists become arrays first: ``object``, which keeps numbers numbers and
    strings strings, as NumPy's own choice would turn every number of a row
    with a string into text. String arrays become ``object`` too: numeric
    text then converts, as in an object array, and other text is reported
    as a column to mark categorical.
    """
    if isinstance(X, list | tuple):
        try:
            table = np.asarray(X, dtype=object)
        except ValueError as error:  # sequences of different lengths in cells
            raise _ragged_error(error) from error
        if table.ndim == 1 and any(isinstance(row, list | tuple) for row in table):
            raise _ragged_error("rows of different lengths")
        return table
    if isinstance(X, np.ndarray) and X.dtype.kind in "US":
        return X.astype(object)
    return X


def _ragged_error(detail):
    return ValueError(
        "X is a list whose rows differ in length or whose cells hold sequences "
        f"({detail}). Pass a 2-D table: rows of the same length, one scalar per "
        "cell."
    )


def is_other_dataframe(X):
    """Whether ``X`` is a non-pandas table (polars, pyarrow) that converts to one."""
    module = type(X).__module__.split(".")[0]
    return module in ("polars", "pyarrow") and hasattr(X, "to_pandas")


def validate_input(estimator, X, reset, categorical_mask=None):
    """Validate ``X`` and return it, as an array or DataFrame, with its mask.

    With ``reset`` (fitting), the categorical mask is resolved from
    ``estimator.categorical_features`` and ``n_features_in_`` (and
    ``feature_names_in_``) are set; otherwise ``categorical_mask`` is the
    fitted one and ``X`` is checked against what was fitted.

    Returns
    -------
    X : ndarray, sparse matrix or DataFrame
        Numeric-only input as validated by scikit-learn (sparse stays
        sparse); input with categorical columns as a DataFrame.
    categorical_mask : ndarray of bool or None
    """
    if is_other_dataframe(X):
        # polars and pyarrow tables: pandas keeps their column names and
        # turns categorical and string columns into dtypes the encoder
        # recognises as categorical.
        X = X.to_pandas()
    X = as_table(X)
    is_frame = isinstance(X, pd.DataFrame)
    min_samples = 2 if reset else 1
    if is_frame and X.shape[1] == 0:
        # pandas' own error ("at least one array or dtype is required") names
        # neither the problem nor the table.
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
            f"1 is required by {type(estimator).__name__}: X has no columns."
        )
    if reset:
        categorical_mask = _resolve_mask(X, estimator.categorical_features, is_frame)
        text_columns = []
        if is_frame and _is_auto(estimator.categorical_features):
            X, text_columns = _read_numbers_stored_as_text(X, categorical_mask)
            categorical_mask = categorical_mask.copy()
            categorical_mask[text_columns] = False
        # Columns read as numbers stored as text: read so again later.
        estimator._numeric_text_columns = text_columns
    elif is_frame:
        X = _numbers_from_text(X, getattr(estimator, "_numeric_text_columns", []))
    has_categorical = categorical_mask is not None and categorical_mask.any()

    if not has_categorical:
        X = _validate_numeric(estimator, X, reset, is_frame, min_samples)
        if categorical_mask is None:  # array-likes without a shape until now
            categorical_mask = np.zeros(X.shape[1], dtype=bool)
        return X, categorical_mask
    if sparse.issparse(X):
        raise TypeError(
            "A sparse X can only hold numeric columns; categorical_features "
            "marks some as categorical. Pass a DataFrame for mixed columns."
        )
    if is_frame:
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        if X.shape[0] < min_samples:
            raise ValueError(
                f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while "
                f"a minimum of {min_samples} is required by "
                f"{type(estimator).__name__}."
            )
        return X, categorical_mask
    X = validate_data(
        estimator,
        X,
        reset=reset,
        dtype=None,
        ensure_all_finite=False,
        ensure_min_samples=min_samples,
    )
    return pd.DataFrame(X), categorical_mask


def _is_auto(categorical_features):
    return isinstance(categorical_features, str) and categorical_features == "auto"


def _is_text_dtype(dtype):
    return not isinstance(dtype, pd.CategoricalDtype) and (
        pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
    )


def _parse_numbers(column, name):
    """The numbers of a text column: ``(share, unparsed, values)``.

    ``share`` is the fraction of the non-missing, non-blank values that are
    numbers (Python or NumPy reals, or strings ``float`` reads); ``unparsed``
    the distinct strings that are not (blank ones included), most frequent
    first; ``values()`` the column as float64, NaN for missing, blank and
    unparsed entries. None when the column holds no string, or a value that
    is neither a string nor a number (bools, dates, tuples...): not numbers
    stored as text. Each distinct value is looked at once.
    """
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind != "string" and not kind.startswith("mixed"):
        return None  # no text (numbers alone, bools, dates...)
    try:
        counts = column.value_counts(dropna=True)
    except TypeError:  # unhashable cells: the encoder names them
        return None
    parsed, unparsed, huge = {}, [], None
    n_numbers = n_blank = 0
    for value, count in counts.items():
        number = None
        if isinstance(value, str):
            if not value.strip():
                n_blank += count
            else:
                try:
                    number = float(value)
                except ValueError:
                    pass
            if number is None:
                unparsed.append(value)
        elif isinstance(value, Real) and not isinstance(value, bool | np.bool_):
            try:
                number = float(value)
            except OverflowError:  # a Python int beyond float64
                huge, number = value, np.nan
        else:
            return None
        n_numbers += count if number is not None else 0
        parsed[value] = np.nan if number is None else number
    n_counted = int(counts.sum()) - n_blank
    share = n_numbers / n_counted if n_counted else 0.0

    def values():
        if huge is not None:  # the encoder's error, naming the column
            _column_as_float(pd.Series([huge], dtype=object), name)
        return column.astype(object).map(parsed).to_numpy(dtype=np.float64)

    return share, unparsed, values


def _shown(unparsed):
    shown = ", ".join(repr(text) for text in unparsed[:5])
    return shown + (f" and {len(unparsed) - 5} more" if len(unparsed) > 5 else "")


def _read_numbers_stored_as_text(X, categorical_mask):
    """``X`` with its text columns that hold numbers read as numbers, and their
    positions (categorical_features="auto" would make them categorical).

    A column qualifies when at least :data:`NUMERIC_TEXT_SHARE` of its values
    (missing and blank ones aside) are numbers or parse as numbers; its other
    values become missing. Each one converted is named in a warning.
    """
    columns, converted = [], {}
    for j in np.flatnonzero(categorical_mask):
        dtype = X.dtypes.iloc[j]
        if not _is_text_dtype(dtype):
            continue
        name = str(X.columns[j])
        parsed = _parse_numbers(X.iloc[:, j], name)
        if parsed is None or parsed[0] < NUMERIC_TEXT_SHARE:
            continue
        _, unparsed, values = parsed
        converted[j] = values()  # first: an error (a huge number) wins
        detail = ""
        if unparsed:
            detail = (
                f", and its values that are not numbers ({_shown(unparsed)}) as missing"
            )
        warn_at_caller(
            f"Column {name!r} holds numbers stored as text (dtype {dtype}): it is "
            f"read as a numeric column{detail}, not as categories. To silence "
            f"this warning, convert it to numbers first (e.g. "
            f"pd.to_numeric(X[{name!r}], errors='coerce')); to keep it "
            "categorical, make it a 'category' column or list the categorical "
            "columns in categorical_features.",
            UserWarning,
        )
        columns.append(int(j))
    return _with_columns(X, converted), columns


def _numbers_from_text(X, columns):
    """``X`` with its ``columns`` (read as numbers stored as text in fit) read
    as numbers, warning about values that are not numbers (made missing)."""
    converted = {}
    for j in columns:
        if not _is_text_dtype(X.dtypes.iloc[j]):
            continue  # numbers already, or what the encoder names as an error
        name = str(X.columns[j])
        parsed = _parse_numbers(X.iloc[:, j], name)
        if parsed is None:
            continue  # Python numbers alone, or what the encoder names
        _, unparsed, values = parsed
        if unparsed:
            warn_at_caller(
                f"Column {name!r}, read as numbers stored as text in fit, holds "
                f"values that are not numbers ({_shown(unparsed)}): they are "
                "treated as missing.",
                UserWarning,
            )
        converted[j] = values()
    return _with_columns(X, converted)


def _with_columns(X, converted):
    """A shallow copy of the frame ``X`` with the columns ``converted``
    (position -> values) replaced; ``X`` itself when there are none."""
    if not converted:
        return X
    X = X.copy(deep=False)
    for j, values in converted.items():
        X.isetitem(j, values)
    return X


def _resolve_mask(X, categorical_features, is_frame):
    """The categorical mask of ``X`` (None when its shape is not 2-D yet)."""
    if not (hasattr(X, "shape") and len(X.shape) == 2):
        return None  # validation reports the shape
    names = np.asarray([str(c) for c in X.columns], dtype=object) if is_frame else None
    return resolve_categorical_mask(X, categorical_features, X.shape[1], names)


def _validate_numeric(estimator, X, reset, is_frame, min_samples):
    if is_frame:
        for name, dtype in X.dtypes.items():
            check_numeric_dtype(dtype, str(name))
    elif hasattr(X, "dtype") and X.dtype.kind == "c":
        # scikit-learn's "Complex data not supported" prints the data instead.
        check_numeric_dtype(X.dtype, "x0")
    try:
        return validate_data(
            estimator,
            X,
            reset=reset,
            # Sparse tables (e.g. from a ColumnTransformer) are encoded column
            # by column from CSC; stored NaNs are missing.
            accept_sparse=("csr", "csc"),
            # Integer and boolean tables stay as they are: the encoder converts
            # a block of columns (fit) or of rows (transform) at a time, not
            # the whole table up front.
            dtype="numeric",
            ensure_all_finite="allow-nan",
            ensure_min_samples=min_samples,
        )
    except (TypeError, ValueError, OverflowError) as error:
        name, located = _column_error(X, is_frame)
        if isinstance(located, TypeError):  # a value that is not a number
            # The type of scikit-learn's own error (TypeError for a dict in an
            # object array, ValueError for text), with the column named.
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(
                f"X has non-numeric values in column {name!r} "
                f"({located.__cause__}). Mark the columns that hold categories "
                "with categorical_features, or pass a DataFrame with "
                "'category', 'object' or 'string' columns."
            ) from error
        if located is not None:  # e.g. a number beyond float64 (OverflowError)
            raise located from error
        if not isinstance(error, ValueError) or "could not convert" not in str(error):
            raise
        raise ValueError(
            f"X has non-numeric values ({error}). Mark the columns that hold "
            "categories with categorical_features, or pass a DataFrame with "
            "'category', 'object' or 'string' columns."
        ) from error


def _column_error(X, is_frame):
    """``(name, error)``: the first column of ``X`` not convertible to float64
    and the error naming it, or ``(None, None)`` (scikit-learn's conversion
    errors name no column).

    Only on the error path: the columns are converted again one at a time.
    """
    if not (is_frame or (isinstance(X, np.ndarray) and X.ndim == 2)):
        return None, None
    if not is_frame and X.dtype != object:
        return None, None
    for j in range(X.shape[1]):
        column = X.iloc[:, j] if is_frame else X[:, j]
        name = str(X.columns[j]) if is_frame else f"x{j}"
        try:
            _column_as_float(column, name)
        except (TypeError, ValueError) as error:
            return name, error
    return None, None


def validate_sample_weight(sample_weight, X):
    """``sample_weight`` for the validated ``X``: None for no weighting (None,
    or every weight alike, which weights nothing), else float64 weights.

    Raises
    ------
    ValueError
        For weights that are negative, NaN or infinite, of the wrong shape,
        or all zero.
    """
    if sample_weight is None:
        return None
    weights = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not weights.any():
        raise ValueError(
            "sample_weight is zero for every row: at least one row needs a "
            "positive weight."
        )
    if (weights == weights[0]).all():
        return None
    return weights
