"""Benchmark datasets: which ones exist in each source, and how to load them.

Three sources give the same :class:`Dataset`:

* ``"sklearn"``: small datasets that ship with scikit-learn (offline demo);
* ``"parquet"``: a folder of parquet files described by a ``manifest.json``
  (the offline copy of OpenML-CC18, see :func:`read_manifest`);
* ``"openml"``: the real OpenML-CC18 suite through the ``openml`` package and
  its local cache.

Listing a source returns lightweight :class:`DatasetRef` objects; the data are
only read by :func:`load_dataset`, inside the worker that needs them, so that
parallel workers do not receive whole tables through pickling and finished
datasets are never read again when a run resumes.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

CC18_SUITE_ID = 99

# name -> (dataset_id, scikit-learn loader). The ids are OpenML's where the
# scikit-learn copy is the same table (breast cancer is CC18's wdbc), so that
# demo rows line up with CC18 rows.
DEMO_DATASETS = {
    "wdbc": ("1510", "load_breast_cancer"),
    "digits": ("sklearn-digits", "load_digits"),
    "wine": ("187", "load_wine"),
    "iris": ("61", "load_iris"),
}

_MANIFEST_KEYS = ("openml_dataset_id", "name", "file", "categorical_features")


@dataclass(frozen=True)
class DatasetRef:
    """Where a dataset comes from, without its data.

    Hashable and made of plain values, so it pickles cheaply to workers and
    compares equal after the trip.

    Attributes
    ----------
    dataset_id : str
        Identifier written to the results (the OpenML dataset id when known).
    name : str
    source : {"sklearn", "parquet", "openml"}
    location : str
        The scikit-learn loader's name, the parquet file's path, or the
        OpenML task id.
    target : str
        Label column (parquet source only).
    categorical_features : tuple of str
        Categorical columns declared by the manifest (parquet source only).
    """

    dataset_id: str
    name: str
    source: str
    location: str
    target: str = "target"
    categorical_features: tuple = ()


@dataclass
class Dataset:
    """A loaded classification table.

    Attributes
    ----------
    dataset_id : str
    name : str
    X : DataFrame of shape (n_samples, n_features)
        Categorical features are pandas ``category`` columns; numeric features
        are float64 (NaN marks missing values).
    y : ndarray of shape (n_samples,)
        Class labels (no missing values).
    categorical_columns : list of str
    openml_task : object or None
        The OpenML task, which defines predefined cross-validation splits.
    source_rows : ndarray of int or None
        Position of each row of ``X`` in the source table (rows without a
        label are dropped), to map predefined split indices onto ``X``.
    """

    dataset_id: str
    name: str
    X: pd.DataFrame
    y: np.ndarray
    categorical_columns: list
    openml_task: object = None
    source_rows: np.ndarray = field(default=None, repr=False)

    @property
    def numeric_columns(self):
        """Columns of ``X`` that are not categorical, in table order."""
        categorical = set(self.categorical_columns)
        return [column for column in self.X.columns if column not in categorical]

    def openml_fold(self, fold):
        """Train and test row positions of fold ``fold`` of the OpenML task.

        Parameters
        ----------
        fold : int
            Fold index (repeat 0) of the task's estimation procedure.

        Returns
        -------
        train, test : ndarray of int
            Positions in ``X``.
        """
        if self.openml_task is None:
            raise ValueError(
                f"Dataset {self.name!r} has no OpenML task, so no OpenML splits; "
                "OpenML splits need the OpenML source (no --data-dir)."
            )
        _, n_folds, _ = self.openml_task.get_split_dimensions()
        if not 0 <= fold < n_folds:
            raise ValueError(
                f"OpenML task of {self.name!r} has folds 0..{n_folds - 1}; "
                f"fold {fold} was requested (with --openml-splits, --seeds are "
                "fold indices)."
            )
        train, test = self.openml_task.get_train_test_split_indices(fold=fold)
        # The task's indices count rows of the full table; rows without a
        # label were dropped from X, so translate positions.
        position_in_x = pd.Series(
            np.arange(len(self.source_rows)), index=self.source_rows
        )
        train = position_in_x.reindex(np.asarray(train)).dropna().to_numpy(int)
        test = position_in_x.reindex(np.asarray(test)).dropna().to_numpy(int)
        return train, test


def as_benchmark_table(X, categorical_mask):
    """Give a feature table the dtypes the benchmark relies on.

    Categorical columns (those in ``categorical_mask``, plus any remaining
    non-numeric column) become pandas ``category`` columns; the rest become
    float64. Column names become strings.

    Parameters
    ----------
    X : DataFrame
    categorical_mask : sequence of bool
        One flag per column of ``X``.

    Returns
    -------
    X : DataFrame
    categorical_columns : list of str
    """
    X = X.copy()
    X.columns = [str(column) for column in X.columns]
    categorical_columns = []
    for column, is_categorical in zip(X.columns, categorical_mask):
        values = X[column]
        if is_categorical or not (
            pd.api.types.is_numeric_dtype(values)
            and not pd.api.types.is_bool_dtype(values)
        ):
            if not isinstance(values.dtype, pd.CategoricalDtype):
                X[column] = values.astype("category")
            categorical_columns.append(column)
        else:
            X[column] = values.astype(np.float64)
    return X, categorical_columns


def _drop_unlabelled(X, y):
    """Rows with a label, and their positions in the original table."""
    y = pd.Series(y).reset_index(drop=True)
    labelled = y.notna().to_numpy()
    source_rows = np.flatnonzero(labelled)
    labels = y[labelled]
    if isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype(labels.cat.categories.dtype)
    return (
        X.iloc[source_rows].reset_index(drop=True),
        labels.to_numpy(),
        source_rows,
    )


# ------------------------------------------------------------------ listing
def list_demo_datasets():
    """References to the scikit-learn datasets of the offline demo.

    Returns
    -------
    refs : list of DatasetRef
    """
    return [
        DatasetRef(dataset_id, name, "sklearn", loader)
        for name, (dataset_id, loader) in DEMO_DATASETS.items()
    ]


def read_manifest(data_dir):
    """References to the datasets of a parquet folder with a ``manifest.json``.

    The manifest is a JSON list with one object per dataset holding at least
    ``openml_dataset_id``, ``name``, ``file`` (relative to ``data_dir``) and
    ``categorical_features`` (column names); ``target`` defaults to
    ``"target"``.

    Parameters
    ----------
    data_dir : str or Path

    Returns
    -------
    refs : list of DatasetRef
        In manifest order.
    """
    data_dir = Path(data_dir)
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{manifest_path} not found: --data-dir must be a folder with "
            "parquet files and a manifest.json."
        )
    entries = json.loads(manifest_path.read_text())
    if not isinstance(entries, list):
        raise ValueError(f"{manifest_path} must hold a JSON list of datasets.")
    refs = []
    for entry in entries:
        missing = [key for key in _MANIFEST_KEYS if key not in entry]
        if missing:
            raise ValueError(
                f"{manifest_path}: entry {entry.get('name', entry)!r} lacks "
                f"{', '.join(missing)}."
            )
        refs.append(
            DatasetRef(
                dataset_id=str(entry["openml_dataset_id"]),
                name=str(entry["name"]),
                source="parquet",
                location=str(data_dir / entry["file"]),
                target=str(entry.get("target", "target")),
                categorical_features=tuple(
                    str(c) for c in entry["categorical_features"]
                ),
            )
        )
    return refs


def list_openml_suite(suite_id=CC18_SUITE_ID):
    """References to the datasets of an OpenML benchmark suite's tasks.

    Downloads (or reads from the ``openml`` cache) the suite and each task's
    description; the data themselves are fetched later, by the workers.

    Parameters
    ----------
    suite_id : int, default=99
        99 is OpenML-CC18.

    Returns
    -------
    refs : list of DatasetRef
        In suite order; ``location`` is the task id.
    """
    import openml

    suite = openml.study.get_suite(suite_id)
    refs = []
    for task_id in suite.tasks:
        task = openml.tasks.get_task(int(task_id), download_splits=False)
        dataset = task.get_dataset()
        refs.append(
            DatasetRef(
                dataset_id=str(task.dataset_id),
                name=str(dataset.name),
                source="openml",
                location=str(task_id),
                target=str(task.target_name),
            )
        )
    return refs


def select_datasets(refs, names_or_ids=None, max_datasets=None):
    """Keep the datasets named (by name or id) and at most ``max_datasets``.

    Parameters
    ----------
    refs : list of DatasetRef
    names_or_ids : list of str or None
        Case-insensitive names or dataset ids; None keeps all.
    max_datasets : int or None
        Keep the first ones (in source order) only.

    Returns
    -------
    refs : list of DatasetRef
        In source order.
    """
    if names_or_ids:
        wanted = {str(item).lower() for item in names_or_ids}
        known = {ref.name.lower() for ref in refs} | {ref.dataset_id for ref in refs}
        unknown = sorted(wanted - {key.lower() for key in known})
        if unknown:
            available = ", ".join(f"{ref.name} ({ref.dataset_id})" for ref in refs)
            raise ValueError(
                f"Unknown dataset(s) {', '.join(unknown)}. Available: {available}."
            )
        refs = [
            ref
            for ref in refs
            if ref.name.lower() in wanted or ref.dataset_id.lower() in wanted
        ]
    if max_datasets is not None:
        refs = refs[:max_datasets]
    return refs


# ------------------------------------------------------------------ loading
def load_dataset(ref):
    """Read the data of ``ref``.

    Parameters
    ----------
    ref : DatasetRef

    Returns
    -------
    dataset : Dataset
    """
    loaders = {
        "sklearn": _load_sklearn,
        "parquet": _load_parquet,
        "openml": _load_openml,
    }
    if ref.source not in loaders:
        raise ValueError(f"Unknown dataset source {ref.source!r}.")
    return loaders[ref.source](ref)


def _load_sklearn(ref):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, ref.location)(as_frame=True)
    X, categorical_columns = as_benchmark_table(
        bunch.data, [False] * bunch.data.shape[1]
    )
    X, y, source_rows = _drop_unlabelled(X, bunch.target)
    return Dataset(
        ref.dataset_id, ref.name, X, y, categorical_columns, source_rows=source_rows
    )


def _load_parquet(ref):
    table = pd.read_parquet(ref.location)
    if ref.target not in table.columns:
        raise ValueError(f"{ref.location} has no label column {ref.target!r}.")
    y = table.pop(ref.target)
    declared = set(ref.categorical_features)
    absent = declared - set(table.columns.astype(str))
    if absent:
        raise ValueError(
            f"{ref.location}: manifest lists categorical features that are not "
            f"columns: {', '.join(sorted(absent))}."
        )
    mask = [str(column) in declared for column in table.columns]
    X, categorical_columns = as_benchmark_table(table, mask)
    X, y, source_rows = _drop_unlabelled(X, y)
    return Dataset(
        ref.dataset_id, ref.name, X, y, categorical_columns, source_rows=source_rows
    )


def _load_openml(ref):
    import openml

    task = openml.tasks.get_task(int(ref.location), download_splits=False)
    table, y, categorical_indicator, _ = task.get_dataset().get_data(
        target=task.target_name, dataset_format="dataframe"
    )
    X, categorical_columns = as_benchmark_table(table, categorical_indicator)
    X, y, source_rows = _drop_unlabelled(X, y)
    return Dataset(
        ref.dataset_id,
        ref.name,
        X,
        y,
        categorical_columns,
        openml_task=task,
        source_rows=source_rows,
    )
