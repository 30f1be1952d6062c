"""Property-based tests: hostile input to fit, partial_fit and inference.

Hypothesis generates DataFrames, NumPy arrays, SciPy sparse matrices and
nested lists with extreme finite values (up to the float64 limit), missing
values, odd dtypes (float16, uint64, nullable, complex, dates, lists and dicts
in object columns) and odd column names. Every call must either raise a
ValueError or TypeError whose message names the column or the problem, or
return finite float64 output of the documented shape; the input is never
mutated, the same seed gives the same output, and a pickle round trip
predicts the same.

The run is derandomised (a fixed seed) and bounded for CI: about 50 s in all
on two cores. ``SKSSL_HYPOTHESIS_EXAMPLES=N`` runs N examples per input
family instead (the classifier's a quarter of them), for a longer search.
Each example records its outcome with ``hypothesis.event``: run with
``--hypothesis-show-statistics`` to see the counts per family.
"""

import copy
import math
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer
from tests._helpers import REPRODUCER, with_representation

hypothesis = pytest.importorskip("hypothesis", reason='needs pip install "skssl[test]"')
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TINY = REPRODUCER

# Examples per input family in CI; the classifier fits a cross-validated head
# (about 0.4 s a fit), so it gets fewer.
EXAMPLES = int(os.environ.get("SKSSL_HYPOTHESIS_EXAMPLES", "0")) or None
TRANSFORMER_EXAMPLES = EXAMPLES or 100
CLASSIFIER_EXAMPLES = max(1, EXAMPLES // 4) if EXAMPLES else 60


def _settings(n_examples):
    return settings(
        max_examples=n_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------ values
FLOAT_MAX = float(np.finfo(np.float64).max)
EXTREME_FLOATS = [
    0.0,
    -0.0,
    1.0,
    -2.5,
    5e-324,
    1e-300,
    1e154,
    -1e155,
    1e200,
    1e300,
    -1e300,
    1.7e308,
    -1.7e308,
    FLOAT_MAX,
    -FLOAT_MAX,
]
floats64 = st.one_of(
    st.sampled_from(EXTREME_FLOATS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(math.nan),
)
# Infinity is refused with a message naming the column; rarely drawn.
floats_or_inf = st.one_of(*[floats64] * 15, st.sampled_from([math.inf, -math.inf]))
# An array or matrix draws its floats from either, mostly without infinity.
some_infinite = st.sampled_from([floats64] * 7 + [floats_or_inf])
floats32 = st.one_of(
    st.sampled_from([0.0, 1.0, 3.4e38, -3.4e38, 1e-45, math.nan]),
    st.floats(width=32, allow_nan=False, allow_infinity=False),
)
floats16 = st.one_of(
    st.sampled_from([0.0, 65504.0, -65504.0, 6e-8, math.nan]),
    st.floats(width=16, allow_nan=False, allow_infinity=False),
)
huge_ints = st.sampled_from([10**400, -(10**400), 2**64, 2**63 - 1, -(2**63)])
python_numbers = st.one_of(st.integers(-(2**70), 2**70), floats64, huge_ints)
python_scalars = st.one_of(
    python_numbers,
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.sampled_from(["a", "b", "1", "nan", " "]),
)
nested_values = st.one_of(
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=1), st.integers(0, 3), max_size=1),
    st.complex_numbers(max_magnitude=10, allow_nan=False),
    st.tuples(st.integers(0, 2)),
    st.sets(st.integers(0, 2), max_size=1),
)

# Rows and columns: one row (refused by fit) and no column, rarely.
n_rows = st.sampled_from([2, 3, 4, 5, 6, 8, 1] + [2, 3, 4, 5, 6, 7, 8] * 2)
n_columns = st.sampled_from([1, 2, 3, 4, 0] + [1, 2, 3, 4] * 3)

column_names = st.one_of(
    st.text(max_size=4),
    st.sampled_from(["", " ", "x0", "0", "ä\n", "a'b", 'a"b', "None", "nan"]),
)


# ---------------------------------------------------------------- columns
def _ints(dtype):
    info = np.iinfo(dtype)
    return st.one_of(
        st.integers(int(info.min), int(info.max)),
        st.sampled_from([int(info.min), int(info.max), 0]),
    )


def _series(draw, kind, n):
    """A pandas column of ``kind`` with ``n`` entries."""
    if kind in ("float64", "float64-inf"):
        values = floats64 if kind == "float64" else floats_or_inf
        return pd.Series(draw(st.lists(values, min_size=n, max_size=n)), dtype=float)
    if kind in ("float32", "float16"):
        values = draw(
            st.lists(
                floats32 if kind == "float32" else floats16, min_size=n, max_size=n
            )
        )
        return pd.Series(np.array(values, dtype=kind))
    if kind in ("int8", "int64", "uint64"):
        values = draw(st.lists(_ints(kind), min_size=n, max_size=n))
        return pd.Series(np.array(values, dtype=kind))
    if kind == "Int64":
        values = draw(
            st.lists(st.one_of(_ints("int64"), st.none()), min_size=n, max_size=n)
        )
        return pd.Series(values, dtype="Int64")
    if kind == "Float64":
        values = draw(st.lists(st.one_of(floats64, st.none()), min_size=n, max_size=n))
        return pd.Series(
            [None if v is None or v != v else v for v in values], dtype="Float64"
        )
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "boolean":
        values = draw(
            st.lists(st.one_of(st.booleans(), st.none()), min_size=n, max_size=n)
        )
        return pd.Series(values, dtype="boolean")
    if kind == "category":
        labels = st.one_of(st.sampled_from(["a", "b", "c"]), st.none())
        return pd.Series(
            draw(st.lists(labels, min_size=n, max_size=n)), dtype="category"
        )
    if kind == "string":
        values = draw(
            st.lists(st.one_of(st.text(max_size=2), st.none()), min_size=n, max_size=n)
        )
        return pd.Series(values, dtype="string")
    if kind == "object":
        values = draw(st.lists(python_scalars, min_size=n, max_size=n))
        return pd.Series(values, dtype=object)
    if kind == "object-numbers":
        values = draw(
            st.lists(st.one_of(python_numbers, st.none()), min_size=n, max_size=n)
        )
        return pd.Series(values, dtype=object)
    if kind == "nested":
        values = draw(
            st.lists(st.one_of(nested_values, python_scalars), min_size=n, max_size=n)
        )
        series = pd.Series([None] * n, dtype=object)
        for i, v in enumerate(values):  # lists stay cells, not rows
            series.iat[i] = v
        return series
    if kind == "complex":
        values = draw(
            st.lists(
                st.complex_numbers(
                    max_magnitude=1e300, allow_nan=False, allow_infinity=False
                ),
                min_size=n,
                max_size=n,
            )
        )
        return pd.Series(np.array(values, dtype=complex))
    if kind == "datetime":
        return pd.Series(pd.date_range("2024-01-01", periods=n))
    if kind == "timedelta":
        return pd.Series(pd.to_timedelta(np.arange(n), unit="s"))
    raise AssertionError(kind)


COLUMN_KINDS = [
    *["float64"] * 8,
    "float64-inf",
    *["int64", "category", "object-numbers", "bool"] * 2,
    "float32",
    "float16",
    "int8",
    "int64",
    "uint64",
    "Int64",
    "Float64",
    "bool",
    "boolean",
    "category",
    "string",
    "object",
    "object-numbers",
    "nested",
    "complex",
    "datetime",
    "timedelta",
]


@st.composite
def frames(draw, n=None, kinds=None, names=None):
    n = draw(n_rows) if n is None else n
    if kinds is None:
        kinds = [draw(st.sampled_from(COLUMN_KINDS)) for _ in range(draw(n_columns))]
    if names is None:
        names = draw(
            st.one_of(
                st.lists(column_names, min_size=len(kinds), max_size=len(kinds)),
                st.just(list(range(len(kinds)))),
                st.just([f"c{j}" for j in range(len(kinds))]),
            )
        )
    frame = pd.DataFrame({j: _series(draw, kind, n) for j, kind in enumerate(kinds)})
    frame.columns = names
    if n and draw(st.booleans()):  # a non-default index
        frame.index = draw(
            st.sampled_from([np.arange(n)[::-1], [f"r{i}" for i in range(n)]])
        )
    event(f"frame column kinds: {'+'.join(sorted(set(kinds))) or 'none'}")
    return frame, (kinds, names)


ARRAY_DTYPES = [
    *["float64"] * 6,
    "int64",
    "float32",
    "float16",
    "int8",
    "int64",
    "uint64",
    "bool",
    "object",
    "str",
    "complex128",
    "datetime64[s]",
]


@st.composite
def arrays(draw, m=None, dtype=None):
    n = draw(n_rows)
    m = draw(n_columns) if m is None else m
    dtype = draw(st.sampled_from(ARRAY_DTYPES)) if dtype is None else dtype
    size = n * m
    if dtype == "float64":
        values = np.array(
            draw(st.lists(draw(some_infinite), min_size=size, max_size=size)),
            dtype=float,
        )
    elif dtype in ("float32", "float16"):
        values = np.array(
            draw(
                st.lists(
                    floats32 if dtype == "float32" else floats16,
                    min_size=size,
                    max_size=size,
                )
            ),
            dtype=dtype,
        )
    elif dtype in ("int8", "int64", "uint64"):
        values = np.array(
            draw(st.lists(_ints(dtype), min_size=size, max_size=size)), dtype=dtype
        )
    elif dtype == "bool":
        values = np.array(
            draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=bool
        )
    elif dtype == "object":
        values = np.empty(size, dtype=object)
        values[:] = draw(
            st.lists(
                st.one_of(python_scalars, nested_values), min_size=size, max_size=size
            )
        )
    elif dtype == "str":
        values = np.array(
            draw(
                st.lists(
                    st.one_of(
                        st.text(max_size=3),
                        st.sampled_from(["1.5", "1e300", "nan", "-0"]),
                    ),
                    min_size=size,
                    max_size=size,
                )
            ),
            dtype=str,
        )
    elif dtype == "complex128":
        values = np.array(
            draw(
                st.lists(
                    st.complex_numbers(max_magnitude=1e10, allow_nan=False),
                    min_size=size,
                    max_size=size,
                )
            ),
            dtype=complex,
        )
    else:
        values = np.arange(size).astype(dtype)
    X = values.reshape(n, m)
    layout = draw(st.sampled_from(["C", "F", "strided", "transposed"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":  # a view with a step: not contiguous
        X = np.repeat(X, 2, axis=0)[::2]
    elif layout == "transposed":
        X = np.ascontiguousarray(X.T).T
    event(f"array dtype {dtype}, layout {layout}")
    return X


SPARSE_FORMATS = ["csr", "csc", "coo", "bsr", "lil", "dok", "dia"]


@st.composite
def sparse_matrices(draw):
    n, m = draw(n_rows), draw(n_columns.filter(bool))
    fmt = draw(st.sampled_from(SPARSE_FORMATS))
    dtype = draw(
        st.sampled_from(
            ["float64", "float64", "float32", "int64", "bool", "complex128"]
        )
    )
    dense = np.zeros((n, m), dtype=dtype)
    stored = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, m - 1)), max_size=n * m
        )
    )
    values = {
        "float64": draw(some_infinite),
        "float32": floats32,
        "int64": _ints("int64"),
        "bool": st.just(True),
        "complex128": st.complex_numbers(max_magnitude=10, allow_nan=False),
    }[dtype]
    for i, j in stored:
        dense[i, j] = draw(values)
    kind = draw(st.sampled_from(["matrix", "array"]))
    maker = {"matrix": sparse.csr_matrix, "array": sparse.csr_array}[kind]
    X = maker(dense).asformat(fmt)
    event(f"sparse {kind} {fmt} {dtype}")
    return X


@st.composite
def nested_lists(draw):
    n, m = draw(n_rows), draw(n_columns.filter(bool))
    # Each column holds numbers (with None), any scalars, or nested values.
    numbers = st.one_of(python_numbers, st.none())
    kinds = [numbers] * 4 + [python_scalars, st.one_of(nested_values, numbers)]
    cells = [draw(st.sampled_from(kinds)) for _ in range(m)]
    rows = [[draw(cell) for cell in cells] for _ in range(n)]
    if draw(st.integers(0, 9)) == 0 and n > 1:  # a ragged row
        rows[0] = rows[0] + [0.0]
    event(f"list of {n} rows of {m}")
    return rows


# ------------------------------------------------------------------ checks
# Words by which an error message names the problem when it names no column.
PROBLEM_WORDS = (
    "infinity",
    "complex",
    "sample",
    "feature",
    "column",
    "categorical",
    "non-numeric",
    "dtype",
    "float64",
    "overflow",
    "sparse",
    "hashable",
    "shape",
    "dimension",
    "string names",
    "label",
    "class",
    "rows",
    "inhomogeneous",
    "sequence",
    "argument must be",
    "could not convert",
    "dim",
    "list",
)


def _same(a, b):
    """Whether two inputs are equal, structurally (NaN equals NaN)."""
    if isinstance(a, pd.DataFrame):
        if not isinstance(b, pd.DataFrame) or list(a.columns) != list(b.columns):
            return False
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError:
            return False
        return all(
            _same(x, y)
            for x, y in zip(a.to_numpy(object).ravel(), b.to_numpy(object).ravel())
        )
    if sparse.issparse(a):
        if type(a) is not type(b) or a.dtype != b.dtype or a.shape != b.shape:
            return False
        ca, cb = a.tocoo(), b.tocoo()
        return all(
            np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
            for x, y in ((ca.row, cb.row), (ca.col, cb.col), (ca.data, cb.data))
        )
    if isinstance(a, np.ndarray):
        if not isinstance(b, np.ndarray) or a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return all(_same(x, y) for x, y in zip(a.ravel(), b.ravel()))
        return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, float) and isinstance(b, float) and a != a:
        return b != b
    if a is pd.NA or b is pd.NA:
        return a is b
    return type(a) is type(b) and a == b


def _names_column_or_problem(message, names):
    quoted = [repr(str(name)) for name in names] + [
        f"'x{j}'" for j in range(len(names))
    ]
    quoted += [f"'{j}'" for j in range(len(names))]
    return any(q in message for q in quoted) or any(
        word in message.lower() for word in PROBLEM_WORDS
    )


def _columns_of(X):
    if isinstance(X, pd.DataFrame):
        return list(X.columns)
    if isinstance(X, list):
        return list(range(max((len(r) for r in X if isinstance(r, list)), default=0)))
    return list(range(X.shape[1])) if len(np.shape(X)) == 2 else []


def _check_error(error, X, family, step):
    """A refused input: a ValueError or TypeError naming the column or problem."""
    message = str(error)
    assert isinstance(error, ValueError | TypeError), (type(error), message)
    assert _names_column_or_problem(message, _columns_of(X)), message
    event(f"{family} {step}: {type(error).__name__}: {_gist(message)}")


def _gist(message):
    """A short, example-independent form of an error message (for events)."""
    words = message.replace("\n", " ").split()
    keep = [w for w in words if not any(c.isdigit() for c in w) and "'" not in w]
    return " ".join(keep[:7])


def _check_output(Z, n_rows, width, what):
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float64, what
    assert Z.shape == (n_rows, width), (what, Z.shape)
    assert np.isfinite(Z).all(), what


def _exercise_transformer(X, family, X2=None):
    """fit, transform and score_samples on ``X``; partial_fit on ``X`` then on
    ``X2`` (another chunk of the same columns; ``X`` again by default)."""
    X2 = X if X2 is None else X2
    original = copy.deepcopy(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = ContrastiveVAETransformer(**TINY).fit(X)
        except (ValueError, TypeError) as error:
            assert _same(X, original), "the input was changed"
            _check_error(error, X, family, "fit")
            return
        assert _same(X, original), "fit changed the input"
        n = np.shape(X)[0] if not isinstance(X, list) else len(X)
        Z = est.transform(X)
        _check_output(Z, n, 8, "transform")
        assert _same(X, original), "transform changed the input"
        scores = est.score_samples(X)
        assert scores.shape == (n,) and not np.isnan(scores).any()
        # Same seed, same data: the same model; a pickle predicts the same.
        again = ContrastiveVAETransformer(**TINY).fit(copy.deepcopy(original))
        np.testing.assert_array_equal(again.transform(X), Z)
        restored = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(restored.transform(X), Z)
        event(f"{family} fit: ok")

        streamed = ContrastiveVAETransformer(**TINY).partial_fit(X)
        first = streamed.transform(X)
        original2 = copy.deepcopy(X2)
        try:
            streamed.partial_fit(X2)
        except (ValueError, TypeError) as error:
            _check_error(error, X2, family, "second partial_fit")
            assert _same(X2, original2), "partial_fit changed the input"
            # A call that raises leaves the state of the first one.
            assert streamed.n_iter_ == 1
            np.testing.assert_array_equal(streamed.transform(X), first)
            return
        assert _same(X2, original2), "partial_fit changed the input"
        Z = streamed.transform(X)
        _check_output(Z, n, 8, "partial_fit transform")
        pickled = pickle.loads(pickle.dumps(streamed))
        np.testing.assert_array_equal(pickled.transform(X), Z)
        event(f"{family} partial_fit: ok")


@_settings(TRANSFORMER_EXAMPLES)
@given(st.data())
def test_transformer_on_generated_dataframes(data):
    X, (kinds, names) = data.draw(frames())
    chunk = data.draw(frames(n=data.draw(n_rows), kinds=kinds, names=names))
    _exercise_transformer(X, "DataFrame", chunk[0])


@_settings(TRANSFORMER_EXAMPLES)
@given(st.data())
def test_transformer_on_generated_arrays(data):
    X = data.draw(arrays())
    chunk = data.draw(
        arrays(m=X.shape[1], dtype=str(X.dtype) if X.dtype.kind != "U" else "str")
    )
    _exercise_transformer(X, "ndarray", chunk)


@_settings(TRANSFORMER_EXAMPLES)
@given(sparse_matrices())
def test_transformer_on_generated_sparse_matrices(X):
    _exercise_transformer(X, "sparse")


@_settings(TRANSFORMER_EXAMPLES)
@given(nested_lists())
def test_transformer_on_generated_lists(X):
    _exercise_transformer(X, "list")


@_settings(TRANSFORMER_EXAMPLES)
@given(st.data())
def test_transform_after_fit_on_ordinary_data(data):
    """Fitted on ordinary data, then given hostile rows of the same columns
    (extreme values, missing values, unseen categories) to transform."""
    kinds = data.draw(
        st.lists(
            st.sampled_from(
                ["float64", "float64", "int64", "category", "object", "bool"]
            ),
            min_size=1,
            max_size=3,
        )
    )
    names = [f"c{j}" for j in range(len(kinds))]
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            name: (
                rng.normal(size=12)
                if kind == "float64"
                else rng.integers(0, 5, 12)
                if kind == "int64"
                else pd.Categorical(rng.choice(["a", "b"], 12))
                if kind == "category"
                else rng.choice(["u", "v"], 12).astype(object)
                if kind == "object"
                else rng.random(12) > 0.5
            )
            for name, kind in zip(names, kinds)
        }
    )
    hostile_kinds = ["float64" if k == "int64" else k for k in kinds]
    frame, _ = data.draw(
        frames(n=data.draw(st.integers(1, 6)), kinds=hostile_kinds, names=names)
    )
    for name, kind in zip(names, kinds):  # the fitted dtypes, where they hold
        if kind == "category":
            frame[name] = frame[name].astype("category")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = ContrastiveVAETransformer(**TINY).fit(train)
        original = frame.copy(deep=True)
        for representation in ("hidden", "latent"):
            with_representation(est, representation)
            width = 8 if representation == "hidden" else 2
            try:
                Z = est.transform(frame)
            except (ValueError, TypeError) as error:
                _check_error(error, frame, "transform after fit", representation)
                continue
            _check_output(Z, len(frame), width, "transform")
            event(f"transform after fit {representation}: ok")
        try:
            scores = est.score_samples(frame)
        except (ValueError, TypeError) as error:
            _check_error(error, frame, "score_samples after fit", "score")
        else:
            assert not np.isnan(scores).any()
            kind = "-inf" if np.isinf(scores).any() else "finite"
            event(f"score_samples after fit: {kind}")
        assert _same(frame, original)


@_settings(CLASSIFIER_EXAMPLES)
@given(st.data())
def test_classifier_on_generated_input(data):
    family = data.draw(
        st.sampled_from(
            ["numeric", "DataFrame", "numeric", "ndarray", "sparse", "list"]
        )
    )
    strategy = {
        "DataFrame": frames().map(lambda fs: fs[0]),
        "ndarray": arrays(),
        "sparse": sparse_matrices(),
        "list": nested_lists(),
        # Tables the classifier fits (extreme and missing values, categories),
        # so that most examples reach predict_proba.
        "numeric": st.integers(4, 8)
        .flatmap(
            lambda n: frames(
                n=n,
                kinds=["float64", "float64", "category", "Int64"][: 1 + n % 4],
                names=["a", "b", "c", "d"][: 1 + n % 4],
            )
        )
        .map(lambda fs: fs[0]),
    }[family]
    X = data.draw(strategy)
    n = len(X) if isinstance(X, list) else X.shape[0]
    labels = st.sampled_from([-1, -1, 0, 1, 2])
    y = data.draw(st.lists(labels, min_size=n, max_size=n))
    if family == "numeric":  # two classes labeled, at least
        y[:2] = [0, 1]
    y = np.array(y, dtype=int)
    original, original_y = copy.deepcopy(X), y.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = ContrastiveVAEClassifier(**TINY)
        try:
            clf.fit(X, y)
        except (ValueError, TypeError) as error:
            assert _same(X, original) and np.array_equal(y, original_y)
            _check_error(error, X, f"classifier {family}", "fit")
            assert not hasattr(clf, "classes_")  # left unfitted
            return
        assert _same(X, original) and np.array_equal(y, original_y)
        proba = clf.predict_proba(X)
        _check_output(proba, n, len(clf.classes_), "predict_proba")
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert set(clf.classes_) <= {0, 1, 2}
        again = ContrastiveVAEClassifier(**TINY).fit(copy.deepcopy(original), y)
        np.testing.assert_array_equal(again.predict_proba(X), proba)
        restored = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(restored.predict_proba(X), proba)
        event(f"classifier {family} fit: ok")
