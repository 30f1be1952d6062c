"""ContrastiveVAETransformer as a scikit-learn estimator (skssl._estimator).

Its parameters, scikit-learn's checks, pipelines and searches, pickling, and
the fitted attributes read off the training state.
"""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import config_context
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skssl import ContrastiveVAETransformer
from skssl.training import CURVES, TrainingSession, TrainingState, curve_attribute
from tests._helpers import FAST, FAST_LATENT, SAMPLE_WEIGHT_IS_NOT_REPETITION


@parametrize_with_checks(
    [ContrastiveVAETransformer(max_epochs=10, random_state=0)],
    expected_failed_checks=lambda est: SAMPLE_WEIGHT_IS_NOT_REPETITION,
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


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 0},
        {"corruption_rate": 1.5},
        {"learning_rate": -1},
        {"optimizer": "rmsprop"},
        {"batch_size": 1},
        {"n_components": 0},
        {"latent_dim": 0},
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


def test_n_components_is_the_width_of_transform():
    X, _ = load_breast_cancer(return_X_y=True)
    default = ContrastiveVAETransformer()
    assert (default.n_components, default.latent_dim) == (512, None)
    # The default network: hidden layers (256, 256), whose 512 activations
    # transform returns, and a latent of 128.
    sizes = TrainingSession.from_estimator(default)
    assert (sizes.hidden_layer_sizes, sizes.latent_dim) == ([256, 256], 128)

    est = ContrastiveVAETransformer(n_components=24, max_epochs=2, random_state=0)
    Z = est.fit_transform(X)
    assert Z.shape == (len(X), 24) == (len(X), est.n_components)
    assert (est.hidden_layer_sizes_, est.latent_dim_) == ((12, 12), 6)
    latent = ContrastiveVAETransformer(
        n_components=6, representation="latent", max_epochs=2, random_state=0
    ).fit(X)
    assert latent.transform(X).shape == (len(X), 6)
    assert (latent.hidden_layer_sizes_, latent.latent_dim_) == ((256, 256), 6)


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"hidden_layer_sizes": (32, 16)},
            r"hidden_layer_sizes=\(32, 16\) sums to 48, but n_components=512",
        ),
        (
            {"representation": "latent", "n_components": 8, "latent_dim": 4},
            "latent_dim=4 and n_components=8 differ",
        ),
    ],
)
def test_sizes_that_contradict_n_components_are_refused_at_fit(params, message):
    est = ContrastiveVAETransformer(**params)
    with pytest.raises(ValueError, match=message):
        est.fit(np.ones((4, 2)))
    assert not hasattr(est, "model_")


def test_transform_refuses_an_n_components_the_fitted_networks_do_not_give():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**FAST).fit(X)
    est.set_params(representation="latent")  # n_components=32, the latent is 4
    for method in (est.transform, est.inverse_transform):
        with pytest.raises(ValueError, match="n_components=32.*latent_dim_=4.*=4,"):
            method(X[:, :4] if method is est.inverse_transform else X)
    with pytest.raises(ValueError, match="Set n_components=4"):
        est.get_feature_names_out()
    assert est.set_params(n_components=4).transform(X).shape == (len(X), 4)


PREFIX = "contrastivevaetransformer"


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            {**FAST, "n_components": 40, "hidden_layer_sizes": (24, 16)},
            [f"{PREFIX}_hidden1_{j}" for j in range(24)]
            + [f"{PREFIX}_hidden2_{j}" for j in range(16)],
        ),
        (FAST_LATENT, [f"{PREFIX}_latent_{j}" for j in range(4)]),
    ],
    ids=["hidden", "latent"],
)
def test_feature_names_say_where_each_column_comes_from(mixed_frame, params, expected):
    est = ContrastiveVAETransformer(**params).fit(mixed_frame)
    names = est.get_feature_names_out()
    assert names.dtype == object and len(names) == est.n_components
    assert names.tolist() == expected
    # The input's names are checked, not used.
    assert est.get_feature_names_out(mixed_frame.columns).tolist() == expected
    with pytest.raises(ValueError, match="input_features"):
        est.get_feature_names_out(["a", "b", "c", "d", "e"])
    with config_context(transform_output="pandas"):
        out = est.transform(mixed_frame)
        assert isinstance(out, pd.DataFrame) and list(out.columns) == expected
        # The pandas output decodes back, too, silently.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert est.inverse_transform(out).shape == mixed_frame.shape


def test_not_fitted():
    with pytest.raises(NotFittedError):
        ContrastiveVAETransformer().transform(np.ones((2, 2)))


def test_fitted_attributes_are_read_off_the_training_state():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**FAST, monitor_representation=True).fit(X)
    state = est._training_state
    assert isinstance(state, TrainingState) and state.stream is None
    assert est.model_ is state.model and est.table_encoder_ is state.table_encoder
    for name in CURVES:
        assert getattr(est, curve_attribute(name)) == state.curves[name]
    assert est.n_iter_ == state.n_epochs == 3 == est.max_epochs_
    assert est.best_loss_ == state.best_loss == min(est.loss_curve_)
    assert est.fit_time_ == state.fit_time > 0
    assert est.device_ == state.device == "cpu"
    assert est.effective_rank_ == state.effective_rank
    assert est.representation_history_ is state.representation_history

    # Optional attributes of an earlier fit do not survive the next one.
    est.set_params(monitor_representation=False).fit(X)
    assert not hasattr(est, "representation_history_")
    streamed = ContrastiveVAETransformer(**FAST).partial_fit(X)
    assert not hasattr(streamed, "max_epochs_")
    assert streamed._training_state.stream is not None


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


def test_unsupervised_search_over_vae_weight_says_why_a_candidate_has_no_score():
    X, y = make_blobs(n_samples=120, n_features=6, random_state=0)
    search = GridSearchCV(
        ContrastiveVAETransformer(**FAST), {"vae_weight": [0, 1]}, cv=2
    )
    with pytest.warns(UserWarning, match="Scoring failed") as record:
        search.fit(X)
    # What the user reads: the warning of each vae_weight=0 split carries
    # the AttributeError, which says what to do.
    failed = [str(w.message) for w in record if "Scoring failed" in str(w.message)]
    assert len(failed) == 2
    assert all(
        "score needs the VAE's decoder, which vae_weight=0 does not build" in message
        and "pass scoring=" in message
        for message in failed
    )
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert search.cv_results_["rank_test_score"].tolist() == [2, 1]
    assert search.best_params_ == {"vae_weight": 1}
    with pytest.raises(AttributeError, match="vae_weight=0.*pass scoring="):
        clone(search).set_params(error_score="raise").fit(X)
    # No candidate with a decoder: scikit-learn refuses before any fit.
    with pytest.raises(TypeError, match="should have a 'score' method"):
        GridSearchCV(ContrastiveVAETransformer(**FAST, vae_weight=0), {}).fit(X)
    # What the error advises: a probe's accuracy ranks both.
    pipe = Pipeline(
        [("ssl", ContrastiveVAETransformer(**FAST)), ("probe", LogisticRegression())]
    )
    probed = GridSearchCV(
        pipe, {"ssl__vae_weight": [0, 1]}, cv=2, error_score="raise"
    ).fit(X, y)
    assert np.all(np.isfinite(probed.cv_results_["mean_test_score"]))


def test_set_output_pandas_keeps_index(mixed_frame):
    frame = mixed_frame.set_axis(np.arange(len(mixed_frame)) * 10)
    est = ContrastiveVAETransformer(**FAST).set_output(transform="pandas")
    out = est.fit_transform(frame)
    names = [f"contrastivevaetransformer_hidden1_{i}" for i in range(32)]
    assert list(out.columns) == names
    assert out.index.equals(frame.index)


def test_works_on_cc18_table_with_categoricals(cc18_dir):
    frame = pd.read_parquet(cc18_dir / "31_credit_g.parquet")
    X, y = frame.drop(columns="target"), frame["target"]
    pipe = Pipeline(
        [
            ("ssl", ContrastiveVAETransformer(**{**FAST, "latent_dim": 8})),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    accuracy = cross_val_score(pipe, X, y, cv=2).mean()
    assert accuracy > 0.6


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
