"""Out-of-core and distributed training end to end: dask, Ray, streaming on CUDA."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from skssl import ContrastiveVAETransformer
from skssl._training_data import HostStreamedData
from tests._helpers import SMALL, RecordingSession, blobs, fit_with, partial_fitted

pytestmark = pytest.mark.usefixtures("quiet")


def test_dask_ml_incremental_over_array_and_dataframe():
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = blobs()
    incremental = wrappers.Incremental(
        ContrastiveVAETransformer(**SMALL), shuffle_blocks=False
    )
    incremental.fit(da.from_array(X, chunks=150))
    fitted = incremental.estimator_
    assert fitted.n_iter_ == 4  # one call per block
    Z = incremental.transform(da.from_array(X, chunks=150)).compute()
    # Same chunks fed by hand give the same model (transform by blocks rounds
    # float64 products differently: equal to ~1e-16).
    by_hand = partial_fitted(X, n_chunks=4)
    np.testing.assert_allclose(Z, by_hand.transform(X), rtol=1e-12, atol=1e-14)

    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["group"] = pd.Categorical(np.where(y == 0, "a", "b"))
    incremental = wrappers.Incremental(ContrastiveVAETransformer(**SMALL))
    incremental.fit(dd.from_pandas(frame, npartitions=3))
    assert incremental.estimator_.n_iter_ == 3
    assert list(incremental.estimator_.feature_names_in_) == list(frame.columns)


def _sequential_search():
    """A small grid search of a probe pipeline, run sequentially."""
    X, y = blobs(n=200)
    pipe = make_pipeline(
        ContrastiveVAETransformer(**SMALL, max_epochs=3), LogisticRegression()
    )
    grid = {"contrastivevaetransformer__temperature": [0.1, 0.5]}
    return X, y, pipe, grid, GridSearchCV(pipe, grid, cv=2).fit(X, y)


def _assert_same_search(sequential, other, X):
    np.testing.assert_array_equal(
        sequential.cv_results_["mean_test_score"],
        other.cv_results_["mean_test_score"],
    )
    np.testing.assert_array_equal(sequential.predict_proba(X), other.predict_proba(X))


def test_grid_search_on_a_dask_cluster_matches_sequential():
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    X, y, pipe, grid, sequential = _sequential_search()
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Each worker process gets the thread budget the cluster gives it.
        assert set(client.run(torch.get_num_threads).values()) == {1}
        with joblib.parallel_backend("dask"):
            on_cluster = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, y)
    _assert_same_search(sequential, on_cluster, X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_streams_data_larger_than_the_device_budget():
    X, y = blobs(n=3000)
    est = ContrastiveVAETransformer(
        **SMALL, max_epochs=5, device="cuda", early_stopping=True
    )
    session = RecordingSession.from_estimator(est, device_rows=1000)
    fit_with(est, X, session)
    assert session.data[0] == (2700, 1000, HostStreamedData)
    score = cross_val_score(LogisticRegression(max_iter=1000), est.transform(X), y)
    assert score.mean() > 0.9


def test_grid_search_on_ray_matches_sequential():
    ray = pytest.importorskip("ray")
    ray_joblib = pytest.importorskip("ray.util.joblib")
    joblib = pytest.importorskip("joblib")
    X, y, pipe, grid, sequential = _sequential_search()
    # A local instance on the loopback interface: no dashboard, no network.
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        ray_joblib.register_ray()

        @ray.remote
        def torch_threads():
            return torch.get_num_threads()

        # Ray gives each one-CPU task one thread: no oversubscription.
        assert set(ray.get([torch_threads.remote() for _ in range(2)])) == {1}
        with joblib.parallel_backend("ray"):
            on_ray = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, y)
    finally:
        ray.shutdown()
    _assert_same_search(sequential, on_ray, X)
