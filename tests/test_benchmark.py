"""Tests of the benchmark package (skssl.benchmark) and its command line.

They need the "benchmark" extra and are skipped without it.
"""

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

for _module in ("openml", "matplotlib", "tqdm", "pyarrow", "skorch"):
    pytest.importorskip(_module, reason='needs pip install "skssl[benchmark]"')

import numpy as np
import openml
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from skssl.benchmark import _methods, _timing
from skssl.benchmark._cli import main
from skssl.benchmark._data import (
    Dataset,
    DatasetRef,
    list_openml_suite,
    load_dataset,
    read_manifest,
    select_datasets,
)
from skssl.benchmark._methods import (
    METHODS,
    MethodContext,
    find_ssl_transformer,
    get_method,
    make_raw_encoder,
)
from skssl.benchmark._protocol import (
    MIN_LABELED_PER_CLASS,
    evaluate,
    evaluate_fractions,
    holdout_split,
    labeled_subset,
    validation_split,
)
from skssl.benchmark._report import method_summary
from skssl.benchmark._runner import limited_threads
from skssl.benchmark._store import LEGACY_RESULT_COLUMNS, RESULT_COLUMNS, ResultStore

REAL_CC18 = Path("/work/shared/datasets/cc18")
TINY_SSL = {
    "max_epochs": 2,
    "n_components": 16,
    "hidden_layer_sizes": [16],
    "latent_dim": 4,
    "projection_dim": 8,
    "batch_size": 32,
    "device": "cpu",
}
TINY_SSL_ARG = ["--ssl-params", json.dumps(TINY_SSL)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_table(n_rows=80, seed=0, n_classes=2):
    """A small mixed table: 4 numeric columns (one with NaN), a categorical
    column and a categorical label ``target``, like the CC18 parquet files."""
    rng = np.random.default_rng(seed)
    X, y = make_classification(
        n_rows,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=seed,
    )
    table = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    table.loc[rng.choice(n_rows, 6, replace=False), "b"] = np.nan
    table["colour"] = pd.Categorical(rng.choice(["red", "green", "blue"], n_rows))
    table["target"] = pd.Categorical([f"class{label}" for label in y])
    return table


def write_data_dir(folder, tables):
    """Parquet files + manifest.json in the format of the CC18 offline copy."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for dataset_id, (name, table) in tables.items():
        file = f"{dataset_id}_{name}.parquet"
        table.to_parquet(folder / file)
        manifest.append(
            {
                "openml_dataset_id": dataset_id,
                "name": name,
                "file": file,
                "n_samples": len(table),
                "n_features": table.shape[1] - 1,
                "n_classes": table["target"].nunique(),
                "categorical_features": ["colour"],
                "target": "target",
            }
        )
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny fits run fastest single-threaded, and stay fast on busy machines."""
    with limited_threads(1):
        yield


@pytest.fixture
def data_dir(tmp_path):
    return write_data_dir(
        tmp_path / "data",
        {
            101: ("alpha", make_table(80, seed=0)),
            102: ("beta", make_table(90, seed=1, n_classes=3)),
        },
    )


@pytest.fixture
def counting_method(monkeypatch):
    """Register a cheap method that counts how often it is fitted."""
    calls = []

    class CountingClassifier(DummyClassifier):
        def fit(self, X, y, sample_weight=None):
            calls.append(len(X))
            return super().fit(X, y, sample_weight)

    monkeypatch.setitem(
        METHODS, "counting", lambda context: CountingClassifier(strategy="prior")
    )
    return calls


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


# ------------------------------------------------------------------- splits
def test_holdout_split_is_stratified_80_20_and_reproducible():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    train, test = holdout_split(y, seed=3)
    assert len(test) == 20 and len(train) == 80
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).tolist() == list(range(100))
    # Stratified: each class keeps its proportion in the test part.
    assert np.bincount(y[test]).tolist() == [12, 6, 2]
    again_train, again_test = holdout_split(y, seed=3)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    _, other_test = holdout_split(y, seed=4)
    assert not np.array_equal(test, other_test)


def test_holdout_split_falls_back_when_a_class_has_one_row():
    y = np.array([0] * 19 + [1])
    with pytest.warns(UserWarning, match="not stratified"):
        train, test = holdout_split(y, seed=0)
    assert len(train) == 16 and len(test) == 4


def test_validation_split_never_reads_the_test_rows():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    for seed in (0, 1, 2):
        train, test = holdout_split(y, seed)
        fit, validation = validation_split(y, seed)
        # Both parts come from the training part of the same seed's split.
        assert np.union1d(fit, validation).tolist() == train.tolist()
        assert np.intersect1d(fit, validation).size == 0
        assert np.intersect1d(validation, test).size == 0
        # 25 % of the training part: as many rows as the test part.
        assert len(validation) == len(test) == 20
        assert np.bincount(y[validation]).tolist() == [12, 6, 2]
    fit_again, validation_again = validation_split(y, 0)
    assert np.array_equal(validation_again, validation_split(y, 0)[1])
    assert not np.array_equal(validation_again, validation_split(y, 1)[1])


def test_evaluate_on_the_validation_split_scores_training_rows(monkeypatch):
    seen = {}

    class Spy(DummyClassifier):
        def predict(self, X):
            seen["predict_index"] = X.index.to_numpy()
            return super().predict(X)

    monkeypatch.setitem(METHODS, "spy", lambda context: Spy())
    dataset = load_dataset(DatasetRef("61", "iris", "sklearn", "load_iris"))
    outcome = evaluate(dataset, "spy", seed=1, split="validation")
    train, test = holdout_split(dataset.y, seed=1)
    assert np.isin(seen["predict_index"], train).all()
    assert not np.isin(seen["predict_index"], test).any()
    assert outcome.row["split"] == "validation"
    assert (outcome.row["n_train"], outcome.row["n_test"]) == (90, 30)


# ------------------------------------------------------------------ encoding
def test_raw_encoder_learns_from_training_rows_only():
    table = make_table(80)
    X = table.drop(columns="target")
    y = table["target"].to_numpy()
    train, test = holdout_split(y, seed=0)
    X_train = X.iloc[train].copy()
    X_test = X.iloc[test].copy()
    X_test["colour"] = X_test["colour"].cat.add_categories(["purple"])
    X_test.iloc[0, X_test.columns.get_loc("colour")] = "purple"

    encoder = make_raw_encoder(["a", "b", "c", "d"], ["colour"]).fit(X_train)
    numeric = encoder.named_transformers_["numeric"]
    # Imputation and scaling statistics are the training part's (NaN-aware).
    expected_mean = X_train[["a", "b", "c", "d"]].mean().to_numpy()
    np.testing.assert_allclose(numeric.named_steps["impute"].statistics_, expected_mean)
    np.testing.assert_allclose(numeric.named_steps["scale"].mean_, expected_mean)
    assert not np.allclose(expected_mean, X[["a", "b", "c", "d"]].mean().to_numpy())

    encoded_train = encoder.transform(X_train)
    np.testing.assert_allclose(encoded_train[:, :4].mean(axis=0), 0, atol=1e-12)
    encoded_test = encoder.transform(X_test)
    assert encoded_test.shape == (len(test), 4 + 3)
    assert not np.isnan(encoded_test).any()
    # A category unseen in training encodes as all zeros.
    np.testing.assert_array_equal(encoded_test[0, 4:], 0)
    np.testing.assert_allclose(encoded_test[1:, 4:].sum(axis=1), 1)


def test_evaluate_fits_every_step_on_the_training_part_only(monkeypatch):
    seen = {}

    class Spy(DummyClassifier):
        def fit(self, X, y, sample_weight=None):
            seen["fit_index"] = X.index.to_numpy()
            return super().fit(X, y, sample_weight)

        def predict(self, X):
            seen["predict_index"] = X.index.to_numpy()
            return super().predict(X)

    monkeypatch.setitem(METHODS, "spy", lambda context: Spy())
    dataset = load_dataset(DatasetRef("61", "iris", "sklearn", "load_iris"))
    outcome = evaluate(dataset, "spy", seed=5)
    train, test = holdout_split(dataset.y, seed=5)
    np.testing.assert_array_equal(seen["fit_index"], train)
    np.testing.assert_array_equal(seen["predict_index"], test)
    assert outcome.row["n_train"] == 120 and outcome.row["n_test"] == 30
    assert outcome.curves is None


# ------------------------------------------------------------------- methods
def test_method_factories_apply_cli_params_under_method_overrides():
    context = MethodContext(
        ["a"], [], seed=7, ssl_params={"optimizer": "adam", "n_components": 5}
    )
    ssl = find_ssl_transformer(get_method("ssl")(context))
    assert (ssl.optimizer, ssl.n_components, ssl.random_state) == ("adam", 5, 7)
    assert find_ssl_transformer(get_method("sgd")(context)).optimizer == "sgd"
    assert find_ssl_transformer(get_method("no-vae")(context)).vae_weight == 0
    learning_rate = get_method("ssl[learning_rate=0.003]")(context)
    assert find_ssl_transformer(learning_rate).learning_rate == 0.003
    assert find_ssl_transformer(get_method("ssl+raw")(context)) is not None
    # PCA is as wide as the SSL features: n_components, 512 by default.
    assert get_method("pca")(context).named_steps["pca"].n_components == 5
    default = MethodContext(["a"], [], 7, {})
    assert get_method("pca")(default).named_steps["pca"].n_components == 512
    assert find_ssl_transformer(get_method("raw")(context)) is None
    # One syntax for settings: the retired lr=<value> names are unknown.
    with pytest.raises(ValueError, match=r"Unknown method.*ssl\[learning_rate="):
        get_method("lr=0.003")


@pytest.mark.parametrize("method", ["raw", "pca", "ssl", "ssl+raw"])
def test_probe_chooses_c_on_shuffled_folds_seeded_by_the_context(method):
    # Tables stored sorted (OpenML's balance_scale is its design in order)
    # must not get contiguous inner folds: C would be chosen by extrapolation.
    pipeline = get_method(method)(MethodContext(["a"], [], seed=5))
    folds = pipeline.named_steps["probe"].cv
    y = np.tile([0, 1], 30)
    held_out = [test for _, test in folds.split(np.zeros((60, 1)), y)]
    for test in held_out:
        assert test.max() - test.min() > 40  # spread over the rows, not a block
    other_seed = get_method(method)(MethodContext(["a"], [], seed=6))
    again = pipeline.named_steps["probe"].cv.split(np.zeros((60, 1)), y)
    assert all(np.array_equal(a, b) for a, (_, b) in zip(held_out, again))
    changed = other_seed.named_steps["probe"].cv.split(np.zeros((60, 1)), y)
    assert not all(np.array_equal(a, b) for a, (_, b) in zip(held_out, changed))


def test_methods_with_settings_in_their_name():
    context = MethodContext(["a"], [], seed=3, ssl_params={"temperature": 0.1})
    ssl = find_ssl_transformer(
        get_method("ssl[temperature=0.5, hidden_layer_sizes=[32,16]]")(context)
    )
    assert (ssl.temperature, ssl.hidden_layer_sizes) == (0.5, (32, 16))
    assert ssl.random_state == 3
    both = get_method("ssl+raw[contrastive_loss=renyi,self_labeling=0.5]")(context)
    learned = find_ssl_transformer(both)
    assert (learned.contrastive_loss, learned.self_labeling) == ("renyi", 0.5)
    # The CLI parameters still apply where the name sets nothing.
    assert learned.temperature == 0.1
    assert "raw" in dict(both.named_steps["features"].transformer_list)
    assert _methods.canonical_method_name("ssl[temperature=0.50,kl_weight=1]") == (
        "ssl[kl_weight=1,temperature=0.5]"
    )
    for bad, message in [
        ("ssl[not_a_param=1]", "unknown ContrastiveVAETransformer parameter"),
        ("ssl[temperature]", "key=value"),
        ("ssl[random_state=1]", "random_state"),
        ("pca[n_components=3]", "Unknown method"),
    ]:
        with pytest.raises(ValueError, match=message):
            get_method(bad)
    # Values are the estimator's to check, when it is fitted.
    invalid = find_ssl_transformer(get_method("ssl[temperature=-1]")(context))
    with pytest.raises(ValueError, match="temperature"):
        invalid.fit(np.zeros((8, 2)))


def test_learning_rate_methods_use_the_bracket_syntax():
    assert _methods.learning_rate_method(1e-3) == "ssl[learning_rate=0.001]"
    assert _methods.canonical_method_name("ssl[learning_rate=1e-3]") == (
        "ssl[learning_rate=0.001]"
    )
    assert _methods.parse_learning_rate("ssl[learning_rate=0.001]") == 0.001
    for other in ["ssl", "ssl+raw[learning_rate=0.001]", "lr=0.001", "ssl[x"]:
        assert _methods.parse_learning_rate(other) is None
    # Old results folders name them lr=<value>: read under the current name.
    assert _methods.upgrade_method_name("lr=0.0010") == "ssl[learning_rate=0.001]"
    assert _methods.upgrade_method_name("lr=fast") == "lr=fast"
    assert _methods.upgrade_method_name("no-vae") == "no-vae"


def test_curve_titles_cover_the_loss_terms_of_skssl_training():
    from skssl.benchmark._plots import CURVE_TITLES
    from skssl.training import CURVES, LOSS_TERMS

    assert CURVES == (*LOSS_TERMS, "validation")
    assert set(CURVE_TITLES) == set(CURVES)


def test_every_registered_method_runs_on_mixed_data_with_nan():
    table = make_table(60, seed=2, n_classes=3)
    y = table.pop("target")
    from skssl.benchmark._data import Dataset

    dataset = Dataset("1", "tiny", table, y.to_numpy(dtype=object), ["colour"])
    for method in METHODS:
        outcome = evaluate(dataset, method, seed=0, ssl_params=TINY_SSL)
        assert 0 <= outcome.row["accuracy"] <= 1, method
        uses_ssl = find_ssl_transformer(get_method(method)(MethodContext([], [])))
        assert (outcome.curves is not None) == (uses_ssl is not None), method
        if outcome.curves is not None:
            assert len(outcome.curves["loss"]) == outcome.row["n_epochs"]
            if not method.startswith("classifier"):  # it may fine-tune on
                assert outcome.row["n_epochs"] == 2


# ---------------------------------------------------------------- data dirs
def test_manifest_reader_loads_parquet_tables(data_dir):
    refs = read_manifest(data_dir)
    assert [(r.dataset_id, r.name, r.source) for r in refs] == [
        ("101", "alpha", "parquet"),
        ("102", "beta", "parquet"),
    ]
    dataset = load_dataset(refs[1])
    assert dataset.X.shape == (90, 5)
    assert "target" not in dataset.X.columns
    assert dataset.categorical_columns == ["colour"]
    assert isinstance(dataset.X["colour"].dtype, pd.CategoricalDtype)
    assert dataset.numeric_columns == ["a", "b", "c", "d"]
    assert (dataset.X.dtypes[dataset.numeric_columns] == np.float64).all()
    assert dataset.X["b"].isna().sum() == 6
    assert sorted(set(dataset.y)) == ["class0", "class1", "class2"]


def test_manifest_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps([{"name": "x"}]))
    with pytest.raises(ValueError, match="lacks"):
        read_manifest(tmp_path)


def test_select_datasets_by_name_or_id(data_dir):
    refs = read_manifest(data_dir)
    assert [r.name for r in select_datasets(refs, ["BETA"])] == ["beta"]
    assert [r.name for r in select_datasets(refs, ["102", "alpha"])] == [
        "alpha",
        "beta",
    ]
    assert [r.name for r in select_datasets(refs, max_datasets=1)] == ["alpha"]
    with pytest.raises(ValueError, match="Unknown dataset"):
        select_datasets(refs, ["gamma"])


@pytest.mark.skipif(not REAL_CC18.is_dir(), reason="no local CC18 copy")
def test_real_cc18_manifest():
    refs = read_manifest(REAL_CC18)
    assert len(refs) >= 20
    assert all(Path(ref.location).is_file() for ref in refs)
    manifest = {
        str(e["openml_dataset_id"]): e
        for e in json.loads((REAL_CC18 / "manifest.json").read_text())
    }
    (balance_scale,) = select_datasets(refs, ["balance_scale"])
    dataset = load_dataset(balance_scale)
    entry = manifest[balance_scale.dataset_id]
    assert dataset.X.shape == (entry["n_samples"], entry["n_features"])
    assert dataset.categorical_columns == entry["categorical_features"]
    assert all(
        isinstance(dataset.X[c].dtype, pd.CategoricalDtype)
        for c in dataset.categorical_columns
    )
    assert len(np.unique(dataset.y)) == entry["n_classes"]


# -------------------------------------------------------------------- OpenML
class FakeOpenMLDataset:
    """The part of openml.datasets.OpenMLDataset the benchmark uses."""

    def __init__(self, name, table, target):
        self.name, self._table, self._target = name, table, target
        self.get_data_calls = []

    def get_data(self, target=None, dataset_format="dataframe", **kwargs):
        self.get_data_calls.append((target, dataset_format))
        X = self._table.drop(columns=target)
        # OpenML flags nominal features; here "colour" arrives as strings.
        X["colour"] = X["colour"].astype(object)
        indicator = [column == "colour" for column in X.columns]
        return X, self._table[target], indicator, list(X.columns)


class FakeOpenMLTask:
    """The part of openml.tasks.OpenMLClassificationTask the benchmark uses."""

    def __init__(self, task_id, dataset_id, dataset):
        self.task_id, self.dataset_id, self.target_name = task_id, dataset_id, "class"
        self._dataset = dataset
        rows = np.arange(len(dataset._table))
        self.folds = list(KFold(10, shuffle=True, random_state=task_id).split(rows))

    def get_dataset(self, **kwargs):
        return self._dataset

    def get_split_dimensions(self):
        return 1, 10, 1

    def get_train_test_split_indices(self, fold=0, repeat=0, sample=0):
        return self.folds[fold]


@pytest.fixture
def fake_openml(monkeypatch):
    """Replace OpenML's network layer by two in-memory tasks."""
    tables = {"alpha": make_table(80, seed=0), "beta": make_table(90, seed=1)}
    tables = {
        name: table.rename(columns={"target": "class"})
        for name, table in tables.items()
    }
    tables["beta"]["class"] = tables["beta"]["class"].astype(object)
    tables["beta"].loc[3, "class"] = np.nan  # an unlabelled row
    tasks = {
        9001: FakeOpenMLTask(
            9001, 101, FakeOpenMLDataset("alpha", tables["alpha"], "class")
        ),
        9002: FakeOpenMLTask(
            9002, 102, FakeOpenMLDataset("beta", tables["beta"], "class")
        ),
    }

    def get_suite(suite_id):
        assert suite_id == 99
        return SimpleNamespace(tasks=list(tasks), data=[101, 102])

    def get_task(task_id, download_splits=False, **kwargs):
        assert type(task_id) is int  # openml rejects numpy integers
        return tasks[task_id]

    monkeypatch.setattr(openml.study, "get_suite", get_suite)
    monkeypatch.setattr(openml.tasks, "get_task", get_task)
    return SimpleNamespace(tasks=tasks, tables=tables)


def test_openml_suite_listing_and_loading(fake_openml):
    refs = list_openml_suite()
    assert [(r.dataset_id, r.name, r.location) for r in refs] == [
        ("101", "alpha", "9001"),
        ("102", "beta", "9002"),
    ]
    dataset = load_dataset(refs[1])
    task = fake_openml.tasks[9002]
    assert task._dataset.get_data_calls == [("class", "dataframe")]
    assert dataset.categorical_columns == ["colour"]
    assert isinstance(dataset.X["colour"].dtype, pd.CategoricalDtype)
    assert len(dataset.X) == len(dataset.y) == 89  # the unlabelled row is dropped

    # OpenML fold indices count rows of the full table: after dropping row 3
    # they must still select the same rows.
    source = fake_openml.tables["beta"]
    for fold in (0, 1):
        train, test = dataset.openml_fold(fold)
        task_train, task_test = task.folds[fold]
        assert len(train) + len(test) == 89
        np.testing.assert_allclose(
            dataset.X["a"].iloc[test].to_numpy(),
            source["a"].iloc[np.setdiff1d(task_test, [3])].to_numpy(),
        )
        assert len(train) == len(np.setdiff1d(task_train, [3]))
    with pytest.raises(ValueError, match="folds 0..9"):
        dataset.openml_fold(10)


def test_cli_cc18_from_openml_with_task_splits(fake_openml, tmp_path, capsys):
    output = tmp_path / "out"
    status = main(
        ["cc18", "--openml-splits", "--methods", "raw", "--seeds", "0", "3"]
        + ["--output", str(output), "--no-progress"]
    )
    assert status == 0
    rows = read_rows(output / "results.csv")
    assert {(r["dataset"], r["seed"], r["split"]) for r in rows} == {
        (name, seed, "openml") for name in ("alpha", "beta") for seed in ("0", "3")
    }
    for row in rows:
        task = fake_openml.tasks[9001 if row["dataset"] == "alpha" else 9002]
        _, task_test = task.folds[int(row["seed"])]
        expected = (
            len(np.setdiff1d(task_test, [3]))
            if row["dataset"] == "beta"
            else len(task_test)
        )
        assert int(row["n_test"]) == expected
    assert "OpenML task folds" in (output / "summary.md").read_text()


def test_cli_reports_unreachable_openml(monkeypatch, tmp_path, capsys):
    def unreachable(suite_id):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(openml.study, "get_suite", unreachable)
    status = main(["cc18", "--output", str(tmp_path), "--no-progress"])
    assert status == 2
    assert "--data-dir" in capsys.readouterr().err


# ------------------------------------------------------------- end to end
def test_cli_end_to_end_on_a_data_dir(data_dir, tmp_path, capsys):
    output = tmp_path / "results"
    status = main(
        ["cc18", "--data-dir", str(data_dir), "--methods", "raw", "ssl"]
        + ["--seeds", "0", "1", "--output", str(output), "--no-progress"]
        + ["--threads-per-job", "1"]
        + TINY_SSL_ARG
    )
    assert status == 0
    rows = read_rows(output / "results.csv")
    assert list(rows[0]) == RESULT_COLUMNS
    assert len(rows) == 2 * 2 * 2
    assert {(r["dataset_id"], r["dataset"], r["method"], r["seed"]) for r in rows} == {
        (i, n, m, s)
        for i, n in (("101", "alpha"), ("102", "beta"))
        for m in ("raw", "ssl")
        for s in ("0", "1")
    }
    for row in rows:
        assert 0 <= float(row["accuracy"]) <= 1
        assert 0 <= float(row["f1_macro"]) <= 1
        assert float(row["fit_seconds"]) > 0
        assert row["split"] == "holdout"
        assert int(row["n_test"]) == round(0.2 * int(row["n_samples"]))
        assert row["n_epochs"] == ("2" if row["method"] == "ssl" else "")
    # The raw probe on this easy data beats chance clearly.
    raw = [float(r["accuracy"]) for r in rows if r["method"] == "raw"]
    assert np.mean(raw) > 0.6

    curves = [json.loads(line) for line in (output / "curves.jsonl").open()]
    assert len(curves) == 4 and {c["method"] for c in curves} == {"ssl"}
    assert all(len(c["loss"]) == len(c["contrastive"]) == 2 for c in curves)

    summary = (output / "summary.md").read_text()
    assert "| raw | 2 |" in summary and "| ssl | 2 |" in summary
    assert "W/T/L vs raw" in summary and "## Figures" in summary
    for figure in ("loss_curves.png", "ssl_vs_raw.png"):
        content = (output / figure).read_bytes()
        assert content.startswith(PNG_SIGNATURE) and len(content) > 5000
        assert f"]({figure})" in summary
    # Figures of methods that were not run are not drawn.
    assert not (output / "ablations.png").exists()
    assert not (output / "learning_rates.png").exists()

    stdout = capsys.readouterr().out
    assert "| method | datasets | accuracy % |" in stdout
    assert "| alpha |" in stdout and "| beta |" in stdout


def test_cli_draws_study_figures_for_study_methods(data_dir, tmp_path):
    output = tmp_path / "results"
    status = main(
        ["cc18", "--data-dir", str(data_dir), "--datasets", "alpha", "--seeds", "0"]
        + ["--methods", "ssl", "no-vae", "sgd", "ssl[learning_rate=1e-3]"]
        + ["--learning-rates", "0.001", "0.01"]
        + ["--output", str(output), "--no-progress"]
        + TINY_SSL_ARG
    )
    assert status == 0
    methods = {row["method"] for row in read_rows(output / "results.csv")}
    assert methods == {
        "ssl",
        "no-vae",
        "sgd",
        "ssl[learning_rate=0.001]",
        "ssl[learning_rate=0.01]",
    }
    for figure in ("ablations.png", "optimizers.png", "learning_rates.png"):
        assert (output / figure).read_bytes().startswith(PNG_SIGNATURE)


def test_demo_prints_a_summary_table(tmp_path, capsys):
    status = main(
        ["demo", "--datasets", "iris", "--methods", "raw", "--seeds", "0"]
        + ["--output", str(tmp_path), "--no-progress"]
    )
    assert status == 0
    stdout = capsys.readouterr().out
    assert "| raw | 1 |" in stdout and "| iris |" in stdout
    (row,) = read_rows(tmp_path / "results.csv")
    assert (row["dataset_id"], row["n_samples"], row["n_test"]) == ("61", "150", "30")


# --------------------------------------------------------------- resumption
def test_second_run_recomputes_nothing(data_dir, tmp_path, counting_method):
    output = tmp_path / "results"
    argv = ["cc18", "--data-dir", str(data_dir), "--methods", "counting"]
    argv += ["--seeds", "0", "1", "--output", str(output), "--no-progress"]
    assert main(argv) == 0
    assert len(counting_method) == 4
    first = (output / "results.csv").read_text()

    assert main(argv) == 0
    assert len(counting_method) == 4  # nothing refitted
    assert (output / "results.csv").read_text() == first

    # A run killed while writing leaves a partial line; the lost row (and only
    # it) is recomputed.
    lines = first.splitlines(keepends=True)
    (output / "results.csv").write_text("".join(lines[:-1]) + lines[-1][:12])
    assert main(argv) == 0
    assert len(counting_method) == 5
    rows = read_rows(output / "results.csv")
    assert len(rows) == 4
    assert len({(r["dataset_id"], r["seed"]) for r in rows}) == 4

    # New seeds only add their own evaluations.
    assert main(argv[:-4] + ["--seeds", "0", "1", "2"] + argv[-3:]) == 0
    assert len(counting_method) == 7

    # `report` rewrites the summary from the stored rows without fitting.
    (output / "summary.md").unlink()
    assert main(["report", "--output", str(output)]) == 0
    assert len(counting_method) == 7
    assert "| counting | 2 |" in (output / "summary.md").read_text()


def test_results_of_other_ssl_params_are_not_mixed(data_dir, tmp_path, capsys):
    output = tmp_path / "results"
    argv = ["cc18", "--data-dir", str(data_dir), "--datasets", "alpha"]
    argv += ["--methods", "raw", "--seeds", "0", "--output", str(output)]
    assert main(argv + TINY_SSL_ARG + ["--no-progress"]) == 0
    other = json.dumps({**TINY_SSL, "max_epochs": 3})
    assert main(argv + ["--ssl-params", other, "--no-progress"]) == 2
    assert "another --output" in capsys.readouterr().err


def test_failures_are_reported_and_retried(data_dir, tmp_path, monkeypatch, capsys):
    def broken(context):
        raise RuntimeError("boom")

    monkeypatch.setitem(METHODS, "broken", broken)
    output = tmp_path / "results"
    argv = ["cc18", "--data-dir", str(data_dir), "--methods", "raw", "broken"]
    argv += ["--seeds", "0", "--output", str(output), "--no-progress"]
    assert main(argv) == 1
    rows = read_rows(output / "results.csv")
    assert {r["method"] for r in rows} == {"raw"}
    failures = [json.loads(line) for line in (output / "failures.jsonl").open()]
    assert len(failures) == 2 and "RuntimeError: boom" in failures[0]["error"]
    assert "## Failures" in (output / "summary.md").read_text()

    monkeypatch.setitem(METHODS, "broken", _methods.raw_probe)  # "fixed"
    assert main(argv) == 0
    assert len(read_rows(output / "results.csv")) == 4
    assert "## Failures" not in (output / "summary.md").read_text()


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--ssl-params", '{"not_a_param": 1}', "--output", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["demo", "--ssl-params", "[1, 2]"])
    with pytest.raises(SystemExit):
        main(["cc18", "--data-dir", str(tmp_path), "--openml-splits"])
    assert main(["demo", "--methods", "nope", "--output", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        main(["demo", "--methods", "ssl[temprature=0.5]", "--output", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["cc18", "--openml-splits", "--validation", "--output", str(tmp_path)])


def test_a_bad_setting_value_fails_the_evaluations_naming_it(tmp_path, capsys):
    # Names are checked when parsing; values by the estimator, when fitted.
    argv = ["demo", "--datasets", "iris", "--seeds", "0", "--no-progress"]
    argv += ["--methods", "ssl[temperature=0]", "--output", str(tmp_path)]
    assert main(argv) == 1
    (failure,) = [json.loads(line) for line in (tmp_path / "failures.jsonl").open()]
    assert "'temperature' parameter" in failure["error"]


@pytest.mark.parametrize(
    "argv, missing",
    [
        (["demo"], "matplotlib"),
        (["cc18"], "openml"),
        (["cc18", "--data-dir", "x"], "pyarrow"),
        (["report"], "matplotlib"),
    ],
)
def test_cli_without_the_benchmark_extra_says_how_to_install_it(
    argv, missing, monkeypatch, tmp_path, capsys
):
    from skssl.benchmark import _cli

    find_spec = _cli.importlib.util.find_spec
    monkeypatch.setattr(
        _cli.importlib.util,
        "find_spec",
        lambda name, *args: None if name == missing else find_spec(name, *args),
    )
    assert main([*argv, "--output", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert missing in line and 'pip install "skssl[benchmark]"' in line
    assert not (tmp_path / "results.csv").exists()


def test_rows_of_retired_lr_methods_read_under_their_current_name(tmp_path):
    store = ResultStore(tmp_path)
    key = {"dataset_id": "1", "dataset": "x", "seed": 0, "split": "holdout"}
    for method, accuracy in (("lr=1e-3", 0.5), ("raw", 0.6)):
        row = {**key, "method": method, "accuracy": accuracy}
        curves = {**key, "method": method, "loss": [1.0]}
        store.append(SimpleNamespace(key=None, row=row, curves=curves, error=None))
    assert "lr=1e-3" in store.results_path.read_text()  # the file is kept as is
    results = store.read_results()
    assert results["method"].tolist() == ["ssl[learning_rate=0.001]", "raw"]
    assert ("1", "ssl[learning_rate=0.001]", 0, "holdout", 1.0) in (
        store.finished_keys()
    )
    methods = [record["method"] for record in store.read_curves()]
    assert methods == ["ssl[learning_rate=0.001]", "raw"]


def test_cli_validation_runs_are_kept_apart_from_test_results(data_dir, tmp_path):
    output = tmp_path / "results"
    common = ["cc18", "--data-dir", str(data_dir), "--datasets", "alpha"]
    common += ["--seeds", "0", "--output", str(output), "--no-progress"]
    common += TINY_SSL_ARG
    methods = ["--methods", "raw", "ssl[temperature=0.5]"]
    assert main(common + methods + ["--validation"]) == 0
    assert main(common + ["--methods", "raw"]) == 0
    rows = read_rows(output / "results.csv")
    assert sorted((r["method"], r["split"]) for r in rows) == [
        ("raw", "holdout"),
        ("raw", "validation"),
        ("ssl[temperature=0.5]", "validation"),
    ]
    validation_raw = next(
        r for r in rows if r["split"] == "validation" and r["method"] == "raw"
    )
    n_samples = int(validation_raw["n_samples"])
    assert int(validation_raw["n_test"]) == round(0.2 * n_samples)
    # A report over both kinds of split must say which one it summarises.
    assert main(["report", "--output", str(output)]) == 2
    assert main(["report", "--output", str(output), "--split", "validation"]) == 0
    summary = (output / "summary.md").read_text()
    assert "| ssl[temperature=0.5] | 1 |" in summary
    assert "split validation" in summary
    assert "## Validation accuracy per dataset" in summary
    assert "Test accuracy" not in summary
    assert main(["report", "--output", str(output), "--split", "holdout"]) == 0
    assert "## Test accuracy per dataset" in (output / "summary.md").read_text()


# ------------------------------------------------------------------- report
def test_method_summary_counts_wins_ties_losses_and_ranks():
    rows = []
    accuracies = {
        "d1": {"raw": 0.80, "ssl": 0.90, "pca": 0.70},
        "d2": {"raw": 0.80, "ssl": 0.803, "pca": 0.79},
        "d3": {"raw": 0.80, "ssl": 0.70, "pca": 0.60},
    }
    for dataset, scores in accuracies.items():
        for method, accuracy in scores.items():
            for seed, shift in ((0, -0.01), (1, 0.01)):  # seed mean = accuracy
                rows.append(
                    {
                        "dataset": dataset,
                        "method": method,
                        "seed": seed,
                        "accuracy": accuracy + shift,
                        "f1_macro": accuracy,
                        "fit_seconds": 1.0,
                        "predict_seconds": 0.5,
                    }
                )
    summary = method_summary(pd.DataFrame(rows))
    assert summary.loc["ssl", ["wins", "ties", "losses"]].tolist() == [1, 1, 1]
    assert summary.loc["pca", ["wins", "ties", "losses"]].tolist() == [0, 0, 3]
    assert np.isnan(summary.loc["raw", "wins"])
    assert summary.loc["ssl", "accuracy"] == pytest.approx((0.9 + 0.803 + 0.7) / 3)
    # Ranks per dataset: d1 ssl>raw>pca, d2 ssl>raw>pca, d3 raw>ssl>pca.
    assert summary.loc["ssl", "mean_rank"] == pytest.approx(4 / 3)
    assert summary.loc["raw", "mean_rank"] == pytest.approx(5 / 3)
    assert summary.loc["pca", "mean_rank"] == pytest.approx(3)
    assert summary.loc["raw", "seconds"] == pytest.approx(3 * 2 * 1.5)


def test_store_keeps_the_last_row_of_a_repeated_key(tmp_path):
    store = ResultStore(tmp_path)
    base = {"dataset_id": "1", "dataset": "x", "method": "raw", "split": "holdout"}
    for accuracy in (0.5, 0.75):
        row = {**base, "seed": 0, "accuracy": accuracy}
        store.append(SimpleNamespace(key=None, row=row, curves=None, error=None))
    results = store.read_results()
    assert results["accuracy"].tolist() == [0.75]
    assert store.finished_keys() == {("1", "raw", 0, "holdout", 1.0)}


def test_speed_cli_prints_a_table_row_per_configuration(capsys):
    status = main(
        [
            "speed",
            "--rows",
            "300",
            "--columns",
            "4",
            "--batch-sizes",
            "32",
            "--steps",
            "2",
            "--no-reference",
            "--threads",
            "1",
            "--no-accuracy",
        ]
    )
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| 300 |")]
    assert len(rows) == 1 and "| 32 |" in rows[0]
    assert lines[-1] == rows[0]  # no time-to-accuracy line after the table
    assert any(
        line.startswith("model: hidden_layer_sizes=(256, 256)") for line in lines
    )


@pytest.mark.parametrize(
    "option, value",
    [("--rows", "0"), ("--batch-sizes", "0"), ("--steps", "0"), ("--rounds", "0")],
)
def test_speed_cli_refuses_sizes_that_cannot_be_measured(option, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["speed", option, value])
    assert exit_info.value.code == 2
    assert f"{option} must be at least 1" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-GPU message")
def test_speed_cli_refuses_a_device_it_cannot_use(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["speed", "--device", "cuda"])
    assert exit_info.value.code == 2
    assert "--device: device='cuda' was requested but CUDA is not available" in (
        capsys.readouterr().err
    )


def test_interleaved_rates_take_turns_and_keep_the_median_round(monkeypatch):
    # A fake clock: each step of loop "a" costs 1 s, of "b" 2 s, and a slow
    # spell adds 100 s to whichever loop runs during the second round's turn.
    now = 0.0
    calls = []

    def loop(name, seconds_per_step):
        def run(n_steps):
            nonlocal now
            calls.append(name)
            spell = 100.0 if len(calls) == 5 else 0.0  # round 2, loop "a"
            now += n_steps * seconds_per_step + spell

        return run

    monkeypatch.setattr(_timing.time, "perf_counter", lambda: now)
    rates = _timing.interleaved_rates(
        {"a": loop("a", 1.0), "b": loop("b", 2.0)},
        n_steps=10,
        n_warmup=3,
        n_rounds=3,
        batch_size=4,
        device=torch.device("cpu"),
    )
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-ups, then turns
    assert rates == {"a": 10 * 4 / 10.0, "b": 10 * 4 / 20.0}  # spell left out


def test_changed_settings_are_refused_with_the_differences_named(tmp_path):
    store = ResultStore(tmp_path)
    store.check_config({"ssl_params": {"temperature": 0.2, "n_components": 128}})
    store.results_path.write_text("")  # some results exist
    store.check_config({"ssl_params": {"temperature": 0.2, "n_components": 128}})
    with pytest.raises(ValueError) as error:
        store.check_config(
            {"ssl_params": {"temperature": 0.5, "n_components": 128, "new": 1}}
        )
    message = str(error.value)
    assert "ssl_params.temperature: 0.2 -> 0.5" in message
    assert "ssl_params.new: <absent> -> 1" in message
    assert "n_components" not in message


# ------------------------------------------------------ label fractions
def test_labeled_subset_is_stratified_reproducible_and_nested():
    y = np.repeat(["a", "b", "c", "d"], [400, 100, 30, 2])
    previous = None
    for fraction in (0.01, 0.05, 0.1, 0.25, 0.5):
        labeled = labeled_subset(y, fraction, seed=3)
        assert np.array_equal(labeled, np.unique(labeled))  # sorted, no repeats
        counts = dict(zip(*np.unique(y[labeled], return_counts=True)))
        for label, n_rows in (("a", 400), ("b", 100), ("c", 30)):
            expected = max(MIN_LABELED_PER_CLASS, int(fraction * n_rows + 0.5))
            assert counts[label] == expected, (fraction, label)
        assert counts["d"] == 2  # a class smaller than the minimum: all of it
        assert np.array_equal(labeled, labeled_subset(y, fraction, seed=3))
        if previous is not None:  # larger fractions add rows
            assert np.isin(previous, labeled).all()
        previous = labeled
    assert not np.array_equal(labeled_subset(y, 0.1, 3), labeled_subset(y, 0.1, 4))
    assert labeled_subset(y, 1.0, seed=3).tolist() == list(range(len(y)))
    with pytest.raises(ValueError, match="fraction"):
        labeled_subset(y, 0.0, seed=0)


class RecordingFeatures(TransformerMixin, BaseEstimator):
    """A label-free step recording the rows it is fitted on."""

    def __init__(self, log=None):
        self.log = log

    def fit(self, X, y=None):
        self.log.append(("features", X.index.to_numpy(), y))
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return X[["a", "c"]].to_numpy()


class RecordingProbe(DummyClassifier):
    def __init__(self, log=None):
        self.log = log
        super().__init__(strategy="prior")

    def fit(self, X, y, sample_weight=None):
        self.log.append(("probe", len(X), np.asarray(y).copy()))
        return super().fit(X, y, sample_weight)


class RecordingSemiSupervised(_methods.SelfTrainingProbe):
    """Recognised as semi-supervised; records what it is fitted on."""

    def __init__(self, log=None):
        self.log = log
        super().__init__()

    def fit(self, X, y):
        self.log.append(("semi", X.index.to_numpy(), np.asarray(y).copy()))
        self.classes_ = np.unique(y[y != -1])
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_label_fractions_hide_labels_from_supervised_steps_only(monkeypatch):
    log = []
    monkeypatch.setitem(
        METHODS,
        "recorded",
        lambda context: Pipeline(
            [("features", RecordingFeatures(log)), ("probe", RecordingProbe(log))]
        ),
    )
    monkeypatch.setitem(METHODS, "semi", lambda context: RecordingSemiSupervised(log))
    table = make_table(120, seed=4, n_classes=3)
    y = table.pop("target").to_numpy(dtype=object)
    dataset = Dataset("7", "tiny", table, y, ["colour"])
    fractions = [0.1, 0.5, 1.0]
    for split in ("holdout", "validation"):
        log.clear()
        train, test = (holdout_split if split == "holdout" else validation_split)(y, 2)
        outcomes = evaluate_fractions(dataset, "recorded", 2, split, None, fractions)
        outcomes += evaluate_fractions(dataset, "semi", 2, split, None, fractions)
        # The label-free step is fitted once, on every training row, unlabeled.
        features = [entry for entry in log if entry[0] == "features"]
        assert len(features) == 1
        np.testing.assert_array_equal(features[0][1], train)
        assert features[0][2] is None
        probes = [entry for entry in log if entry[0] == "probe"]
        semis = [entry for entry in log if entry[0] == "semi"]
        for fraction, probe, semi in zip(fractions, probes, semis):
            labeled = labeled_subset(y[train], fraction, seed=2)
            # The probe sees the labels of the labeled subset only ...
            assert probe[1] == len(labeled)
            np.testing.assert_array_equal(probe[2], y[train][labeled])
            # ... and the semi-supervised method every training row, the
            # same rows labeled (as class codes), -1 elsewhere.
            np.testing.assert_array_equal(semi[1], train)
            np.testing.assert_array_equal(np.flatnonzero(semi[2] != -1), labeled)
            classes = np.unique(y[train])
            np.testing.assert_array_equal(classes[semi[2][labeled]], y[train][labeled])
        for outcome, fraction in zip(outcomes, fractions * 2):
            row = outcome.row
            assert row["label_fraction"] == fraction and row["split"] == split
            assert outcome.key[-1] == fraction
            assert row["n_train"] == len(train) and row["n_test"] == len(test)
            assert row["n_labeled"] == len(labeled_subset(y[train], fraction, 2))
    # Without a fraction, every label: the protocol as it was.
    holdout_train, _ = holdout_split(y, 2)
    assert evaluate(dataset, "recorded", 2).row["n_labeled"] == len(holdout_train)


def test_semi_supervised_methods_are_recognised_and_configured():
    context = MethodContext(
        ["a"], [], seed=4, ssl_params={"max_epochs": 3, "representation": "latent"}
    )
    for method in ("self-training", "label-spreading", "classifier"):
        assert _methods.is_semi_supervised(get_method(method)(context)), method
    for method in ("raw", "hgb", "ssl", "ssl+raw"):
        assert not _methods.is_semi_supervised(get_method(method)(context)), method
    classifier = get_method("classifier[supervised_weight=0.5]")(context)
    # The CLI's SSL parameters apply where the classifier has them.
    assert (classifier.supervised_weight, classifier.max_epochs) == (0.5, 3)
    assert classifier.random_state == 4
    assert _methods.canonical_method_name("classifier[supervised_weight=0.50]") == (
        "classifier[supervised_weight=0.5]"
    )
    with pytest.raises(ValueError, match="unknown ContrastiveVAEClassifier"):
        get_method("classifier[representation=latent]")


def test_label_spreading_is_skipped_above_its_row_limit(monkeypatch, tmp_path):
    table = make_table(80, seed=5)
    y = table.pop("target").to_numpy(dtype=object)
    dataset = Dataset("8", "small", table, y, ["colour"])
    ran = evaluate(dataset, "label-spreading", seed=0, label_fraction=0.25)
    assert 0 <= ran.row["accuracy"] <= 1 and not ran.row.get("skipped")

    monkeypatch.setattr(_methods, "MAX_LABEL_SPREADING_ROWS", 50)
    skipped = evaluate(dataset, "label-spreading", seed=0, label_fraction=0.25)
    assert skipped.row["skipped"].startswith("skipped: n too large (64 training")
    assert skipped.row.get("accuracy") is None and skipped.error is None
    # Stored as finished (not retried), not summarised.
    store = ResultStore(tmp_path)
    store.append(skipped)
    store.append(ran.__class__(key=None, row={**ran.row, "method": "raw"}))
    assert skipped.key in store.finished_keys()
    assert store.read_results()["method"].tolist() == ["raw"]
    (row,) = store.read_skipped().to_dict("records")
    assert row["method"] == "label-spreading" and "too large" in row["skipped"]


def test_results_without_label_fraction_read_as_fraction_one(tmp_path):
    old_row = {
        column: value
        for column, value in zip(
            LEGACY_RESULT_COLUMNS,
            ["1", "x", "raw", "0", "holdout", "0.9"] + [""] * 20,
        )
    }
    with (tmp_path / "results.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=LEGACY_RESULT_COLUMNS)
        writer.writeheader()
        writer.writerow(old_row)
    (tmp_path / "curves.jsonl").write_text(
        json.dumps({"dataset_id": "1", "method": "ssl", "seed": 0, "split": "holdout"})
        + "\n"
    )
    store = ResultStore(tmp_path)
    results = store.read_results()
    assert results["label_fraction"].tolist() == [1.0]
    assert store.finished_keys() == {("1", "raw", 0, "holdout", 1.0)}
    assert store.read_curves()[0]["label_fraction"] == 1.0
    # New rows, of other fractions too, append to the upgraded file.
    row = {**old_row, "seed": 0, "accuracy": 0.5, "label_fraction": 0.1}
    store.append(SimpleNamespace(key=None, row=row, curves=None, error=None))
    assert list(read_rows(store.results_path)[0]) == RESULT_COLUMNS
    assert ResultStore(tmp_path).finished_keys() == {
        ("1", "raw", 0, "holdout", 1.0),
        ("1", "raw", 0, "holdout", 0.1),
    }


def test_cli_label_fractions_on_demo(tmp_path, capsys):
    output = tmp_path / "results"
    argv = ["demo", "--datasets", "iris", "--seeds", "0", "--no-progress"]
    argv += ["--label-fraction", "0.1", "1", "--output", str(output)]
    argv += ["--methods", "raw", "hgb", "self-training", "label-spreading", "ssl"]
    argv += ["classifier[consistency_weight=0]"] + TINY_SSL_ARG
    assert main(argv) == 0
    rows = read_rows(output / "results.csv")
    assert len(rows) == 6 * 2
    assert {row["label_fraction"] for row in rows} == {"0.1", "1.0"}
    # iris: 120 training rows, 40 per class; 10 % is 4 per class.
    for row in rows:
        expected = "12" if row["label_fraction"] == "0.1" else "120"
        assert (row["n_train"], row["n_labeled"]) == ("120", expected)
    # The transformer is fitted once for both fractions: the same fit.
    ssl = [row for row in rows if row["method"] == "ssl"]
    assert ssl[0]["ssl_fit_seconds"] == ssl[1]["ssl_fit_seconds"]
    curves = [json.loads(line) for line in (output / "curves.jsonl").open()]
    ssl_curves = [c for c in curves if c["method"] == "ssl"]
    assert [c["label_fraction"] for c in ssl_curves] == [0.1, 1.0]
    assert ssl_curves[0]["loss"] == ssl_curves[1]["loss"]

    summary = (output / "summary.md").read_text()
    assert "## Accuracy per label fraction (%)" in summary
    assert "| method | 0.1 | 1 |" in summary
    assert "## W/T/L vs raw per label fraction" in summary
    assert "## Methods (label fraction 0.1)" in summary
    assert "Label fractions: 0.1 1" in summary
    figure = (output / "label_fractions.png").read_bytes()
    assert figure.startswith(PNG_SIGNATURE) and "](label_fractions.png)" in summary
    assert "| self-training |" in capsys.readouterr().out

    # Resumable per fraction: a new fraction runs only its own evaluations.
    assert main(argv) == 0
    assert len(read_rows(output / "results.csv")) == 12
    argv[argv.index("--label-fraction") + 1] = "0.25"
    assert main(argv) == 0
    assert len(read_rows(output / "results.csv")) == 18


def test_cli_rejects_bad_label_fractions(tmp_path):
    for bad in ("0", "1.5", "half"):
        with pytest.raises(SystemExit):
            main(["demo", "--label-fraction", bad, "--output", str(tmp_path)])
