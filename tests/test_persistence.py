"""Persistence (skssl._persistence): pickle, joblib and skops round trips.

A fitted estimator pickles NumPy arrays and plain values only, so skops can
persist it, a pickle loads wherever torch does, and partial_fit resumes from
a loaded copy exactly as from the original.
"""

import pickle

import joblib
import numpy as np
import pytest
import torch

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer
from skssl._base import BaseContrastiveVAE
from skssl.training import TrainingState
from tests._helpers import SMALL, make_mixed_frame, with_representation

skops_io = pytest.importorskip("skops.io")

pytestmark = pytest.mark.usefixtures("quiet")

TINY = dict(SMALL, max_epochs=2, batch_size=32, device="cpu")

# The types skops asks a user to trust, besides the estimator's own class.
TRAINING_STATE_TYPES = [
    "skssl._encoding.TabularEncoder",
    "skssl.training.TrainingState",
]
# Those of a fitted HistGradientBoostingClassifier.
BOOSTING_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]
STREAM_TYPES = [
    "skssl._encoding.EncodedTable",
    "skssl._training_data.RowReservoir",
    "skssl.training.StreamState",
]


def _skops(estimator):
    data = skops_io.dumps(estimator)
    return skops_io.loads(data, trusted=skops_io.get_untrusted_types(data=data))


def _pickle(estimator):
    return pickle.loads(pickle.dumps(estimator))


def _joblib(estimator, path, mmap_mode=None):
    joblib.dump(estimator, path / "model.joblib")
    return joblib.load(path / "model.joblib", mmap_mode=mmap_mode)


@pytest.fixture(params=["pickle", "joblib", "joblib-mmap", "skops"])
def round_trip(request, tmp_path):
    return {
        "pickle": _pickle,
        "joblib": lambda est: _joblib(est, tmp_path),
        # Arrays loaded as read-only memory maps, which training must not write.
        "joblib-mmap": lambda est: _joblib(est, tmp_path, mmap_mode="r"),
        "skops": _skops,
    }[request.param]


@pytest.fixture(scope="module")
def frame():
    return make_mixed_frame(n=90)


def test_transformer_round_trip_gives_identical_outputs(frame, round_trip):
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    loaded = round_trip(est)
    for representation in ("hidden", "latent"):
        with_representation(est, representation)
        with_representation(loaded, representation)
        np.testing.assert_array_equal(loaded.transform(frame), est.transform(frame))
    np.testing.assert_array_equal(loaded.score_samples(frame), est.score_samples(frame))
    assert loaded.model_ is loaded._training_state.model
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.n_features_in_ == est.n_features_in_
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)


@pytest.mark.parametrize("expert_weight", [0.0, 0.25])
def test_classifier_round_trip_gives_identical_probabilities(
    frame, round_trip, expert_weight
):
    y = np.where(np.arange(len(frame)) % 3 == 0, frame["active"].to_numpy(), -1)
    clf = ContrastiveVAEClassifier(
        **TINY,
        fine_tune_epochs=1,
        boosting_weight=expert_weight,
        graph_weight=expert_weight,
    ).fit(frame, y)
    experts = clf._training_state.boosting
    assert (experts is not None) == (expert_weight > 0)
    assert experts is None or experts.graph is not None
    loaded = round_trip(clf)
    np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)


def test_partial_fit_resumes_identically_after_a_round_trip(round_trip):
    X = np.random.default_rng(0).normal(size=(120, 6))
    est = ContrastiveVAETransformer(**TINY)
    est.partial_fit(X[:60])
    loaded = round_trip(est)
    # Moments, the random stream and the reservoir travel with the estimator.
    est.partial_fit(X[60:])
    loaded.partial_fit(X[60:])
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.loss_curve_ == est.loss_curve_
    # A fitted estimator fine-tuned after loading also continues alike.
    fitted = ContrastiveVAETransformer(**TINY).fit(X)
    again = round_trip(fitted)
    np.testing.assert_array_equal(
        again.partial_fit(X).transform(X), fitted.partial_fit(X).transform(X)
    )


def test_a_loaded_copy_refits_like_the_original(frame, round_trip):
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    refit = round_trip(est).fit(frame)
    np.testing.assert_array_equal(
        refit.transform(frame), est.fit(frame).transform(frame)
    )


def test_a_pickle_holds_no_torch_object(frame):
    """Hence it loads on any machine with torch, whatever device trained it."""
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    est.partial_fit(frame)  # with optimiser moments and a generator state
    assert b"torch" not in pickle.dumps(est)
    state = est._training_state.__getstate__()
    assert isinstance(state["model"]["state_dict"]["encoder.mean.weight"], np.ndarray)
    stream = state["stream"].__getstate__()
    assert isinstance(stream["generator"][1], np.ndarray)
    (moments,) = stream["optimizer"]["state"].values()
    assert all(isinstance(value, np.ndarray) for value in moments.values())


def test_skops_trusts_only_skssl_types(frame):
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    untrusted = skops_io.get_untrusted_types(data=skops_io.dumps(est))
    assert untrusted == sorted(
        ["skssl._estimator.ContrastiveVAETransformer", *TRAINING_STATE_TYPES]
    )
    est.partial_fit(frame)
    untrusted = skops_io.get_untrusted_types(data=skops_io.dumps(est))
    assert untrusted == sorted(
        ["skssl._estimator.ContrastiveVAETransformer"]
        + TRAINING_STATE_TYPES
        + STREAM_TYPES
    )
    y = np.where(np.arange(len(frame)) % 2 == 0, frame["active"].to_numpy(), -1)
    head_alone = dict(TINY, boosting_weight=0, graph_weight=0)
    clf = ContrastiveVAEClassifier(**head_alone).fit(frame, y)
    untrusted = skops_io.get_untrusted_types(data=skops_io.dumps(clf))
    assert untrusted == sorted(
        ["skssl._classifier.ContrastiveVAEClassifier", *TRAINING_STATE_TYPES]
    )
    # Without trust, skops refuses to load.
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.loads(skops_io.dumps(clf))
    # Boosted trees add theirs: those skops asks to trust for scikit-learn's
    # own HistGradientBoostingClassifier; the graph its own.
    experts = dict(TINY, boosting_weight=0.5, graph_weight=0.25)
    clf = ContrastiveVAEClassifier(**experts).fit(frame, y)
    untrusted = skops_io.get_untrusted_types(data=skops_io.dumps(clf))
    assert untrusted == sorted(
        [
            "skssl._classifier.ContrastiveVAEClassifier",
            "skssl._boosting.BoostingExpert",
            "skssl._graph.LabelGraph",
            *TRAINING_STATE_TYPES,
            *BOOSTING_TYPES,
        ]
    )


def test_a_gpu_trained_state_loads_and_trains_on_the_cpu(frame):
    """What a CUDA fit leaves: the device recorded as "cuda" and the stream's
    generator state a CUDA generator's (weights and moments are kept on the
    CPU between calls). The pickle loads, predicts and trains on the CPU."""
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    est.partial_fit(frame)
    Z = est.transform(frame)
    state = est._training_state
    state.device = est.device_ = "cuda:0"
    generator = state.stream.generator[1]
    state.stream.generator = ("cuda:0", generator)
    est.set_params(device="cuda")
    loaded = pickle.loads(pickle.dumps(est)).set_params(device="cpu")
    assert loaded.device_ == "cuda:0"
    np.testing.assert_array_equal(loaded.transform(frame), Z)
    # The CUDA generator's state cannot drive a CPU generator: a new stream.
    loaded.partial_fit(frame)
    assert loaded.device_ == "cpu" and np.isfinite(loaded.transform(frame)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_fit_loads_in_a_process_without_cuda(tmp_path):
    import subprocess
    import sys

    X = np.random.default_rng(0).normal(size=(200, 6))
    est = ContrastiveVAETransformer(**{**TINY, "device": "cuda"}).fit(X)
    est.partial_fit(X)
    assert est.device_.startswith("cuda")
    joblib.dump(est, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Z.npy", est.set_params(device="cpu").transform(X))
    code = f"""
import joblib, numpy as np, torch
assert not torch.cuda.is_available()
est = joblib.load({str(tmp_path / "model.joblib")!r}).set_params(device="cpu")
X = np.load({str(tmp_path / "X.npy")!r})
np.testing.assert_array_equal(est.transform(X), np.load({str(tmp_path / "Z.npy")!r}))
est.partial_fit(X)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_pickles_of_skssl_0_1_still_load(frame, monkeypatch):
    """skssl 0.1 pickled the networks themselves, as torch modules (which
    knew nothing of their constructor's arguments)."""
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    Z = est.transform(frame)
    del est.model_.constructor_arguments
    with monkeypatch.context() as patch:
        patch.delattr(TrainingState, "__getstate__")
        patch.delattr(BaseContrastiveVAE, "__getstate__")
        old = pickle.dumps(est)
    assert b"torch" in old
    loaded = pickle.loads(old)
    np.testing.assert_array_equal(loaded.transform(frame), Z)
    assert loaded.model_ is loaded._training_state.model
    # Saved again, it stays a pickle of torch modules, and still loads.
    again = pickle.loads(pickle.dumps(loaded.partial_fit(frame)))
    np.testing.assert_array_equal(again.transform(frame), loaded.transform(frame))


def test_loading_leaves_the_global_rng_alone(frame):
    est = ContrastiveVAETransformer(**TINY).fit(frame)
    data = pickle.dumps(est)
    before = torch.get_rng_state()
    pickle.loads(data)
    assert torch.equal(torch.get_rng_state(), before)
