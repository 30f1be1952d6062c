"""Out-of-core and distributed training: partial_fit, streaming, dask."""

import contextlib
import os
import pickle
import traceback
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONTRASTIVE_VARIANTS
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from torch.utils._python_dispatch import TorchDispatchMode

import skssl._estimator as estimator_module
import skssl._training_data as training_data_module
from skssl import ContrastiveVAETransformer
from skssl._encoding import EncodedTable
from skssl._training_data import HostStreamedData, RowReservoir, TrainingData

SMALL = dict(hidden_layer_sizes=(32,), n_components=4, random_state=0)
aten = torch.ops.aten


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _blobs(n=600, n_features=8, centers=3):
    return make_blobs(n, n_features=n_features, centers=centers, random_state=0)


def _partial_fitted(X, n_chunks, **params):
    est = ContrastiveVAETransformer(**{**SMALL, **params})
    for chunk in np.array_split(X, n_chunks):
        est.partial_fit(chunk)
    return est


def test_partial_fit_learns_and_records_history():
    X, y = _blobs()
    # The latent code is what the losses shape: probe it, not the hidden layers.
    est = _partial_fitted(X, n_chunks=4, partial_fit_epochs=3, representation="latent")
    assert est.n_iter_ == 12 == len(est.loss_curve_) == len(est.kl_loss_curve_)
    assert est.n_features_in_ == X.shape[1]
    assert est.transform(X).shape == (len(X), 4)
    assert est.loss_curve_[-1] < est.loss_curve_[0]

    untrained = ContrastiveVAETransformer(
        **SMALL, partial_fit_epochs=1, representation="latent"
    )
    untrained.partial_fit(X[:2])  # two rows: one step, close to initialisation
    probe = LogisticRegression(max_iter=1000)
    trained_score = cross_val_score(probe, est.transform(X), y).mean()
    untrained_score = cross_val_score(probe, untrained.transform(X), y).mean()
    assert trained_score >= untrained_score
    assert trained_score > 0.9


def test_partial_fit_is_reproducible_and_resumes_after_pickling():
    X, _ = _blobs()
    a = _partial_fitted(X, n_chunks=3)
    b = _partial_fitted(X, n_chunks=3)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))

    restored = pickle.loads(pickle.dumps(a))
    a.partial_fit(X[:200])
    restored.partial_fit(X[:200])
    # Optimiser moments and the random stream travel with the estimator.
    np.testing.assert_array_equal(a.transform(X), restored.transform(X))

    c = _partial_fitted(X, n_chunks=3, random_state=1)
    assert not np.allclose(b.transform(X), c.transform(X))


def _second_call_with_generator_state(X, generator_state):
    est = ContrastiveVAETransformer(**SMALL).partial_fit(X)
    est._partial_fit_state["generator"] = generator_state
    return est.partial_fit(X).transform(X)


def test_partial_fit_on_another_device_does_not_replay_the_first_draws():
    X, _ = _blobs()
    # As if the first call had run on a GPU: its generator state cannot be
    # loaded into the CPU's generator, so the second call needs a new stream.
    moved = _second_call_with_generator_state(X, ("cuda:0", None))
    np.testing.assert_array_equal(
        moved, _second_call_with_generator_state(X, ("cuda:0", None))
    )
    # Not the first call's stream again (what a reset to the seed replays).
    replayed = _second_call_with_generator_state(X, None)
    assert not np.allclose(moved, replayed)


def test_partial_fit_keeps_first_encoding_and_validates_chunks():
    rng = np.random.default_rng(0)
    first = pd.DataFrame(
        {"x": rng.normal(size=50), "c": pd.Categorical(rng.choice(["a", "b"], 50))}
    )
    later = pd.DataFrame(
        {"x": rng.normal(100, 1, size=50), "c": pd.Categorical(["z"] * 50)}
    )
    est = ContrastiveVAETransformer(**SMALL).partial_fit(first)
    encoder = est.table_encoder_
    est.partial_fit(later)  # unseen category and shifted column: no refit
    assert est.table_encoder_ is encoder
    assert est.n_iter_ == 2

    with pytest.raises(ValueError, match="feature names"):
        est.partial_fit(first[["x"]])
    with pytest.raises(ValueError, match="at least 2 rows"):
        est.partial_fit(first.iloc[:1])


@pytest.mark.parametrize(
    "fitted_with, change, message",
    [
        (
            {},
            {"hidden_layer_sizes": (16,)},
            r"hidden_layer_sizes \(the networks have \[32\]",
        ),
        ({}, {"n_components": 3}, r"n_components \(the networks have 4, now 3\)"),
        ({}, {"projection_dim": 8}, r"projection_dim \(the networks have 64, now 8\)"),
        (
            {"vae_weight": 0.0},
            {"vae_weight": 1.0},
            r"vae_weight \(the networks have no dec",
        ),
        (
            {"contrastive_weight": 0.0},
            {"contrastive_weight": 1.0},
            r"contrastive_weight \(the networks have no projection head\)",
        ),
    ],
)
def test_partial_fit_refuses_parameters_the_fitted_networks_cannot_follow(
    fitted_with, change, message
):
    X, _ = _blobs(n=100)
    est = ContrastiveVAETransformer(**SMALL, **fitted_with).partial_fit(X)
    est.set_params(**change)
    with pytest.raises(ValueError, match=message):
        est.partial_fit(X)
    # Parameters that only change training are followed.
    est.set_params(
        **{
            k: getattr(ContrastiveVAETransformer(**SMALL, **fitted_with), k)
            for k in change
        }
    )
    est.set_params(temperature=0.2, learning_rate=1e-3, batch_size=32)
    assert est.partial_fit(X).n_iter_ == 2


@pytest.mark.parametrize("branch", ["vae_weight", "contrastive_weight"])
def test_partial_fit_fine_tunes_with_one_branch_switched_off(branch):
    X, _ = _blobs(n=100)
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    before = est.transform(X)
    est.set_params(**{branch: 0.0})
    if branch == "contrastive_weight":  # the idle head's width no longer matters
        est.set_params(projection_dim=8)
    est.partial_fit(X)
    assert est.n_iter_ == 3 and np.isfinite(est.loss_curve_[-1])
    assert not np.array_equal(est.transform(X), before)


def test_partial_fit_after_fit_fine_tunes():
    X, _ = _blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=3).fit(X)
    before = est.transform(X)
    est.partial_fit(X[:300])
    assert est.n_iter_ == 4
    assert not np.allclose(before, est.transform(X))


def test_row_reservoir_is_bounded_and_uniform():
    n, capacity, trials = 100, 10, 2000
    counts = np.zeros(n)
    for seed in range(trials):
        reservoir = RowReservoir(capacity, np.random.default_rng(seed))
        for start in range(0, n, 7):  # uneven chunks
            rows = np.arange(start, min(n, start + 7), dtype=float)[:, None]
            reservoir.update(
                EncodedTable(rows, rows > -1, np.zeros((len(rows), 0), np.int64))
            )
        kept = reservoir.table.numeric[:, 0].astype(int)
        assert len(kept) == capacity == len(set(kept))
        counts[kept] += 1
    frequency = counts / trials
    # Each row kept with probability capacity / n = 0.1 (binomial sd ~0.0067).
    assert np.abs(frequency - 0.1).max() < 0.03
    assert reservoir.n_seen == n


def _numbered_table(n, n_categorical=1):
    """Row ``i`` holds ``i`` in every column: a batch shows which rows it has."""
    rows = np.arange(n)
    return EncodedTable(
        np.stack([rows, -rows], axis=1).astype(float),
        (rows % 3 > 0)[:, None].repeat(2, axis=1),
        rows[:, None].repeat(n_categorical, axis=1),
    )


def _same_rows(a, b):
    return (
        torch.equal(a.numeric, b.numeric)
        and torch.equal(a.observed, b.observed)
        and torch.equal(a.categorical, b.categorical)
    )


# 150 rows of budget: one 64-row minibatch per chunk; 1000: a quarter, 250
# rows, holds three; a chunk larger than the table: one chunk.
@pytest.mark.parametrize("max_device_rows", [150, 1000, 5000])
def test_host_streamed_batches_are_the_resident_batches(max_device_rows):
    n, batch_size = 1000, 64
    encoded = _numbered_table(n)
    device = torch.device("cpu")
    streamed = HostStreamedData(encoded, device, torch.float32, max_device_rows)
    resident = TrainingData.from_encoded(encoded, device, max_device_rows=None)
    assert isinstance(
        TrainingData.from_encoded(encoded, device, max_device_rows=n - 1),
        HostStreamedData,
    )
    assert streamed.rows_per_chunk(batch_size) == max(batch_size, max_device_rows // 4)
    for epoch in range(2):
        # Kept all at once: batches stay valid while the host buffers are
        # refilled for later chunks.
        batches = list(
            streamed.epoch_batches(batch_size, torch.Generator().manual_seed(epoch))
        )
        expected = list(
            resident.epoch_batches(batch_size, torch.Generator().manual_seed(epoch))
        )
        assert len(batches) == len(expected) == n // batch_size
        assert all(map(_same_rows, batches, expected))
        assert sorted(torch.cat([b.categorical[:, 0] for b in batches]).tolist()) == (
            list(range(n))
        )
    ordered = list(streamed.ordered_batches(300))
    assert [b.n_samples for b in ordered] == [300, 300, 300, 100]
    assert all(map(_same_rows, ordered, resident.ordered_batches(300)))


def test_streamed_chunks_are_bounded_in_bytes(monkeypatch):
    monkeypatch.setattr(training_data_module, "STREAM_CHUNK_BYTES", 10 * 8 * 4)
    # Row: 2 float32 + 2 bool + 1 int64 = 18 bytes; 320 // 18 = 17 rows.
    encoded = _numbered_table(1000)
    streamed = HostStreamedData(encoded, "cpu", torch.float32, max_device_rows=900)
    assert streamed.rows_per_chunk(4) == 17
    assert streamed.rows_per_chunk(64) == 64  # never less than a minibatch
    batches = list(streamed.epoch_batches(4, torch.Generator().manual_seed(0)))
    assert sorted(torch.cat([b.categorical[:, 0] for b in batches]).tolist()) == (
        list(range(1000))
    )


@pytest.mark.parametrize("max_device_rows", [None, 150])
def test_training_rows_know_whether_the_table_has_missing_values(max_device_rows):
    n = 1000
    observed = np.ones((n, 2), bool)
    for has_missing in (False, True):
        observed[-1, 1] = not has_missing  # one missing entry, in the last row
        encoded = EncodedTable(
            np.zeros((n, 2)), observed.copy(), np.zeros((n, 0), np.int64)
        )
        data = TrainingData.from_encoded(
            encoded, torch.device("cpu"), max_device_rows=max_device_rows
        )
        generator = torch.Generator().manual_seed(0)
        pool = data.marginal_pool(100, generator)
        batch = next(iter(data.epoch_batches(64, generator)))
        assert data.complete is pool.complete is batch.complete is not has_missing


def test_fit_streams_data_larger_than_the_device_budget(monkeypatch):
    X, y = _blobs()
    monkeypatch.setattr(
        estimator_module, "device_row_limit", lambda encoded, device: 100
    )
    est = ContrastiveVAETransformer(**SMALL, max_epochs=10).fit(X)
    assert est.n_iter_ == 10
    score = cross_val_score(LogisticRegression(max_iter=1000), est.transform(X), y)
    assert score.mean() > 0.9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_streams_batches_from_pinned_host_memory(monkeypatch):
    n, batch_size = 3000, 64
    encoded = _numbered_table(n)
    cuda = torch.device("cuda")
    streamed = HostStreamedData(encoded, cuda, torch.float32, max_device_rows=1000)
    resident = TrainingData.from_encoded(encoded, cuda)
    for epoch in range(2):
        batches = streamed.epoch_batches(
            batch_size, torch.Generator(cuda).manual_seed(epoch)
        )
        expected = resident.epoch_batches(
            batch_size, torch.Generator(cuda).manual_seed(epoch)
        )
        for batch, reference in zip(batches, expected, strict=True):
            assert batch.numeric.device.type == "cuda"
            assert _same_rows(batch, reference)
    assert all(part.is_pinned() for part in streamed._buffers[0].parts)

    X, y = _blobs(n=3000)
    monkeypatch.setattr(
        estimator_module, "device_row_limit", lambda encoded, device: 1000
    )
    est = ContrastiveVAETransformer(
        **SMALL, max_epochs=5, device="cuda", early_stopping=True
    ).fit(X)
    score = cross_val_score(LogisticRegression(max_iter=1000), est.transform(X), y)
    assert score.mean() > 0.9


@pytest.mark.parametrize(
    "row_limit, expected",
    [
        (500, (HostStreamedData, TrainingData)),  # 60 validation rows <= 500 // 4
        (200, (HostStreamedData, HostStreamedData)),  # 60 > 200 // 4
        (600, (TrainingData, TrainingData)),
    ],
)
def test_validation_and_pool_share_the_device_budget_with_streamed_chunks(
    monkeypatch, row_limit, expected
):
    X, _ = _blobs()  # 540 training and 60 validation rows
    monkeypatch.setattr(
        estimator_module, "device_row_limit", lambda encoded, device: row_limit
    )
    seen = []
    real_train = estimator_module.train

    def spy(model, train_data, validation_data, *args, pool, **kwargs):
        seen.append((type(train_data), type(validation_data), pool.n_samples))
        return real_train(
            model, train_data, validation_data, *args, pool=pool, **kwargs
        )

    monkeypatch.setattr(estimator_module, "train", spy)
    est = ContrastiveVAETransformer(**SMALL, max_epochs=3, early_stopping=True)
    est.fit(X)
    # Streamed: chunks of a quarter of the budget (two at a time), the pool a
    # quarter, validation the last quarter. Resident: the data is the pool.
    pool_rows = row_limit // 4 if expected[0] is HostStreamedData else 540
    assert seen == [(*expected, pool_rows)]
    assert len(est.validation_loss_curve_) == 3
    assert np.isfinite(est.validation_loss_curve_).all()


def test_partial_fit_keeps_chunk_and_pool_within_the_device_budget(monkeypatch):
    X, _ = _blobs()
    monkeypatch.setattr(
        estimator_module, "device_row_limit", lambda encoded, device: 400
    )
    seen = []
    real_from_encoded = TrainingData.from_encoded.__func__

    def spy(cls, encoded, device, dtype=torch.float32, max_device_rows=None):
        data = real_from_encoded(cls, encoded, device, dtype, max_device_rows)
        seen.append((encoded.n_samples, max_device_rows, type(data)))
        return data

    monkeypatch.setattr(TrainingData, "from_encoded", classmethod(spy))
    est = ContrastiveVAETransformer(**SMALL)
    est.partial_fit(X[:300]).partial_fit(X[300:])
    # The pool is a quarter (100 rows) of the budget, the chunk the rest.
    assert seen == [
        (300, 300, TrainingData),
        (300, 100, HostStreamedData),  # the reservoir: more rows than the pool
        (300, 300, TrainingData),
        (600, 100, HostStreamedData),
    ]
    assert est.n_iter_ == 2


def test_transform_in_chunks_matches_one_pass(monkeypatch):
    X, _ = _blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    whole = est.transform(X)
    monkeypatch.setattr(estimator_module, "_INFERENCE_CHUNK", 7)
    # Same values up to float64 rounding (matrix products block differently).
    np.testing.assert_allclose(est.transform(X), whole, rtol=1e-12, atol=1e-14)


def test_dask_ml_incremental_over_array_and_dataframe():
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = _blobs()
    incremental = wrappers.Incremental(
        ContrastiveVAETransformer(**SMALL), shuffle_blocks=False
    )
    incremental.fit(da.from_array(X, chunks=150))
    fitted = incremental.estimator_
    assert fitted.n_iter_ == 4  # one call per block
    Z = incremental.transform(da.from_array(X, chunks=150)).compute()
    # Same chunks fed by hand give the same model (transform by blocks rounds
    # float64 products differently: equal to ~1e-16).
    by_hand = _partial_fitted(X, n_chunks=4)
    np.testing.assert_allclose(Z, by_hand.transform(X), rtol=1e-12, atol=1e-14)

    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["group"] = pd.Categorical(np.where(y == 0, "a", "b"))
    incremental = wrappers.Incremental(ContrastiveVAETransformer(**SMALL))
    incremental.fit(dd.from_pandas(frame, npartitions=3))
    assert incremental.estimator_.n_iter_ == 3
    assert list(incremental.estimator_.feature_names_in_) == list(frame.columns)


def test_grid_search_on_a_dask_cluster_matches_sequential():
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    X, y = _blobs(n=200)
    pipe = make_pipeline(
        ContrastiveVAETransformer(**SMALL, max_epochs=3), LogisticRegression()
    )
    grid = {"contrastivevaetransformer__temperature": [0.1, 0.5]}
    sequential = GridSearchCV(pipe, grid, cv=2).fit(X, y)
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
    np.testing.assert_array_equal(
        sequential.cv_results_["mean_test_score"],
        on_cluster.cv_results_["mean_test_score"],
    )
    np.testing.assert_array_equal(
        sequential.predict_proba(X), on_cluster.predict_proba(X)
    )


def test_transform_encodes_rows_chunk_by_chunk(monkeypatch):
    X, _ = _blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    est_frame = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(frame)
    monkeypatch.setattr(estimator_module, "_INFERENCE_CHUNK", 64)
    for fitted, data in ((est, X), (est_frame, frame)):
        encoder = fitted.table_encoder_
        seen = []
        original = encoder.transform

        def spy(rows, original=original, seen=seen):
            seen.append(len(rows))
            return original(rows)

        monkeypatch.setattr(encoder, "transform", spy)
        assert fitted.transform(data).shape == (len(X), 32)
        assert max(seen) == 64 and sum(seen) == len(X)


def test_integer_tables_are_encoded_without_a_float_copy(monkeypatch):
    X, _ = _blobs()
    X_int = np.round(X * 10).astype(np.int16)
    X_float = X_int.astype(np.float64)
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X_int)
    est_float = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X_float)
    np.testing.assert_array_equal(est.transform(X_int), est_float.transform(X_float))
    monkeypatch.setattr(estimator_module, "_INFERENCE_CHUNK", 64)
    encoder = est.table_encoder_
    chunks = []
    original = encoder.transform

    def spy(rows):
        chunks.append(rows)
        return original(rows)

    monkeypatch.setattr(encoder, "transform", spy)
    est.transform(X_int)
    # The encoder converts each chunk of the caller's array itself: no
    # float64 copy of the whole table is made first.
    assert len(chunks) == 10
    assert all(c.dtype == np.int16 and np.shares_memory(c, X_int) for c in chunks)


def test_partial_fit_records_representation_history():
    X, _ = _blobs()
    est = _partial_fitted(X, n_chunks=2, monitor_representation=True)
    assert all(len(v) == est.n_iter_ == 2 for v in est.representation_history_.values())
    # Monitoring switched on after a fit without it starts a history.
    fitted = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    fitted.set_params(monitor_representation=True).partial_fit(X)
    assert all(len(v) == 1 for v in fitted.representation_history_.values())


# -- Mixed precision -------------------------------------------------------------


def test_losses_compute_in_float32_under_autocast():
    from skssl import losses

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    half1, half2 = z1.bfloat16(), z2.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = losses.info_nce(half1, half2, 0.2)
        kl = losses.gaussian_kl(half1, half2)
    assert value.dtype == torch.float32 and kl.dtype == torch.float32
    # Exactly the float32 computation on the (rounded) half inputs: the
    # similarity products did not run in bfloat16.
    assert value.item() == losses.info_nce(half1.float(), half2.float(), 0.2).item()
    torch.testing.assert_close(kl, losses.gaussian_kl(half1.float(), half2.float()))


def test_mixed_precision_trains_the_networks_in_bfloat16(monkeypatch):
    X, y = _blobs()
    est = ContrastiveVAETransformer(
        **SMALL, mixed_precision=True, max_epochs=15, representation="latent"
    )
    seen = set()
    original = torch.nn.Linear.forward

    def recording_forward(self, input):
        out = original(self, input)
        seen.add(out.dtype)
        return out

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Linear, "forward", recording_forward)
        est.fit(X)
    assert torch.bfloat16 in seen  # the training forward passes
    assert all(p.dtype == torch.float32 for p in est.model_.parameters())
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    Z = est.transform(X)
    assert Z.dtype == np.float64
    score = cross_val_score(LogisticRegression(max_iter=1000), Z, y).mean()
    assert score > 0.9
    # Reproducible on the CPU like float32 training.
    again = ContrastiveVAETransformer(
        **SMALL, mixed_precision=True, max_epochs=15, representation="latent"
    )
    np.testing.assert_array_equal(again.fit_transform(X), Z)


# ATen operators that read a tensor's values back to the host: on a GPU each
# one waits for the device. ``.item()``, ``bool()`` and ``float()`` all end in
# ``_local_scalar_dense``; the others have output shapes that depend on data.
_HOST_READS = {
    aten._local_scalar_dense,
    aten.is_nonzero,
    aten.equal,
    aten.nonzero,
    aten.masked_select,
    aten._unique2,
    aten.unique_dim,
    aten.unique_consecutive,
}


class _HostReadRecorder(TorchDispatchMode):
    """Records host reads, including boolean-mask indexing (a hidden nonzero)."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        masks = func.overloadpacket in (aten.index, aten.index_put, aten.index_put_)
        if func.overloadpacket in _HOST_READS or (
            masks
            and any(
                index is not None and index.dtype in (torch.bool, torch.uint8)
                for index in args[1]
            )
        ):
            frames = traceback.extract_stack()
            where = [f for f in frames if f"skssl{os.sep}" in f.filename][-1:]
            self.reads.append(f"{func} at {traceback.format_list(where)}")
        return func(*args, **(kwargs or {}))


def _fit_with_each_epoch_inside(monkeypatch, context, frame, **params):
    """Fit with each training epoch's steps run inside ``context()``.

    Returns the number of epochs run. The end-of-epoch read of the summed
    losses happens outside the context.
    """
    from skssl import _training

    epoch = _training._epoch
    n_epochs = 0

    def wrapped_epoch(*args, **kwargs):
        nonlocal n_epochs
        n_epochs += 1
        with context():
            return epoch(*args, **kwargs)

    monkeypatch.setattr(_training, "_epoch", wrapped_epoch)
    ContrastiveVAETransformer(
        **{**SMALL, "max_epochs": 2, "batch_size": 16}, **params
    ).fit(frame)
    return n_epochs


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("mixed_precision", [False, True])
@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_training_steps_never_read_tensors_back_to_the_host(
    monkeypatch, mixed_frame, variant, mixed_precision, streamed
):
    # The CPU stand-in for the CUDA test below, so CI checks it on every
    # objective: an epoch's steps (batch draws, augmentation, losses, backward,
    # optimiser) must not read a tensor's values on the host.
    recorder = _HostReadRecorder()
    if streamed:
        monkeypatch.setattr(
            estimator_module, "device_row_limit", lambda encoded, device: 50
        )
    n_epochs = _fit_with_each_epoch_inside(
        monkeypatch,
        lambda: recorder,
        mixed_frame,
        mixed_precision=mixed_precision,
        **CONTRASTIVE_VARIANTS[variant],
    )
    assert n_epochs == 2
    assert recorder.reads == []


def test_host_read_recorder_sees_item_and_boolean_masks():
    recorder = _HostReadRecorder()
    x = torch.arange(4.0)
    with recorder:
        x.sum().item()
        x[x > 1]
        torch.nn.functional.one_hot(torch.tensor([0, 2]))
        x * 2  # not a read
    assert len(recorder.reads) >= 3


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_training_keeps_every_tensor_on_the_model_device(
    monkeypatch, mixed_frame, variant, streamed
):
    # The CPU stand-in for "runs on CUDA": on PyTorch's "meta" device, as on
    # CUDA, an operation that mixes a device tensor with a CPU tensor (one made
    # without device=) raises. An epoch's steps run there for every objective.
    from skssl import _training

    fitted = ContrastiveVAETransformer(
        **{**SMALL, "max_epochs": 1, "batch_size": 16},
        **CONTRASTIVE_VARIANTS[variant],
    ).fit(mixed_frame)
    meta = torch.device("meta")
    model = fitted.model_.to(meta)
    encoded = fitted.table_encoder_.transform(mixed_frame)
    data = (
        HostStreamedData(encoded, meta, torch.float32, max_device_rows=50)
        if streamed
        else TrainingData.from_encoded(encoded, meta)
    )
    generator = torch.Generator().manual_seed(0)  # meta has no generator
    pool = data.marginal_pool(65_536, generator)
    real_autocast = torch.autocast

    def autocast(device_type, *args, **kwargs):  # autocast refuses "meta"
        if device_type == "meta":
            return contextlib.nullcontext()
        return real_autocast(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", autocast)
    config = fitted._training_config()
    with _training.training_optimizer(model, config) as optimizer:
        sums = _training._epoch(model, data, pool, config, generator, optimizer)
    assert sums.device == meta and sums.shape == (len(_training.LOSS_TERMS),)
    assert all(p.device == meta for p in model.parameters())


@contextlib.contextmanager
def _cuda_syncs_raise():
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mixed_precision", [False, True])
@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_cuda_epoch_never_waits_on_the_host(
    monkeypatch, mixed_frame, variant, mixed_precision
):
    # CUDA's sync debug mode turns every host synchronisation (.item(), a
    # device-to-host copy, a data-dependent shape) into an error. The whole
    # epoch (batch draws, augmentation, losses, backward, AdamW) runs under
    # it; only the end-of-epoch read of the losses may synchronise.
    n_epochs = _fit_with_each_epoch_inside(
        monkeypatch,
        _cuda_syncs_raise,
        mixed_frame,
        device="cuda",
        mixed_precision=mixed_precision,
        **CONTRASTIVE_VARIANTS[variant],
    )
    assert n_epochs == 2
