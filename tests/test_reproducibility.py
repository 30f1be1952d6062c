"""Reproducibility: seeds, global RNGs, thread budgets, resumed partial_fit."""

import pickle
import random

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer
from tests._helpers import FAST, blobs, partial_fitted


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


@pytest.mark.usefixtures("quiet")
def test_partial_fit_is_reproducible_and_resumes_after_pickling():
    X, _ = blobs()
    a = partial_fitted(X, n_chunks=3)
    b = partial_fitted(X, n_chunks=3)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))

    restored = pickle.loads(pickle.dumps(a))
    a.partial_fit(X[:200])
    restored.partial_fit(X[:200])
    # Optimiser moments and the random stream travel with the estimator.
    np.testing.assert_array_equal(a.transform(X), restored.transform(X))

    c = partial_fitted(X, n_chunks=3, random_state=1)
    assert not np.allclose(b.transform(X), c.transform(X))
