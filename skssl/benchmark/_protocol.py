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

The label-fraction protocol (:func:`evaluate_fractions`) hides labels:
per split, only a stratified subset of the training rows keeps its label
(:func:`labeled_subset`), the same rows for every method. Steps that use no
labels (encodings, PCA, the SSL transformer) still fit on every training
row; the supervised last step of a pipeline fits on the labeled rows only;
semi-supervised methods get every training row with -1 as the label of the
unlabeled ones. Those label-free steps do not depend on the fraction, so one
task fits them once and reuses them for each of its fractions. Test (or
validation) rows are scored as without the protocol, which is the fraction 1.
"""

import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from time import perf_counter

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skssl.training import CURVES, curve_attribute

from ._methods import (
    UNLABELED,
    MethodContext,
    SkipEvaluation,
    find_ssl_transformer,
    get_method,
    is_semi_supervised,
)

HOLDOUT = "holdout"
OPENML = "openml"
VALIDATION = "validation"
SPLITS = (HOLDOUT, OPENML, VALIDATION)
TEST_SIZE = 0.2
# Share of the training part held out for validation: 25 % of 80 % is 20 % of
# the rows, the size of the test part.
VALIDATION_SIZE = 0.25
# Fewest labeled rows per class under the label-fraction protocol (all of a
# class's rows when it has fewer): the probe chooses C by 3-fold stratified
# cross-validation, which needs as many rows per class.
MIN_LABELED_PER_CLASS = 3
# Label fraction of the protocol without hidden labels.
ALL_LABELS = 1.0
# Mixed into the seed of the labeled-subset draw, so that it is not the
# random stream of the split drawn from the same seed.
_LABEL_DRAW_SALT = 0x1ABE1


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


def fraction_key(value):
    """A label fraction as results store and compare it (None, "" -> 1.0).

    >>> fraction_key(None), fraction_key("0.1"), fraction_key(0.30000000000000004)
    (1.0, 0.1, 0.3)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return ALL_LABELS
    value = float(value)
    return ALL_LABELS if np.isnan(value) else round(value, 6)


def labeled_subset(y, fraction, seed):
    """Positions of the rows of ``y`` whose labels supervised steps may see.

    Stratified: ``round(fraction * n_c)`` rows of each class of ``n_c``
    rows, but at least :data:`MIN_LABELED_PER_CLASS` (all rows of a smaller
    class). The rows are drawn from ``seed`` alone (one permutation per
    class, whose first rows are taken), so every method sees the same ones,
    a rerun draws them again, and the subsets of growing fractions are
    nested. ``fraction=1`` keeps every row.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels of the training part.
    fraction : float in (0, 1]
    seed : int

    Returns
    -------
    labeled : ndarray of int
        Sorted positions into ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(["a", "b"], [80, 20])
    >>> labeled = labeled_subset(y, 0.1, seed=0)
    >>> np.unique(y[labeled], return_counts=True)[1].tolist()
    [8, 3]
    >>> bool(np.isin(labeled, labeled_subset(y, 0.5, seed=0)).all())
    True
    """
    y = np.asarray(y)
    fraction = float(fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    rng = np.random.default_rng([_LABEL_DRAW_SALT, int(seed)])
    _, codes = np.unique(y, return_inverse=True)
    chosen = []
    for code in range(codes.max() + 1 if len(codes) else 0):
        rows = rng.permutation(np.flatnonzero(codes == code))
        wanted = max(MIN_LABELED_PER_CLASS, int(np.floor(fraction * len(rows) + 0.5)))
        chosen.append(rows[:wanted])
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


@dataclass
class Outcome:
    """The result of one (dataset, method, seed, split, label fraction) evaluation.

    Attributes
    ----------
    key : tuple
        ``(dataset_id, method, seed, split, label_fraction)``.
    row : dict or None
        The results row; None when the evaluation failed. A skipped
        evaluation has a row whose ``skipped`` gives the reason and whose
        scores are None.
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


def _loss_curves(model):
    """Term -> per-epoch values of a fitted skssl model, for each of CURVES."""
    return {
        term: [float(v) for v in getattr(model, curve_attribute(term), [])]
        for term in CURVES
    }


@dataclass
class _Features:
    """The label-free steps of a pipeline, fitted once for every fraction."""

    steps: list = None
    train: object = None
    test: object = None
    fit_seconds: float = 0.0
    transform_seconds: float = 0.0
    warnings: list = None
    error: BaseException = None


class _Evaluation:
    """One (dataset, method, seed, split): scores at any label fraction.

    The label-free steps of a pipeline method are fitted on the first call
    and reused by the next ones (the SSL transformer is fitted once per
    dataset, seed and split whatever the number of fractions).
    """

    def __init__(self, dataset, method, seed, split, ssl_params):
        self.dataset, self.method, self.seed, self.split = dataset, method, seed, split
        self.train, self.test = split_rows(dataset, seed, split)
        self.context = MethodContext(
            numeric_columns=dataset.numeric_columns,
            categorical_columns=list(dataset.categorical_columns),
            seed=int(seed),
            ssl_params=dict(ssl_params or {}),
        )
        self.factory = get_method(method)
        self.X_train = dataset.X.iloc[self.train]
        self.X_test = dataset.X.iloc[self.test]
        self.y_train = dataset.y[self.train]
        self.y_test = dataset.y[self.test]
        self._features = None

    def _fit_features(self, pipeline):
        """Fit (or reuse) the steps before the last; returns :class:`_Features`."""
        if self._features is None:
            features = _Features()
            head = Pipeline(pipeline.steps[:-1])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    start = perf_counter()
                    features.train = head.fit_transform(self.X_train)
                    features.fit_seconds = perf_counter() - start
                    start = perf_counter()
                    features.test = head.transform(self.X_test)
                    features.transform_seconds = perf_counter() - start
                except Exception as exc:  # noqa: BLE001 - re-raised per fraction
                    features.error = exc
            features.steps = head.steps
            features.warnings = list(caught)
            self._features = features
        if self._features.error is not None:
            raise self._features.error
        return self._features

    def _fit_predict(self, estimator, labeled):
        """Fit on the training part (labels of ``labeled`` only), predict the
        scored part; returns (predictions, fit s, predict s, warnings)."""
        if is_semi_supervised(estimator):
            classes, codes = np.unique(self.y_train, return_inverse=True)
            partial = np.full(len(codes), UNLABELED, dtype=np.int64)
            partial[labeled] = codes[labeled]
            start = perf_counter()
            estimator.fit(self.X_train, partial)
            fit_seconds = perf_counter() - start
            start = perf_counter()
            y_pred = classes[np.asarray(estimator.predict(self.X_test), dtype=int)]
            return y_pred, fit_seconds, perf_counter() - start, []
        if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
            features = self._fit_features(estimator)
            estimator.steps[:-1] = features.steps
            final = estimator.steps[-1][1]
            start = perf_counter()
            final.fit(_take(features.train, labeled), self.y_train[labeled])
            fit_seconds = perf_counter() - start
            start = perf_counter()
            y_pred = final.predict(features.test)
            predict_seconds = perf_counter() - start
            return (
                y_pred,
                features.fit_seconds + fit_seconds,
                features.transform_seconds + predict_seconds,
                features.warnings,
            )
        start = perf_counter()
        estimator.fit(self.X_train.iloc[labeled], self.y_train[labeled])
        fit_seconds = perf_counter() - start
        start = perf_counter()
        y_pred = estimator.predict(self.X_test)
        return y_pred, fit_seconds, perf_counter() - start, []

    def _row(self, fraction, labeled):
        dataset = self.dataset
        return {
            "dataset_id": dataset.dataset_id,
            "dataset": dataset.name,
            "method": self.method,
            "seed": int(self.seed),
            "split": self.split,
            "label_fraction": fraction,
            "n_samples": len(dataset.y),
            "n_features": dataset.X.shape[1],
            "n_categorical": len(dataset.categorical_columns),
            "n_classes": len(np.unique(dataset.y)),
            "n_train": len(self.train),
            "n_labeled": len(labeled),
            "n_test": len(self.test),
        }

    def outcome(self, label_fraction=ALL_LABELS):
        """Fit and score at ``label_fraction``; returns an :class:`Outcome`."""
        fraction = fraction_key(label_fraction)
        labeled = labeled_subset(self.y_train, fraction, self.seed)
        estimator = self.factory(self.context)
        row = self._row(fraction, labeled)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                y_pred, fit_seconds, predict_seconds, shared = self._fit_predict(
                    estimator, labeled
                )
            except SkipEvaluation as skip:
                row["skipped"] = str(skip)
                return Outcome(key=result_key(row), row=row)

        probe = estimator.steps[-1][1] if hasattr(estimator, "steps") else None
        chosen_c = getattr(probe, "C_", None)
        model = find_ssl_transformer(estimator)
        row.update(
            {
                "accuracy": accuracy_score(self.y_test, y_pred),
                "f1_macro": f1_score(self.y_test, y_pred, average="macro"),
                "balanced_accuracy": balanced_accuracy_score(self.y_test, y_pred),
                "fit_seconds": fit_seconds,
                "predict_seconds": predict_seconds,
                "n_epochs": model.n_iter_ if model is not None else None,
                "ssl_fit_seconds": model.fit_time_ if model is not None else None,
                "probe_C": (
                    float(np.ravel(chosen_c)[0]) if chosen_c is not None else None
                ),
                "warnings": _summarise_warnings([*shared, *caught]),
            }
        )
        curves = None
        if model is not None:
            curves = {
                key: row[key]
                for key in ("dataset_id", "dataset", "method", "seed", "split")
            }
            curves["label_fraction"] = fraction
            curves.update(_loss_curves(model))
        return Outcome(key=result_key(row), row=row, curves=curves)


def _take(features, rows):
    """Rows of a transformed matrix or frame."""
    return features.iloc[rows] if hasattr(features, "iloc") else features[rows]


def evaluate(
    dataset, method, seed, split=HOLDOUT, ssl_params=None, label_fraction=ALL_LABELS
):
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
    label_fraction : float in (0, 1], default=1.0
        Share of the training labels the method may see
        (:func:`labeled_subset`); 1 is the protocol without hidden labels.

    Returns
    -------
    outcome : Outcome
        The row holds ``accuracy``, ``f1_macro``, ``balanced_accuracy``,
        ``fit_seconds`` (fitting the whole pipeline, SSL model included, also
        when that fit is shared by several fractions), ``predict_seconds``,
        sizes (``n_labeled``: training rows with their label), and for SSL
        methods ``n_epochs`` and ``ssl_fit_seconds``. A method that does not
        apply (label spreading above its row limit) gives a row with the
        reason in ``skipped`` and no scores.
    """
    return evaluate_fractions(
        dataset, method, seed, split, ssl_params, [label_fraction]
    )[0]


def evaluate_fractions(
    dataset, method, seed, split=HOLDOUT, ssl_params=None, label_fractions=(ALL_LABELS,)
):
    """:func:`evaluate` at each of ``label_fractions``, label-free steps fitted once.

    Returns
    -------
    outcomes : list of Outcome
        In the order of ``label_fractions``.
    """
    evaluation = _Evaluation(dataset, method, seed, split, ssl_params)
    return [evaluation.outcome(fraction) for fraction in label_fractions]


def result_key(row):
    """The identity of a result: ``(dataset_id, method, seed, split, label_fraction)``.

    Rows and records written before the label-fraction protocol have no
    ``label_fraction``: they are the fraction 1.
    """
    return (
        str(row["dataset_id"]),
        str(row["method"]),
        int(row["seed"]),
        row["split"],
        fraction_key(row.get("label_fraction")),
    )


def evaluate_safely(
    dataset, method, seed, split=HOLDOUT, ssl_params=None, label_fractions=(ALL_LABELS,)
):
    """:func:`evaluate_fractions`, exceptions turned into failed outcomes.

    One failing (dataset, method) must not stop a long benchmark; failures
    are reported and retried by the next run. A fraction that fails does not
    stop the others.

    Returns
    -------
    outcomes : list of Outcome
        One per fraction.
    """

    def failed(fraction):
        key = (dataset.dataset_id, method, int(seed), split, fraction_key(fraction))
        return Outcome(key=key, error=traceback.format_exc())

    try:
        evaluation = _Evaluation(dataset, method, seed, split, ssl_params)
    except Exception:  # noqa: BLE001 - reported with its traceback
        return [failed(fraction) for fraction in label_fractions]
    outcomes = []
    for fraction in label_fractions:
        try:
            outcomes.append(evaluation.outcome(fraction))
        except Exception:  # noqa: BLE001 - reported with its traceback
            outcomes.append(failed(fraction))
    return outcomes
