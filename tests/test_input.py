"""What the estimators accept as X (skssl._input): arrays, frames, sparse, lists."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer
from skssl._input import as_table, is_other_dataframe, validate_input
from tests._helpers import FAST


def test_lists_become_object_arrays_and_text_arrays_object_arrays():
    rows = as_table([[1.0, "a"], [2, "b"]])
    assert rows.dtype == object and rows[1, 0] == 2 and rows[0, 1] == "a"
    text = as_table(np.array([["1.5", "x"]]))
    assert text.dtype == object and text[0, 0] == "1.5"
    X = np.ones((2, 2))
    assert as_table(X) is X
    frame = pd.DataFrame(X)
    assert as_table(frame) is frame


@pytest.mark.parametrize("library", ["polars", "pyarrow"])
def test_polars_and_arrow_tables_are_other_dataframes(library, mixed_frame):
    module = pytest.importorskip(library)
    pytest.importorskip("pyarrow")  # polars' from_pandas and to_pandas need it
    table = (
        module.from_pandas(mixed_frame)
        if library == "polars"
        else module.Table.from_pandas(mixed_frame, preserve_index=False)
    )
    assert is_other_dataframe(table)
    assert not is_other_dataframe(mixed_frame)
    assert not is_other_dataframe(np.ones((2, 2)))


def test_validate_input_returns_numeric_arrays_frames_and_the_mask(mixed_frame):
    est = ContrastiveVAETransformer()
    X, mask = validate_input(est, mixed_frame, reset=True)
    assert X is mixed_frame
    assert mask.tolist() == [False, False, True, True, True]
    assert est.n_features_in_ == 5
    assert est.feature_names_in_.tolist() == list(mixed_frame.columns)

    numeric = ContrastiveVAETransformer()
    X, mask = validate_input(numeric, [[1, 2], [3, 4]], reset=True)
    assert isinstance(X, np.ndarray) and X.dtype.kind in "if"
    assert not mask.any() and numeric.n_features_in_ == 2
    # Sparse numeric input stays sparse.
    X, _ = validate_input(
        numeric, sparse.csr_matrix(np.eye(2)), reset=False, categorical_mask=mask
    )
    assert sparse.issparse(X)
    # Categorical columns of an array come back as a DataFrame.
    marked = ContrastiveVAETransformer(categorical_features=[1])
    X, mask = validate_input(
        marked, np.array([[1.0, "a"], [2.0, "b"]], dtype=object), reset=True
    )
    assert isinstance(X, pd.DataFrame) and mask.tolist() == [False, True]
    # Transform accepts a single row; fit needs two.
    validate_input(
        marked, np.array([[1.0, "a"]], dtype=object), reset=False, categorical_mask=mask
    )
    with pytest.raises(ValueError, match="minimum of 2"):
        validate_input(ContrastiveVAETransformer(), mixed_frame.head(1), reset=True)


def test_heterogeneous_dataframe(mixed_frame):
    est = ContrastiveVAETransformer(**FAST).fit(mixed_frame)
    encoder = est.table_encoder_
    assert encoder.categorical_mask.tolist() == [False, False, True, True, True]
    # age had missing values in fit: it gets a missing-indicator input.
    assert encoder.missing_indicator_index_.tolist() == [0]
    Z = est.transform(mixed_frame)
    assert Z.shape == (len(mixed_frame), 32) and np.isfinite(Z).all()
    assert np.isfinite(est.score_samples(mixed_frame)).all()

    # Unseen categories, all-missing rows and NaN in a column that had none in
    # fit are handled at transform.
    new = mixed_frame.head(3).copy()
    new["city"] = pd.Categorical(["tokyo", None, "paris"])
    new["plan"] = ["enterprise", None, "pro"]
    new.loc[0, "income"] = np.nan
    Z_new = est.transform(new)
    assert np.isfinite(Z_new).all()


def test_numpy_categorical_features_by_index():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=80), rng.randint(0, 3, 80)]).astype(float)
    est = ContrastiveVAETransformer(categorical_features=[1], **FAST).fit(X)
    assert est.table_encoder_.cardinalities_.tolist() == [5]
    assert est.transform(X).shape == (80, 32)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([[1.0, np.inf], [2.0, 3.0]]), ValueError, "infinity"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "categorical_features"),
        (np.ones((1, 3)), ValueError, "1 sample"),
    ],
)
def test_bad_input_raises(X, error, match):
    with pytest.raises(error, match=match):
        ContrastiveVAETransformer(**FAST).fit(X)


def test_bad_dataframe_input_raises(mixed_frame):
    frame = mixed_frame.copy()
    frame["when"] = pd.Timestamp("2024-01-01")
    with pytest.raises(TypeError, match="'when'"):
        ContrastiveVAETransformer(**FAST).fit(frame)
    frame = mixed_frame.copy()
    frame.loc[3, "income"] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        ContrastiveVAETransformer(**FAST).fit(frame)
    with pytest.raises(ValueError, match="not in X's columns"):
        ContrastiveVAETransformer(categorical_features=["nope"], **FAST).fit(
            mixed_frame
        )


def test_dates_in_a_numeric_only_dataframe_are_named():
    # Without categorical columns the frame goes through check_array, whose own
    # error is a numpy dtype-promotion message that names no column.
    frame = pd.DataFrame(
        {"x": np.arange(6.0), "when": pd.date_range("2024-01-01", periods=6)}
    )
    with pytest.raises(TypeError, match="'when'.*dates"):
        ContrastiveVAETransformer(**FAST).fit(frame)


def test_object_array_with_categorical_columns_marked():
    rows = [["a", 1.0], ["b", 2.5], ["a", None], ["c", -1.0]] * 5
    X = np.array(rows, dtype=object)
    est = ContrastiveVAETransformer(categorical_features=[0], **FAST).fit(X)
    assert est.n_features_in_ == 2
    assert np.isfinite(est.transform(X)).all()
    # The numeric column's None is a missing value: same output as NaN.
    as_nan = X.copy()
    as_nan[2::4, 1] = np.nan
    np.testing.assert_array_equal(est.transform(X), est.transform(as_nan))
    X[1, 1] = "oops"
    with pytest.raises(TypeError, match="Column '1'.*non-numeric"):
        ContrastiveVAETransformer(categorical_features=[0], **FAST).fit(X)


def test_lists_and_text_arrays_are_encoded_like_the_numbers_they_hold():
    X = np.random.default_rng(0).normal(size=(40, 4))
    reference = ContrastiveVAETransformer(**FAST).fit(X).transform(X)
    for same in (X.tolist(), X.astype(str)):
        est = ContrastiveVAETransformer(**FAST).fit(same)
        assert est.n_features_in_ == 4
        np.testing.assert_array_equal(est.transform(same), reference)
    # Rows mixing numbers and categories, as lists: numbers stay numbers.
    rows = [[float(i), "ab"[i % 2]] for i in range(20)]
    est = ContrastiveVAETransformer(categorical_features=[1], **FAST).fit(rows)
    assert list(est.table_encoder_.categorical_index_) == [1]
    assert est.table_encoder_.mean_[0] == pytest.approx(9.5)
    with pytest.raises(ValueError, match="categorical_features"):
        ContrastiveVAETransformer(**FAST).fit(rows)


@pytest.mark.parametrize("library", ["polars", "pyarrow"])
def test_polars_and_arrow_tables_are_encoded_like_pandas(library, mixed_frame):
    module = pytest.importorskip(library)
    pytest.importorskip("pyarrow")  # polars' to_pandas needs it too
    table = (
        module.from_pandas(mixed_frame)
        if library == "polars"
        else module.Table.from_pandas(mixed_frame, preserve_index=False)
    )
    est = ContrastiveVAETransformer(**FAST).fit(table)
    reference = ContrastiveVAETransformer(**FAST).fit(mixed_frame)
    # Same column names and the same columns found categorical as pandas.
    np.testing.assert_array_equal(est.feature_names_in_, reference.feature_names_in_)
    np.testing.assert_array_equal(
        est.table_encoder_.categorical_mask,
        reference.table_encoder_.categorical_mask,
    )
    assert est.table_encoder_.categorical_mask.any()
    np.testing.assert_array_equal(
        est.transform(table), reference.transform(mixed_frame)
    )


@pytest.mark.parametrize("format", ["csr", "csc", "coo"])
def test_sparse_input_trains_and_encodes_like_its_dense_copy(format):
    X = sparse.random(200, 12, density=0.2, format=format, random_state=0)
    X = X.tolil()
    X[3, 4] = np.nan  # a stored NaN is a missing value
    X = X.asformat(format)
    dense = X.toarray()
    from_sparse = ContrastiveVAETransformer(**FAST).fit(X)
    from_dense = ContrastiveVAETransformer(**FAST).fit(dense)
    np.testing.assert_array_equal(from_sparse.loss_curve_, from_dense.loss_curve_)
    np.testing.assert_array_equal(from_sparse.transform(X), from_dense.transform(dense))
    assert from_sparse.table_encoder_.missing_indicator_index_.tolist() == [4]
    with pytest.raises(TypeError, match="sparse X can only hold numeric"):
        ContrastiveVAETransformer(categorical_features=[0], **FAST).fit(X)


def test_wrong_number_of_features_at_transform(mixed_frame):
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**FAST).fit(X)
    with pytest.raises(ValueError, match="30 features"):
        est.transform(X[:, :5])
    frame_est = ContrastiveVAETransformer(**FAST).fit(mixed_frame)
    with pytest.raises(ValueError, match="feature names"):
        frame_est.transform(mixed_frame.drop(columns="age"))


# ------------------------------------------------ numbers stored as text
def _priced(n=80, seed=0):
    """A frame whose "price" holds numbers as text, with one "n/a" and one ""."""
    rng = np.random.default_rng(seed)
    price = np.round(rng.normal(10.0, 2.0, n), 2)
    text = price.astype(str).astype(object)
    text[3], text[5], text[7] = "n/a", "", None
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    frame = pd.DataFrame({"price": text, "colour": colour, "x": rng.normal(size=n)})
    return frame, price


def _warnings_about(record, name):
    return [str(w.message) for w in record if repr(name) in str(w.message)]


@pytest.mark.parametrize("dtype", [object, "string"])
def test_numbers_stored_as_text_are_read_as_numbers_with_a_warning(dtype):
    frame, price = _priced()
    frame["price"] = frame["price"].astype(dtype)
    with pytest.warns(UserWarning, match="'price' holds numbers stored as text") as w:
        est = ContrastiveVAETransformer(**FAST).fit(frame)
    (message,) = _warnings_about(w, "price")
    assert "values that are not numbers ('n/a', '') as missing" in message
    assert "pd.to_numeric" in message and "categorical_features" in message
    encoder = est.table_encoder_
    assert encoder.categorical_mask.tolist() == [False, True, False]
    observed = np.delete(price, [3, 5, 7])
    assert encoder.mean_[0] == pytest.approx(observed.mean())
    assert encoder.missing_indicator_index_.tolist() == [0]
    # The same numbers given as numbers: the same fit.
    numbers = frame.assign(
        price=np.where(np.isin(np.arange(80), [3, 5, 7]), np.nan, price)
    )
    reference = ContrastiveVAETransformer(**FAST).fit(numbers)
    np.testing.assert_array_equal(est.transform(numbers), reference.transform(numbers))
    with pytest.warns(UserWarning, match="'price', read as numbers stored as text"):
        Z = est.transform(frame)
    np.testing.assert_array_equal(Z, reference.transform(numbers))


def test_text_that_is_not_a_number_at_transform_is_missing_with_a_warning():
    frame, _ = _priced()
    with pytest.warns(UserWarning, match="stored as text"):
        est = ContrastiveVAETransformer(**FAST).fit(frame)
    new = frame.head(4).copy()
    new.loc[0, "price"] = "oops"
    with pytest.warns(UserWarning, match=r"'price', read as numbers stored as text"):
        Z = est.transform(new)
    as_numbers = new.assign(price=pd.to_numeric(new["price"], errors="coerce"))
    assert as_numbers["price"].isna().tolist() == [True, False, False, True]
    np.testing.assert_array_equal(Z, est.transform(as_numbers))


def test_categories_with_a_few_numeric_values_stay_categories(recwarn):
    frame, _ = _priced()
    sizes = np.array(["S", "M", "L", "XL", "10", "12", "14"], dtype=object)
    frame["size"] = sizes[np.arange(len(frame)) % 7]  # 3 of 7 values are numbers
    # And numbers stored as text that fall short of 90%: 7 in 10 are numbers.
    codes = np.array([*"1234567", "other", "n/k", "x"], dtype=object)
    frame["code"] = codes[np.arange(len(frame)) % 10]
    frame = frame.drop(columns="price")
    est = ContrastiveVAETransformer(**FAST).fit(frame)
    assert est.table_encoder_.categorical_mask.tolist() == [True, False, True, True]
    assert not _warnings_about(recwarn, "size") and not _warnings_about(recwarn, "code")


def test_marked_or_converted_columns_are_not_read_as_text(recwarn):
    frame, price = _priced()
    # Listed as categorical: categories, whatever they look like.
    est = ContrastiveVAETransformer(**FAST, categorical_features=["price", "colour"])
    assert est.fit(frame).table_encoder_.categorical_mask.tolist() == [
        True,
        True,
        False,
    ]
    # Category dtype, bools and Python numbers without text: as before.
    frame = frame.assign(
        price=frame["price"].astype("category"),
        flag=np.arange(len(frame)) % 2 == 0,
        count=pd.Series(np.arange(len(frame)) % 5, dtype=object),
    )
    mask = ContrastiveVAETransformer(**FAST).fit(frame).table_encoder_.categorical_mask
    assert mask.tolist() == [True, True, False, True, True]
    assert not [w for w in recwarn if "stored as text" in str(w.message)]


def test_numbers_as_text_mixed_with_numbers_and_all_parsing():
    # Python numbers and one text marker, as from a spreadsheet.
    values = pd.Series([1.5, 2, "3.25", "missing", *range(20)], dtype=object)
    frame = pd.DataFrame({"v": values, "c": list("ab") * 12})
    with pytest.warns(UserWarning, match="'v' holds numbers.*'missing'"):
        est = ContrastiveVAETransformer(**FAST).fit(frame)
    assert est.table_encoder_.mean_[0] == pytest.approx(
        np.mean([1.5, 2, 3.25, *range(20)])
    )
    # Every value a number: converted, nothing made missing.
    clean = pd.DataFrame({"v": [str(i) for i in range(24)], "c": list("ab") * 12})
    with pytest.warns(UserWarning, match="stored as text") as w:
        est = ContrastiveVAETransformer(**FAST).fit(clean)
    assert "as missing" not in str(w[0].message)
    assert not est.table_encoder_.categorical_mask[0]


def test_numbers_as_text_beyond_float64_name_the_column():
    values = pd.Series([10**400, *map(str, range(20))], dtype=object)
    frame = pd.DataFrame({"big": values, "c": list("ab") * 10 + ["a"]})
    with pytest.raises(ValueError, match="Column 'big' holds a number too large"):
        ContrastiveVAETransformer(**FAST).fit(frame)
