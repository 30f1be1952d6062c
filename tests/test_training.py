"""The training session (skssl.training): fit, partial_fit and the epoch loop.

Early stopping, the epoch budget, partial_fit's resumable state, streaming
from host memory under a device row budget (``device_rows``), and what an
epoch's steps may do on the device.
"""

import contextlib
import os
import traceback

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from torch.utils._python_dispatch import TorchDispatchMode

from skssl import ContrastiveVAETransformer
from skssl._input import validate_input
from skssl._training_data import HostStreamedData, TrainingData
from skssl.training import (
    CURVES,
    LOSS_TERMS,
    TrainingRun,
    TrainingSession,
    TrainingState,
    _EarlyStopping,
    resolve_max_epochs,
    seed_sequence,
)
from tests._helpers import (
    CONTRASTIVE_VARIANTS,
    FAST,
    SMALL,
    SMALL_LATENT,
    RecordingSession,
    blobs,
    fit_with,
    partial_fit_with,
    partial_fitted,
)

# Tiny networks and few epochs, on purpose: their warnings are expected.
pytestmark = pytest.mark.usefixtures("quiet")

aten = torch.ops.aten
DEFAULTS = ContrastiveVAETransformer().get_params()


def _session(**params):
    return TrainingSession(ContrastiveVAETransformer(**params).get_params(), DEFAULTS)


def test_a_session_reads_the_estimators_parameters_and_defaults():
    est = ContrastiveVAETransformer(**FAST, temperature=0.5)
    session = TrainingSession.from_estimator(est, device_rows=10, chunk_bytes=99)
    assert session.params == est.get_params(deep=False)
    assert session.device_rows == 10 and session.chunk_bytes == 99
    assert session.hidden_layer_sizes == [32]
    assert session.objective.temperature == 0.5
    with pytest.raises(ValueError, match="both 0"):
        _session(contrastive_weight=0, vae_weight=0)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        _session(hidden_layer_sizes=(4, True))
    assert _session(n_components=8, hidden_layer_sizes=8).hidden_layer_sizes == [8]


def test_fit_starts_a_new_state_and_partial_fit_continues_it():
    X, _ = blobs(n=100)
    session = _session(**FAST)
    mask = np.zeros(X.shape[1], dtype=bool)
    state = session.fit(X, mask)
    assert isinstance(state, TrainingState) and state.stream is None
    assert state.n_epochs == state.max_epochs == 3
    assert set(state.curves) == set(CURVES)
    assert state.model.encoder.mean.weight.device.type == "cpu"
    weights = [p.detach().clone() for p in state.model.parameters()]
    again = session.partial_fit(X, mask, state)
    # Trained further as a copy: the state given is left as it was.
    assert again is not state and again.model is not state.model
    assert state.n_epochs == 3 and state.stream is None
    assert all(torch.equal(a, b) for a, b in zip(weights, state.model.parameters()))
    state = again
    assert state.n_epochs == 4 and state.stream is not None
    assert state.stream.reservoir.n_seen == 100
    device, generator_state = state.stream.generator
    assert device == "cpu" and isinstance(generator_state, torch.Tensor)
    assert state.curves["validation"] == []
    # A further call copies the stream too.
    third = session.partial_fit(X, mask, state)
    assert state.stream.reservoir.n_seen == 100 and state.n_epochs == 4
    assert third.stream.reservoir.n_seen == 200 and third.n_epochs == 5
    # A new session over the same parameters trains the same networks.
    other = _session(**FAST).fit(X, mask)
    for a, b in zip(other.model.parameters(), session.fit(X, mask).model.parameters()):
        assert torch.equal(a, b)


def test_seeds_come_from_random_state_alone():
    assert seed_sequence(0) == seed_sequence(0) != seed_sequence(1)
    assert len(seed_sequence(0)) == 3 and len(set(seed_sequence(0))) == 3
    rng = np.random.RandomState(5)
    first, second = seed_sequence(rng), seed_sequence(rng)
    assert first != second  # the instance advances
    assert seed_sequence(None) != seed_sequence(None)


def test_early_stopping_counts_epochs_without_improvement_by_tol():
    model = torch.nn.Linear(1, 1)
    stopping = _EarlyStopping(tol=0.1, patience=2, keep_best=True)
    assert not stopping.update(1.0, model)
    with torch.no_grad():
        model.weight.fill_(7.0)
    # 0.95 is better, but not by tol: a stale epoch, whose weights are kept.
    assert not stopping.update(0.95, model)
    with torch.no_grad():
        model.weight.fill_(3.0)
    assert stopping.update(2.0, model) and stopping.converged
    assert stopping.best == 0.95
    assert stopping.best_state["weight"].item() == 7.0
    assert _EarlyStopping(0.1, 2, keep_best=False).best_state is None


def test_train_steps_continue_where_the_last_call_stopped():
    X, _ = blobs(n=200)
    session = _session(**SMALL, batch_size=32)

    def trained(calls):
        run = session.start(X, seed=3)
        sums = []
        with run.optimizer() as optimizer:
            for n_steps in calls:
                sums.append(run.train_steps(n_steps, optimizer))
        return run.model, sum(sums)

    # 6 steps per epoch: 4 + 5 steps cross an epoch boundary.
    split, split_sums = trained([4, 5])
    whole, whole_sums = trained([9])
    for a, b in zip(split.parameters(), whole.parameters()):
        assert torch.equal(a, b)
    torch.testing.assert_close(split_sums, whole_sums)
    assert split_sums.shape == (len(LOSS_TERMS),)


def test_the_epoch_loop_records_curves_monitors_and_reports(capsys):
    X, _ = blobs(n=200)
    session = _session(**SMALL, batch_size=64, verbose=1)
    run = session.start(X, seed=0)
    curves = {name: [] for name in CURVES}
    monitored = []
    state = run.epochs(3, curves, monitor=lambda model: monitored.append(model))
    assert [len(curves[name]) for name in LOSS_TERMS] == [3, 3, 3, 3]
    assert curves["validation"] == []
    assert monitored == [run.model] * 3
    assert not run.model.training
    (moments,) = state["state"].values()
    assert float(moments["step"]) == 3 * 3  # 200 // 64 minibatches an epoch
    assert moments["exp_avg"].device.type == "cpu"
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "Epoch 1/3",
        "Epoch 2/3",
        "Epoch 3/3",
    ]
    assert f"loss {curves['loss'][0]:.4f} (contrastive " in out[0]
    # A second call goes on numbering epochs and resumes the optimiser.
    run.epochs(1, curves, optimizer_state=state)
    assert capsys.readouterr().out.startswith("Epoch 4/4: loss ")
    assert len(curves["loss"]) == 4


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


def test_auto_epoch_budget_bounds_rows_seen():
    assert resolve_max_epochs(7, 10**6) == 7
    assert resolve_max_epochs("auto", 300) == 100
    assert resolve_max_epochs("auto", 600) == 100
    assert resolve_max_epochs("auto", 5000) == 12
    assert resolve_max_epochs("auto", 20000) == 3
    assert resolve_max_epochs("auto", 10**7) == 3
    X, _ = make_blobs(n_samples=60, n_features=3, random_state=0)
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": "auto"}, n_iter_no_change=1000
    ).fit(X)
    assert est.max_epochs_ == est.n_iter_ == 100


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
    _, _, split_seed = seed_sequence(0)
    rows = np.arange(len(X))
    train_rows, held_out = train_test_split(
        rows, test_size=57, random_state=int(split_seed)
    )
    encoded = est.table_encoder_.transform(X)
    data = TrainingData.from_encoded(encoded, "cpu")
    train_data = data.rows(torch.as_tensor(train_rows))
    run = TrainingRun(
        TrainingSession.from_estimator(est),
        est.model_,
        train_data,
        pool=train_data,
        validation=data.rows(torch.as_tensor(held_out)),
        generator=torch.Generator(),
        device=torch.device("cpu"),
    )
    loss = run.validation_loss(int(split_seed))
    assert loss == pytest.approx(min(curve), rel=1e-5)


def test_diverging_fit_raises():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": 20}, optimizer="sgd", learning_rate=1e8
    )
    with pytest.raises(FloatingPointError, match="diverged"):
        est.fit(X)


def test_partial_fit_learns_and_records_history():
    X, y = blobs()
    # The latent code is what the losses shape: probe it, not the hidden layers.
    est = partial_fitted(X, n_chunks=4, partial_fit_epochs=3, **SMALL_LATENT)
    assert est.n_iter_ == 12 == len(est.loss_curve_) == len(est.kl_loss_curve_)
    assert est.n_features_in_ == X.shape[1]
    assert est.transform(X).shape == (len(X), 4)
    assert est.loss_curve_[-1] < est.loss_curve_[0]

    untrained = ContrastiveVAETransformer(**SMALL_LATENT, partial_fit_epochs=1)
    untrained.partial_fit(X[:2])  # two rows: one step, close to initialisation
    probe = LogisticRegression(max_iter=1000)
    trained_score = cross_val_score(probe, est.transform(X), y).mean()
    untrained_score = cross_val_score(probe, untrained.transform(X), y).mean()
    assert trained_score >= untrained_score
    assert trained_score > 0.9


def _second_call_with_generator_state(X, generator_state):
    est = ContrastiveVAETransformer(**SMALL).partial_fit(X)
    est._training_state.stream.generator = generator_state
    return est.partial_fit(X).transform(X)


def test_partial_fit_on_another_device_does_not_replay_the_first_draws():
    X, _ = blobs()
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
            {"hidden_layer_sizes": (16, 16)},
            r"hidden_layer_sizes \(the networks have \[32\]",
        ),
        ({}, {"latent_dim": 3}, r"latent_dim \(the networks have 4, now 3\)"),
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
    X, _ = blobs(n=100)
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
    X, _ = blobs(n=100)
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    before = est.transform(X)
    est.set_params(**{branch: 0.0})
    if branch == "contrastive_weight":  # the idle head's width no longer matters
        est.set_params(projection_dim=8)
    est.partial_fit(X)
    assert est.n_iter_ == 3 and np.isfinite(est.loss_curve_[-1])
    assert not np.array_equal(est.transform(X), before)


def test_partial_fit_after_fit_fine_tunes():
    X, _ = blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=3).fit(X)
    before = est.transform(X)
    est.partial_fit(X[:300])
    assert est.n_iter_ == 4
    assert not np.allclose(before, est.transform(X))


def test_fit_streams_data_larger_than_the_device_budget():
    X, y = blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=10)
    session = RecordingSession.from_estimator(est, device_rows=100)
    fit_with(est, X, session)
    assert session.data == [(600, 100, HostStreamedData)]
    assert session.pools == [25]  # a quarter of the budget
    assert est.n_iter_ == 10
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
    row_limit, expected
):
    X, _ = blobs()  # 540 training and 60 validation rows
    est = ContrastiveVAETransformer(**SMALL, max_epochs=3, early_stopping=True)
    session = RecordingSession.from_estimator(est, device_rows=row_limit)
    fit_with(est, X, session)
    # Streamed: chunks of a quarter of the budget (two at a time), the pool a
    # quarter, validation the last quarter. Resident: the data is the pool.
    streamed = expected[0] is HostStreamedData
    pool_rows = row_limit // 4 if streamed else 540
    validation_limit = row_limit // 4 if streamed else row_limit
    assert session.data == [
        (540, row_limit, expected[0]),
        (60, validation_limit, expected[1]),
    ]
    assert session.pools == [pool_rows]
    assert len(est.validation_loss_curve_) == 3
    assert np.isfinite(est.validation_loss_curve_).all()


def test_partial_fit_keeps_chunk_and_pool_within_the_device_budget():
    X, _ = blobs()
    est = ContrastiveVAETransformer(**SMALL)
    seen, pools = [], []
    for chunk in (X[:300], X[300:]):
        session = RecordingSession.from_estimator(est, device_rows=400)
        partial_fit_with(est, chunk, session)
        seen += session.data
        pools += session.pools
    # The pool is a quarter (100 rows) of the budget, the chunk the rest.
    assert seen == [
        (300, 300, TrainingData),
        (300, 100, HostStreamedData),  # the reservoir: more rows than the pool
        (300, 300, TrainingData),
        (600, 100, HostStreamedData),
    ]
    assert pools == [100, 100]
    assert est.n_iter_ == 2


# -- What an epoch's steps do on the device ----------------------------------


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


def _train_steps_inside(context, frame, device_rows=None, **params):
    """Two epochs of training steps on ``frame``, run inside ``context()``.

    The run is what ``fit`` trains (``TrainingSession.start``): resident, or
    streamed from host memory under ``device_rows``. Returns the run, its
    parameters before training, and the summed loss terms, which are read
    outside the context.
    """
    est = ContrastiveVAETransformer(**{**SMALL, "batch_size": 16}, **params)
    X, mask = validate_input(est, frame, reset=True)
    session = TrainingSession.from_estimator(est, device_rows=device_rows)
    run = session.start(X, mask)
    before = [p.detach().clone() for p in run.model.parameters()]
    n_steps = 2 * (run.data.n_samples // run.batch_size)
    with run.optimizer() as optimizer, context():
        sums = run.train_steps(n_steps, optimizer)
    assert torch.isfinite(sums).all()
    return run, before


def _trained(run, before):
    return all(
        not torch.equal(old, new) for old, new in zip(before, run.model.parameters())
    )


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("mixed_precision", [False, True])
@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_training_steps_never_read_tensors_back_to_the_host(
    mixed_frame, variant, mixed_precision, streamed
):
    # The CPU stand-in for the CUDA test below, so CI checks it on every
    # objective: an epoch's steps (batch draws, augmentation, losses, backward,
    # optimiser) must not read a tensor's values on the host.
    recorder = _HostReadRecorder()
    run, before = _train_steps_inside(
        lambda: recorder,
        mixed_frame,
        device_rows=50 if streamed else None,
        mixed_precision=mixed_precision,
        **CONTRASTIVE_VARIANTS[variant],
    )
    assert isinstance(run.data, HostStreamedData) is streamed
    assert _trained(run, before)
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
    run = TrainingRun(
        TrainingSession.from_estimator(fitted), model, data, pool, None, generator, meta
    )
    with run.optimizer() as optimizer:
        sums = run.train_steps(data.n_samples // run.batch_size, optimizer)
    assert sums.device == meta and sums.shape == (len(LOSS_TERMS),)
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
def test_cuda_epoch_never_waits_on_the_host(mixed_frame, variant, mixed_precision):
    # CUDA's sync debug mode turns every host synchronisation (.item(), a
    # device-to-host copy, a data-dependent shape) into an error. The whole
    # epoch (batch draws, augmentation, losses, backward, AdamW) runs under
    # it; only the end-of-epoch read of the losses may synchronise.
    run, before = _train_steps_inside(
        _cuda_syncs_raise,
        mixed_frame,
        device="cuda",
        mixed_precision=mixed_precision,
        **CONTRASTIVE_VARIANTS[variant],
    )
    assert _trained(run, before)
