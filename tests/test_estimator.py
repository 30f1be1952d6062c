"""Behaviour of ContrastiveVAETransformer as a scikit-learn estimator."""

import pickle
import random
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONTRASTIVE_VARIANTS
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skssl import ContrastiveVAETransformer, RepresentationCollapseWarning
from skssl._estimator import _seed_sequence, resolve_max_epochs
from skssl._training import validation_loss
from skssl._training_data import TrainingData

FAST = dict(hidden_layer_sizes=(32,), n_components=4, max_epochs=3, random_state=0)


@parametrize_with_checks(
    [ContrastiveVAETransformer(max_epochs=10, random_state=0)],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check_name",
    [
        "check_param_validation",
        "check_set_output_transform",
        "check_set_output_transform_pandas",
        "check_global_output_transform_pandas",
        "check_transformer_get_feature_names_out",
        "check_transformer_get_feature_names_out_pandas",
        "check_dataframe_column_names_consistency",
    ],
)
def test_checks_not_run_by_check_estimator(check_name):
    check = getattr(estimator_checks, check_name)
    check("ContrastiveVAETransformer", ContrastiveVAETransformer(**FAST))


def test_default_learning_rate_and_optimizer():
    est = ContrastiveVAETransformer()
    assert est.learning_rate == 0.002
    assert est.optimizer == "adamw"
    assert est.device == "auto"


def test_pipeline_gridsearch_n_jobs_2():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]
    pipe = Pipeline(
        [
            ("ssl", ContrastiveVAETransformer(**FAST)),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    grid = {
        "ssl__contrastive_weight": [0.5, 1.0],
        "ssl__temperature": [0.1, 1.0],
        "ssl__learning_rate": [0.001, 0.002],
    }
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.named_steps["ssl"].n_iter_ >= 1


def test_gridsearch_without_labels_uses_elbo_score():
    X, _ = make_blobs(n_samples=120, n_features=6, random_state=0)
    search = GridSearchCV(
        ContrastiveVAETransformer(**FAST), {"kl_weight": [0.5, 1.0]}, cv=2
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)


@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_learns_useful_features_on_clusters(variant):
    # Four clusters hidden among noisy dimensions: a linear probe on the
    # 4-d latent code the losses shape must beat one on an untrained encoder.
    X, y = make_blobs(
        n_samples=400, n_features=4, centers=4, cluster_std=1.5, random_state=1
    )
    rng = np.random.RandomState(0)
    X = np.hstack([X, rng.normal(size=(400, 12))]) @ rng.normal(size=(16, 16))

    def probe_accuracy(max_epochs, learning_rate):
        ssl = ContrastiveVAETransformer(
            n_components=4,
            hidden_layer_sizes=(64,),
            representation="latent",
            max_epochs=max_epochs,
            learning_rate=learning_rate,
            random_state=0,
            **CONTRASTIVE_VARIANTS[variant],
        )
        pipe = Pipeline([("ssl", ssl), ("clf", LogisticRegression(max_iter=1000))])
        return cross_val_score(pipe, X, y, cv=3).mean()

    trained = probe_accuracy(max_epochs=60, learning_rate=0.002)
    untrained = probe_accuracy(max_epochs=1, learning_rate=1e-12)
    assert trained > untrained + 0.05, (trained, untrained)
    assert trained > 0.8


def test_neutral_variant_settings_reproduce_infonce():
    X, _ = load_breast_cancer(return_X_y=True)
    base = ContrastiveVAETransformer(**FAST).fit(X).transform(X)
    balanced = ContrastiveVAETransformer(
        contrastive_loss="balanced", attraction_weight=1.0, repulsion_weight=1.0, **FAST
    )
    np.testing.assert_allclose(balanced.fit(X).transform(X), base, atol=1e-5)
    refined = ContrastiveVAETransformer(self_labeling=0.0, **FAST).fit(X).transform(X)
    np.testing.assert_array_equal(refined, base)


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


def test_inverse_transform_returns_input_space(mixed_frame):
    est = ContrastiveVAETransformer(representation="latent", **FAST).fit(mixed_frame)
    back = est.inverse_transform(est.transform(mixed_frame))
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == list(mixed_frame.columns)
    assert set(back["city"].dropna()) <= {"paris", "lyon", "nice"}
    assert back["age"].notna().all()

    X, _ = load_breast_cancer(return_X_y=True)
    numeric = ContrastiveVAETransformer(representation="latent", **FAST).fit(X)
    X_back = numeric.inverse_transform(numeric.transform(X))
    assert X_back.shape == X.shape and X_back.dtype == np.float64
    # Decoded values live on the input's scale (learned de-standardisation).
    assert abs(np.mean(X_back[:, 3]) - np.mean(X[:, 3])) < 3 * np.std(X[:, 3])
    with pytest.raises(ValueError, match="n_components"):
        numeric.inverse_transform(np.zeros((2, 5)))


def test_representation_is_the_hidden_layers_or_the_posterior_mean(mixed_frame):
    est = ContrastiveVAETransformer(
        hidden_layer_sizes=(16, 8), n_components=3, max_epochs=2, random_state=0
    ).fit(mixed_frame)
    hidden = est.transform(mixed_frame)
    assert hidden.shape == (len(mixed_frame), 24) and (hidden >= 0).all()
    assert len(est.get_feature_names_out()) == 24

    # The same numbers by hand: each Linear + ReLU of the encoder in turn.
    model = est._inference_model(torch.device("cpu"))
    encoded = est.table_encoder_.transform(mixed_frame)
    numeric = torch.as_tensor(encoded.numeric, dtype=torch.float64)
    observed = torch.as_tensor(encoded.observed)
    categorical = torch.as_tensor(encoded.categorical)
    with torch.no_grad():
        features = model.encoder.input_layer(numeric, observed, categorical)
        first = torch.relu(model.encoder.body[0](features))
        second = torch.relu(model.encoder.body[2](first))
        mean, _ = model.encoder(numeric, observed, categorical)
    np.testing.assert_allclose(hidden, torch.cat([first, second], 1).numpy())
    # Allocated (other devices) or written into the caller's buffer (CPU).
    allocated = model.encoder.hidden_activations(numeric, observed, categorical)
    np.testing.assert_array_equal(allocated.numpy(), hidden)
    buffer = torch.full((len(mixed_frame), 24), np.nan, dtype=torch.float64)
    written = model.encoder.hidden_activations(
        numeric, observed, categorical, out=buffer
    )
    assert written is buffer
    np.testing.assert_array_equal(buffer.numpy(), hidden)

    # Training does not depend on the representation; only transform does.
    latent = clone(est).set_params(representation="latent").fit(mixed_frame)
    np.testing.assert_allclose(latent.transform(mixed_frame), mean.numpy())
    assert latent.get_feature_names_out().shape == (3,)
    assert latent.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(
        est.set_params(representation="latent").transform(mixed_frame),
        latent.transform(mixed_frame),
    )


def test_high_cardinality_column_is_bounded():
    rng = np.random.RandomState(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "user_id": [f"id{i}" for i in rng.permutation(n)],
            "x": rng.normal(size=n),
        }
    )
    est = ContrastiveVAETransformer(max_categories=20, **FAST).fit(frame)
    assert est.table_encoder_.cardinalities_.tolist() == [22]
    assert est.model_.encoder.input_layer.embedding.num_embeddings == 22
    assert est.model_.decoder.max_cardinality == 22


def test_numpy_categorical_features_by_index():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=80), rng.randint(0, 3, 80)]).astype(float)
    est = ContrastiveVAETransformer(categorical_features=[1], **FAST).fit(X)
    assert est.table_encoder_.cardinalities_.tolist() == [5]
    assert est.transform(X).shape == (80, 32)


def test_standardisation_uses_fit_statistics():
    rng = np.random.RandomState(0)
    X = 100 + 0.01 * rng.normal(size=(50, 3))
    est = ContrastiveVAETransformer(**FAST).fit(X)
    np.testing.assert_allclose(est.table_encoder_.mean_, X.mean(axis=0))
    encoded = est.table_encoder_.transform(X).numeric
    np.testing.assert_allclose(encoded.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(encoded.std(axis=0), 1, atol=1e-9)


def test_missing_values_never_reach_the_network():
    X, _ = load_breast_cancer(return_X_y=True)
    X = X[:100].copy()
    X[::7, 2] = np.nan
    X[:, 5] = np.nan  # an all-missing column
    est = ContrastiveVAETransformer(**FAST).fit(X)
    assert np.isfinite(est.loss_curve_).all()
    assert np.isfinite(est.transform(X)).all()
    # A missing entry does not change the reconstruction score: it is not scored.
    X2 = X.copy()
    X2[0, 5] = np.nan
    np.testing.assert_allclose(est.score_samples(X2), est.score_samples(X))


def test_loss_curves_and_history():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**{**FAST, "max_epochs": 4}).fit(X)
    for curve in (
        est.loss_curve_,
        est.contrastive_loss_curve_,
        est.reconstruction_loss_curve_,
        est.kl_loss_curve_,
    ):
        assert len(curve) == est.n_iter_ == 4
        assert np.isfinite(curve).all()
    assert est.validation_loss_curve_ == []
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_early_stopping_restores_best_weights():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": 40, "learning_rate": 0.05},
        early_stopping=True,
        n_iter_no_change=3,
    ).fit(X)
    curve = est.validation_loss_curve_
    assert len(curve) == est.n_iter_ < 40  # stopped early
    assert est.best_loss_ == min(curve) < curve[-1]

    # Recompute the validation loss of the returned weights on the same
    # held-out rows: it is the best epoch's, not the last epoch's.
    _, _, split_seed = _seed_sequence(0)
    rows = np.arange(len(X))
    train_rows, held_out = train_test_split(
        rows, test_size=57, random_state=int(split_seed)
    )
    encoded = est.table_encoder_.transform(X)
    data = TrainingData.from_encoded(encoded, "cpu")
    config = est._training_config()
    loss = validation_loss(
        est.model_,
        data.rows(torch.as_tensor(held_out)),
        data.rows(torch.as_tensor(train_rows)),
        config,
        int(split_seed),
    ).item()
    assert loss == pytest.approx(min(curve), rel=1e-5)


def test_convergence_warning_at_max_epochs():
    X, _ = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="max_epochs=2"):
            ContrastiveVAETransformer(**{**FAST, "max_epochs": 2}).fit(X)


def test_diverging_fit_raises():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": 20}, optimizer="sgd", learning_rate=1e8
    )
    with pytest.raises(FloatingPointError, match="diverged"):
        est.fit(X)


def test_branches_switch_off():
    X, _ = load_breast_cancer(return_X_y=True)
    no_vae = ContrastiveVAETransformer(vae_weight=0, **FAST).fit(X)
    assert no_vae.model_.decoder is None
    assert not hasattr(no_vae, "score") and not hasattr(no_vae, "inverse_transform")
    assert no_vae.reconstruction_loss_curve_ == [0.0] * no_vae.n_iter_

    no_contrastive = ContrastiveVAETransformer(contrastive_weight=0, **FAST).fit(X)
    assert no_contrastive.model_.projection is None
    assert no_contrastive.contrastive_loss_curve_ == [0.0] * no_contrastive.n_iter_

    with pytest.raises(ValueError, match="both 0"):
        ContrastiveVAETransformer(contrastive_weight=0, vae_weight=0).fit(X)


def test_reproducible_and_side_effect_free():
    X, _ = load_breast_cancer(return_X_y=True)
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002 (the global RNG is what we check)
    torch.manual_seed(1)
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    states = (random.getstate(), numpy_state, torch.get_rng_state())
    threads = torch.get_num_threads()

    a = ContrastiveVAETransformer(**FAST).fit(X).transform(X)
    b = ContrastiveVAETransformer(**FAST).fit(X).transform(X)
    c = ContrastiveVAETransformer(**{**FAST, "random_state": 1}).fit(X).transform(X)
    ContrastiveVAETransformer(**{**FAST, "random_state": None}).fit(X)

    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert random.getstate() == states[0]
    numpy_state_after = np.random.get_state()[1]  # noqa: NPY002
    np.testing.assert_array_equal(numpy_state_after, states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.get_num_threads() == threads


def _threads_inside_fit(X):
    est = ContrastiveVAETransformer(**FAST).fit(X)
    return torch.get_num_threads(), est.n_iter_


def test_respects_joblib_thread_budget():
    X, _ = load_breast_cancer(return_X_y=True)
    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_threads_inside_fit)(X) for _ in range(2)
    )
    budget = max(1, joblib.cpu_count() // 2)
    assert all(threads <= budget for threads, _ in results)


def test_fit_is_the_same_whatever_the_thread_budget():
    """A search's workers get fewer threads than a sequential search: same fits.

    Large enough (768-row encoder passes of a 60-256-256 network) that
    PyTorch's matrix products and elementwise kernels do split work over
    threads when allowed.
    """
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X = np.random.default_rng(0).normal(size=(1500, 60))
    outputs = []
    for n_threads in (1, 2):
        with threadpoolctl.threadpool_limits(n_threads):
            est = ContrastiveVAETransformer(
                max_epochs=2, batch_size=256, random_state=0
            ).fit(X)
        outputs.append(est.transform(X))
    np.testing.assert_array_equal(*outputs)


def test_pickle_round_trip(mixed_frame):
    est = ContrastiveVAETransformer(**FAST).fit(mixed_frame)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        restored.transform(mixed_frame), est.transform(mixed_frame)
    )
    assert all(p.device.type == "cpu" for p in est.model_.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_loads_and_transforms_on_cpu(tmp_path):
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**FAST, device="cuda").fit(X)
    assert est.device_.startswith("cuda")
    joblib.dump(est, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib").set_params(device="cpu")
    np.testing.assert_allclose(
        restored.transform(X), est.transform(X), rtol=1e-10, atol=1e-10
    )
    # Another GPU fit: the same up to the non-deterministic order of CUDA's
    # atomic reductions, amplified a little by training (docs/scale.md).
    again = ContrastiveVAETransformer(**FAST, device="cuda").fit(X)
    np.testing.assert_allclose(
        again.transform(X), est.transform(X), rtol=1e-3, atol=1e-3
    )
    # A CPU fit draws from the CPU's random streams and runs other kernels: a
    # different fit, though of a similar representation.
    cpu = ContrastiveVAETransformer(**FAST, device="cpu").fit(X)
    assert np.corrcoef(cpu.transform(X).ravel(), est.transform(X).ravel())[0, 1] > 0.9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_cuda_trains_every_contrastive_variant(variant, mixed_frame):
    # Every objective with both branches and the augmentations (corruption and
    # noise) on mixed numeric/categorical data with missing values.
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": 5}, device="cuda", **CONTRASTIVE_VARIANTS[variant]
    ).fit(mixed_frame)
    assert est.device_.startswith("cuda")
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    Z = est.transform(mixed_frame)
    assert Z.shape == (len(mixed_frame), 32) and np.isfinite(Z).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-GPU message")
def test_cuda_requested_without_gpu():
    with pytest.raises(ValueError, match="CUDA is not available"):
        ContrastiveVAETransformer(device="cuda", **FAST).fit(np.ones((4, 2)))


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
    from scipy import sparse

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


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 0},
        {"corruption_rate": 1.5},
        {"learning_rate": -1},
        {"optimizer": "rmsprop"},
        {"batch_size": 1},
        {"n_components": 0},
        {"max_epochs": 0},
        {"categorical_features": 3.5},
    ],
)
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        ContrastiveVAETransformer(**params).fit(np.ones((4, 2)))


@pytest.mark.parametrize("hidden", [(), (0, 4), (4.5,)])
def test_invalid_hidden_layer_sizes(hidden):
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        ContrastiveVAETransformer(hidden_layer_sizes=hidden).fit(np.ones((4, 2)))


def test_not_fitted():
    with pytest.raises(NotFittedError):
        ContrastiveVAETransformer().transform(np.ones((2, 2)))


def test_set_output_pandas_keeps_index(mixed_frame):
    frame = mixed_frame.set_axis(np.arange(len(mixed_frame)) * 10)
    est = ContrastiveVAETransformer(**FAST).set_output(transform="pandas")
    out = est.fit_transform(frame)
    assert list(out.columns) == [f"contrastivevaetransformer{i}" for i in range(32)]
    assert out.index.equals(frame.index)


def test_works_on_cc18_table_with_categoricals(cc18_dir):
    frame = pd.read_parquet(cc18_dir / "31_credit_g.parquet")
    X, y = frame.drop(columns="target"), frame["target"]
    pipe = Pipeline(
        [
            ("ssl", ContrastiveVAETransformer(**{**FAST, "n_components": 8})),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    accuracy = cross_val_score(pipe, X, y, cv=2).mean()
    assert accuracy > 0.6


def test_auto_epoch_budget_bounds_rows_seen():
    assert resolve_max_epochs(7, 10**6) == 7
    assert resolve_max_epochs("auto", 300) == 100
    assert resolve_max_epochs("auto", 5000) == 100
    assert resolve_max_epochs("auto", 20000) == 25
    assert resolve_max_epochs("auto", 10**7) == 10
    X, _ = make_blobs(n_samples=60, n_features=3, random_state=0)
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": "auto"}, n_iter_no_change=1000
    ).fit(X)
    assert est.max_epochs_ == est.n_iter_ == 100


def test_representation_monitoring_and_collapse_warning():
    X, _ = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepresentationCollapseWarning)
        healthy = ContrastiveVAETransformer(
            **{**FAST, "max_epochs": 5, "n_components": 8}, monitor_representation=True
        ).fit(X)
    history = healthy.representation_history_
    assert all(len(values) == healthy.n_iter_ for values in history.values())
    assert history["effective_rank"][-1] == pytest.approx(healthy.effective_rank_)
    assert not hasattr(
        ContrastiveVAETransformer(**FAST).fit(X), "representation_history_"
    )

    # Every column replaced: the views say nothing about the row, and InfoNCE's
    # trivial minimiser (all rows embedded alike) takes over. At lr 0.01 it
    # does for every seed tried (uniformity -0.05 to -0.11, threshold -0.5);
    # at the default rate it is a coin toss within 30 epochs.
    with pytest.warns(RepresentationCollapseWarning, match="collapsed"):
        ContrastiveVAETransformer(
            hidden_layer_sizes=(128, 128),
            n_components=32,
            max_epochs=30,
            learning_rate=0.01,
            random_state=0,
            vae_weight=0,
            corruption_rate=1.0,
            noise_scale=0,
            temperature=1.0,
        ).fit(X)
