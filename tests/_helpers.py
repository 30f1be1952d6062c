"""Data, parameters and fitting shortcuts shared by the test modules."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import make_blobs

from skssl import ContrastiveVAETransformer
from skssl._encoding import EncodedTable
from skssl._input import validate_input
from skssl.training import TrainingSession

# The shared CC18 parquet folder (outside the repository).
CC18_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cc18"

# The study scripts of docs/benchmark (not part of the package).
STUDIES_DIR = Path(__file__).resolve().parents[1] / "docs" / "benchmark"

# Every contrastive objective, as estimator parameters.
CONTRASTIVE_VARIANTS = {
    "infonce": {},
    "balanced": {"contrastive_loss": "balanced", "repulsion_weight": 0.8},
    "renyi": {"contrastive_loss": "renyi", "renyi_alpha": 2.0},
    "self-labeling": {"self_labeling": 0.5},
    "momentum-mixup": {"momentum_mixup": 1.0},
}

# The tiny settings of issue 17's reproducers (hostile input, property tests).
REPRODUCER = dict(
    max_epochs=1,
    n_components=8,
    hidden_layer_sizes=(8,),
    latent_dim=2,
    projection_dim=4,
    batch_size=4,
    device="cpu",
    random_state=0,
)

# Tiny networks: SMALL for tests that set the epochs, FAST for the others.
# One hidden layer of 32 (transform's 32 columns) and a latent of 4.
SMALL = dict(n_components=32, hidden_layer_sizes=(32,), latent_dim=4, random_state=0)
FAST = dict(SMALL, max_epochs=3)
# The same networks, transform returning the latent (4 columns).
SMALL_LATENT = dict(SMALL, representation="latent", n_components=4, latent_dim=None)
FAST_LATENT = dict(SMALL_LATENT, max_epochs=3)


def with_representation(estimator, representation):
    """A fitted transformer switched to ``representation``: ``n_components``
    follows, to the width of that representation of its networks."""
    width = (
        estimator.latent_dim_
        if representation == "latent"
        else sum(estimator.hidden_layer_sizes_)
    )
    return estimator.set_params(representation=representation, n_components=width)


# scikit-learn's checks that weights equal repeated rows: sample_weight scales
# each row's terms in the loss, but a repeated row also changes the minibatches,
# the negatives and the augmentation's marginals.
SAMPLE_WEIGHT_IS_NOT_REPETITION = {
    f"check_sample_weight_equivalence_on_{kind}_data": (
        "sample_weight weights the rows' loss terms; repeating rows also changes "
        "minibatches, negatives and the augmentation's marginals"
    )
    for kind in ("dense", "sparse")
}


def cc18_available():
    return (CC18_DIR / "manifest.json").exists()


def make_mixed_frame(n=120, seed=0):
    """A small heterogeneous table: numeric (with NaN), category, object, bool."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": pd.Categorical(rng.choice(["paris", "lyon", "nice"], n)),
            "plan": rng.choice(["basic", "pro", "team"], n).astype(object),
            "active": rng.rand(n) > 0.5,
        }
    )
    frame.loc[rng.rand(n) < 0.1, "age"] = np.nan
    frame.loc[rng.rand(n) < 0.1, "plan"] = None
    return frame


def blobs(n=600, n_features=8, centers=3):
    """Gaussian clusters ``(X, y)``, seeded."""
    return make_blobs(n, n_features=n_features, centers=centers, random_state=0)


def partial_fitted(X, n_chunks, **params):
    """A SMALL transformer trained by ``partial_fit`` on ``n_chunks`` chunks of X."""
    est = ContrastiveVAETransformer(**{**SMALL, **params})
    for chunk in np.array_split(X, n_chunks):
        est.partial_fit(chunk)
    return est


def fit_with(estimator, X, session=None):
    """``estimator.fit(X)`` through ``session`` (by default the estimator's own).

    Build ``session`` with ``TrainingSession.from_estimator(estimator, ...)``
    to fit with other sizes (``device_rows``, ``chunk_bytes``). Returns the
    fitted estimator.
    """
    estimator._validate_params()
    if session is None:
        session = TrainingSession.from_estimator(estimator)
    X, mask = validate_input(estimator, X, reset=True)
    return estimator._publish(session.fit(X, mask))


def partial_fit_with(estimator, X, session=None):
    """``estimator.partial_fit(X)`` through ``session`` (see :func:`fit_with`)."""
    estimator._validate_params()
    if session is None:
        session = TrainingSession.from_estimator(estimator)
    fitted = hasattr(estimator, "model_")
    mask = estimator.table_encoder_.categorical_mask if fitted else None
    X, mask = validate_input(estimator, X, reset=not fitted, categorical_mask=mask)
    state = estimator._training_state if fitted else None
    return estimator._publish(session.partial_fit(X, mask, state))


class RecordingSession(TrainingSession):
    """A training session that records the training data it holds.

    ``data`` lists ``(rows, max_device_rows, type)`` of each table it puts
    in training form (training, validation, the partial_fit reservoir);
    ``pools`` the rows of each marginal pool drawn from them.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data, self.pools = [], []

    def _data(self, encoded, device, max_device_rows, labels=None, weights=None):
        data = super()._data(encoded, device, max_device_rows, labels, weights)
        self.data.append((encoded.n_samples, max_device_rows, type(data)))
        draw = data.marginal_pool

        def marginal_pool(max_rows, generator):
            pool = draw(max_rows, generator)
            self.pools.append(pool.n_samples)
            return pool

        data.marginal_pool = marginal_pool
        return data


def small_module(seed=0):
    """A small network with an embedding and two linear layers, seeded."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Embedding(7, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(6, 5),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 2),
    )


def numbered_table(n, n_categorical=1):
    """Row ``i`` holds ``i`` in every column: a batch shows which rows it has."""
    rows = np.arange(n)
    return EncodedTable(
        np.stack([rows, -rows], axis=1).astype(float),
        (rows % 3 > 0)[:, None].repeat(2, axis=1),
        rows[:, None].repeat(n_categorical, axis=1),
    )


def same_rows(a, b):
    """Whether two batches hold the same rows, exactly."""
    return (
        torch.equal(a.numeric, b.numeric)
        and torch.equal(a.observed, b.observed)
        and torch.equal(a.categorical, b.categorical)
    )


# The classifier's tiny networks and fixed budget, for tests that fit it often.
TINY_CLASSIFIER = dict(
    n_components=16,
    hidden_layer_sizes=(16,),
    latent_dim=4,
    max_epochs=5,
    random_state=0,
)


def load_study(name):
    """The study script ``docs/benchmark/<name>.py``, imported as a module."""
    spec = importlib.util.spec_from_file_location(name, STUDIES_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
