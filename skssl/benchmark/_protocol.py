"""The evaluation protocol: split, fit on the training part, score on the rest.

The paper's protocol is a stratified 80/20 split per seed; every learned
step (encoding statistics, the SSL model, the probe's C) sees the training
part only. With OpenML splits the seed is instead the fold index of the
task's own 10-fold cross-validation.

Choosing settings (defaults, a grid) by the accuracy on those test parts
would make the test figures optimistic. The validation split serves that
choice instead: it splits the *training part* of the same 80/20 split again
(75/25, stratified), fits on the first piece and scores the second, so the
test rows of every seed are never read.
"""

import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from time import perf_counter

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from skssl.training import CURVES, curve_attribute

from ._methods import MethodContext, find_ssl_transformer, get_method

HOLDOUT = "holdout"
OPENML = "openml"
VALIDATION = "validation"
SPLITS = (HOLDOUT, OPENML, VALIDATION)
TEST_SIZE = 0.2
# Share of the training part held out for validation: 25 % of 80 % is 20 % of
# the rows, the size of the test part.
VALIDATION_SIZE = 0.25


def holdout_split(y, seed, test_size=TEST_SIZE):
    """Stratified train/test split of the rows, reproducible from ``seed``.

    Falls back to an unstratified split (with a warning) when a class has a
    single row, which stratification cannot place on both sides.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    seed : int
    test_size : float, default=0.2

    Returns
    -------
    train, test : ndarray of int
        Sorted row positions.

    Examples
    --------
    >>> import numpy as np
    >>> train, test = holdout_split(np.repeat([0, 1], 10), seed=0)
    >>> len(train), len(test)
    (16, 4)
    """
    y = np.asarray(y)
    rows = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    stratify = y
    if counts.min() < 2:
        warnings.warn(
            "A class has a single row; the train/test split is not stratified.",
            stacklevel=2,
        )
        stratify = None
    train, test = train_test_split(
        rows, test_size=test_size, stratify=stratify, random_state=seed
    )
    return np.sort(train), np.sort(test)


def validation_split(y, seed):
    """Rows to fit on and rows to validate on, all from the training part.

    The training part is that of :func:`holdout_split` with the same
    ``seed``; it is split again (stratified, 75/25). The test part of the
    holdout split is in neither output.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    seed : int

    Returns
    -------
    fit, validation : ndarray of int
        Sorted row positions.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1], 10)
    >>> fit, validation = validation_split(y, seed=0)
    >>> _, test = holdout_split(y, seed=0)
    >>> len(fit), len(validation), bool(np.intersect1d(validation, test).size)
    (12, 4, False)
    """
    y = np.asarray(y)
    train, _ = holdout_split(y, seed)
    inner_fit, inner_validation = holdout_split(
        y[train], seed, test_size=VALIDATION_SIZE
    )
    return train[inner_fit], train[inner_validation]


def split_rows(dataset, seed, split=HOLDOUT):
    """Row positions to fit on and to score on, for one repetition.

    Parameters
    ----------
    dataset : Dataset
    seed : int
        Random seed of the holdout split, or fold index of OpenML splits.
    split : {"holdout", "openml", "validation"}
        ``"validation"`` scores on part of the holdout training rows (see
        :func:`validation_split`), for choosing settings.

    Returns
    -------
    train, test : ndarray of int
    """
    if split == HOLDOUT:
        return holdout_split(dataset.y, seed)
    if split == OPENML:
        return dataset.openml_fold(seed)
    if split == VALIDATION:
        return validation_split(dataset.y, seed)
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")


@dataclass
class Outcome:
    """The result of one (dataset, method, seed) evaluation.

    Attributes
    ----------
    key : tuple
        ``(dataset_id, method, seed, split)``.
    row : dict or None
        The results row; None when the evaluation failed.
    curves : dict or None
        Per-epoch loss curves of the SSL model, when the method has one.
    error : str or None
        Traceback of the failure.
    """

    key: tuple
    row: dict = None
    curves: dict = None
    error: str = None


def _summarise_warnings(caught):
    """'ConvergenceWarning x3; UserWarning x1' from recorded warnings."""
    counts = Counter(
        record.category.__name__
        for record in caught
        if not issubclass(
            record.category, (DeprecationWarning, PendingDeprecationWarning)
        )
    )
    return "; ".join(f"{name} x{count}" for name, count in sorted(counts.items()))


def _loss_curves(transformer):
    """Term -> per-epoch values of a fitted transformer, for each of CURVES."""
    return {
        term: [float(v) for v in getattr(transformer, curve_attribute(term))]
        for term in CURVES
    }


def evaluate(dataset, method, seed, split=HOLDOUT, ssl_params=None):
    """Fit ``method`` on the training part of ``dataset`` and score the rest.

    Parameters
    ----------
    dataset : Dataset
    method : str
        A method name (see :func:`~skssl.benchmark._methods.get_method`).
    seed : int
    split : {"holdout", "openml", "validation"}
    ssl_params : dict or None
        Estimator parameters applied to every SSL-based method.

    Returns
    -------
    outcome : Outcome
        The row holds ``accuracy``, ``f1_macro``, ``balanced_accuracy``,
        ``fit_seconds`` (fitting the whole pipeline, SSL model included),
        ``predict_seconds``, sizes, and for SSL methods ``n_epochs`` and
        ``ssl_fit_seconds``.
    """
    train, test = split_rows(dataset, seed, split)
    context = MethodContext(
        numeric_columns=dataset.numeric_columns,
        categorical_columns=list(dataset.categorical_columns),
        seed=int(seed),
        ssl_params=dict(ssl_params or {}),
    )
    estimator = get_method(method)(context)
    X_train, X_test = dataset.X.iloc[train], dataset.X.iloc[test]
    y_train, y_test = dataset.y[train], dataset.y[test]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = perf_counter()
        estimator.fit(X_train, y_train)
        fit_seconds = perf_counter() - start
        start = perf_counter()
        y_pred = estimator.predict(X_test)
        predict_seconds = perf_counter() - start

    probe = estimator.steps[-1][1] if hasattr(estimator, "steps") else None
    chosen_c = getattr(probe, "C_", None)
    transformer = find_ssl_transformer(estimator)
    row = {
        "dataset_id": dataset.dataset_id,
        "dataset": dataset.name,
        "method": method,
        "seed": int(seed),
        "split": split,
        "accuracy": accuracy_score(y_test, y_pred),
        "f1_macro": f1_score(y_test, y_pred, average="macro"),
        "balanced_accuracy": balanced_accuracy_score(y_test, y_pred),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "n_samples": len(dataset.y),
        "n_features": dataset.X.shape[1],
        "n_categorical": len(dataset.categorical_columns),
        "n_classes": len(np.unique(dataset.y)),
        "n_train": len(train),
        "n_test": len(test),
        "n_epochs": transformer.n_iter_ if transformer is not None else None,
        "ssl_fit_seconds": transformer.fit_time_ if transformer is not None else None,
        "probe_C": float(np.ravel(chosen_c)[0]) if chosen_c is not None else None,
        "warnings": _summarise_warnings(caught),
    }
    curves = None
    if transformer is not None:
        curves = {
            "dataset_id": dataset.dataset_id,
            "dataset": dataset.name,
            "method": method,
            "seed": int(seed),
            "split": split,
            **_loss_curves(transformer),
        }
    return Outcome(key=result_key(row), row=row, curves=curves)


def result_key(row):
    """The identity of a result: ``(dataset_id, method, seed, split)``."""
    return (str(row["dataset_id"]), str(row["method"]), int(row["seed"]), row["split"])


def evaluate_safely(dataset, method, seed, split=HOLDOUT, ssl_params=None):
    """:func:`evaluate`, turning an exception into a failed :class:`Outcome`.

    One failing (dataset, method) must not stop a long benchmark; failures
    are reported and retried by the next run.
    """
    try:
        return evaluate(dataset, method, seed, split, ssl_params)
    except Exception:  # noqa: BLE001 - reported with its traceback
        key = (dataset.dataset_id, method, int(seed), split)
        return Outcome(key=key, error=traceback.format_exc())
