"""Faults during training: interrupts, resumption in a new process, out of memory.

Faults are raised from inside training by subclasses (of ``TrainingRun``,
hooked in through ``TrainingSession.run_class``, and of the estimators,
whose ``_session`` builds that session), never by patching skssl's modules.

The contract: a ``fit`` or ``partial_fit`` that does not return leaves the
estimator as it was (unfitted, or with its previous fitted state), and the
caller's random generators and thread settings as they were.
"""

import gc
import pickle
import random
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_info

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer
from skssl.training import DeviceOutOfMemoryError, TrainingRun, TrainingSession
from tests._helpers import FAST, SMALL, blobs, make_mixed_frame

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("quiet")


class FaultyRun(TrainingRun):
    """Raises ``fault()`` at optimiser step ``at_step`` (counted from 1).

    ``runs`` keeps a weak reference to every run's networks, to check that
    nothing of a failed run stays alive.
    """

    at_step = 3
    fault = KeyboardInterrupt
    runs = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0
        FaultyRun.runs.append(weakref.ref(self.model))

    def train_step(self, batch, optimizer):
        self.steps += 1
        if self.steps == self.at_step:
            raise self.fault()
        return super().train_step(batch, optimizer)


def _faulty(estimator_class, fault, at_step=3, **session_kwargs):
    """A subclass of ``estimator_class`` whose training raises ``fault``."""
    run = type("Run", (FaultyRun,), {"fault": staticmethod(fault), "at_step": at_step})
    session = type("Session", (TrainingSession,), {"run_class": run})

    def _session(self):
        return session.from_estimator(self, **session_kwargs)

    return type(
        f"Faulty{estimator_class.__name__}", (estimator_class,), dict(_session=_session)
    )


def _out_of_memory():
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.")


def _caller_state():
    """The random generators and thread settings a fit must leave alone."""
    return (
        random.getstate(),
        np.random.get_state()[1].tobytes(),  # noqa: NPY002 (the global RNG)
        torch.random.get_rng_state().numpy().tobytes(),
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        [(info["internal_api"], info["num_threads"]) for info in threadpool_info()],
        threading.active_count(),
    )


def _same_attributes(est, attributes):
    """Whether ``est`` holds exactly ``attributes`` (the same objects)."""
    now = vars(est)
    return now.keys() == attributes.keys() and all(
        now[k] is v for k, v in attributes.items()
    )


@pytest.mark.parametrize("streamed", [False, True])
def test_an_interrupted_fit_leaves_the_estimator_and_the_caller_as_they_were(streamed):
    X, _ = blobs(n=120)
    session_kwargs = {"device_rows": 40} if streamed else {}
    Faulty = _faulty(ContrastiveVAETransformer, KeyboardInterrupt, **session_kwargs)
    before = _caller_state()
    est = Faulty(**FAST, batch_size=16)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    assert _caller_state() == before
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert not hasattr(est, "n_features_in_")  # validation's attribute undone

    # A fitted estimator keeps its fitted state, whatever the new data.
    est = Faulty(**FAST, batch_size=16)
    est.__class__ = ContrastiveVAETransformer
    est.fit(X)
    attributes = dict(vars(est))
    Z = est.transform(X)
    est.__class__ = Faulty
    with pytest.raises(KeyboardInterrupt):
        est.fit(make_mixed_frame(60))  # other columns, other names
    assert _same_attributes(est, attributes)
    np.testing.assert_array_equal(est.transform(X), Z)
    assert _caller_state() == before


def test_an_interrupted_partial_fit_changes_nothing():
    X, _ = blobs(n=300)
    chunks = np.array_split(X, 3)
    uninterrupted = ContrastiveVAETransformer(**SMALL)
    for chunk in chunks:
        uninterrupted.partial_fit(chunk)

    Faulty = _faulty(ContrastiveVAETransformer, KeyboardInterrupt, at_step=1)
    est = ContrastiveVAETransformer(**SMALL).partial_fit(chunks[0])
    attributes = dict(vars(est))
    est.__class__ = Faulty
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(chunks[1])
    assert _same_attributes(est, attributes) and est.n_iter_ == 1
    # Resumed, it trains exactly as if the interrupted call had not been made.
    est.__class__ = ContrastiveVAETransformer
    est.partial_fit(chunks[1]).partial_fit(chunks[2])
    np.testing.assert_array_equal(est.transform(X), uninterrupted.transform(X))
    assert est.loss_curve_ == uninterrupted.loss_curve_


def test_an_interrupted_classifier_fit_leaves_it_as_it_was():
    X, y = blobs(n=120)
    y = np.where(np.arange(120) % 4 == 0, y, -1)
    Faulty = _faulty(ContrastiveVAEClassifier, KeyboardInterrupt)
    before = _caller_state()
    clf = Faulty(**FAST, batch_size=16)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert _caller_state() == before
    assert not hasattr(clf, "classes_") and not hasattr(clf, "n_features_in_")

    clf.__class__ = ContrastiveVAEClassifier
    clf.fit(X, y)
    attributes, proba = dict(vars(clf)), clf.predict_proba(X)
    clf.__class__ = Faulty
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X[:60], np.where(y[:60] >= 0, y[:60] + 10, -1))  # other classes
    assert _same_attributes(clf, attributes)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


RESUME = textwrap.dedent(
    """
    import pickle, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    folder = sys.argv[1]
    with open(f"{folder}/midway.pkl", "rb") as f:
        est = pickle.load(f)
    chunks = np.load(f"{folder}/chunks.npy")
    for chunk in chunks[2:]:
        est.partial_fit(chunk)
    np.save(f"{folder}/resumed.npy", est.transform(chunks.reshape(-1, chunks.shape[2])))
    """
)


def test_a_partial_fit_sequence_resumed_in_a_new_process_gives_the_same_model(
    tmp_path,
):
    X, _ = blobs(n=400)
    chunks = np.stack(np.array_split(X, 4))
    params = dict(SMALL, monitor_representation=True)
    uninterrupted = ContrastiveVAETransformer(**params)
    for chunk in chunks:
        uninterrupted.partial_fit(chunk)
    midway = ContrastiveVAETransformer(**params)
    for chunk in chunks[:2]:
        midway.partial_fit(chunk)
    (tmp_path / "midway.pkl").write_bytes(pickle.dumps(midway))
    np.save(tmp_path / "chunks.npy", chunks)
    subprocess.run(
        [sys.executable, "-c", RESUME, str(tmp_path)], check=True, cwd=ROOT, timeout=300
    )
    resumed = np.load(tmp_path / "resumed.npy")
    np.testing.assert_array_equal(resumed, uninterrupted.transform(X))


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_running_out_of_device_memory_names_batch_size_and_device(method):
    X, _ = blobs(n=120)
    Faulty = _faulty(ContrastiveVAETransformer, _out_of_memory, at_step=2)
    est = Faulty(**FAST, batch_size=32)
    FaultyRun.runs.clear()
    with pytest.raises(DeviceOutOfMemoryError) as raised:
        getattr(est, method)(X)
    error = raised.value
    assert isinstance(error, MemoryError) and isinstance(error, torch.OutOfMemoryError)
    message = str(error)
    assert "batch_size=32" in message and "device cpu" in message
    assert "Tried to allocate 2.00 GiB" in message  # torch's own detail
    # The original error is not kept (its frames would keep the tensors).
    assert error.__cause__ is None and error.__context__ is None
    gc.collect()
    assert [ref() for ref in FaultyRun.runs] == [None]  # the networks are freed
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_the_classifier_running_out_of_memory_names_batch_size_and_device():
    X, y = blobs(n=120)
    Faulty = _faulty(ContrastiveVAEClassifier, _out_of_memory)
    clf = Faulty(**FAST, batch_size=16)
    with pytest.raises(DeviceOutOfMemoryError, match="device cpu with batch_size=16"):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("simulated", [True, False])
def test_cuda_out_of_memory_leaves_nothing_allocated(simulated):
    """A fit that runs out of GPU memory frees what it allocated there.

    Simulated: the error raised mid-epoch, with data and networks on the
    GPU. Real: the allocator capped a little above what is in use, and
    activations that cannot fit.
    """
    rng = np.random.default_rng(0)
    # A first fit sets up what CUDA keeps for the process (cuBLAS workspaces).
    ContrastiveVAETransformer(**FAST, device="cuda").fit(rng.normal(size=(64, 4)))
    torch.cuda.synchronize()
    gc.collect()
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated()
    if simulated:
        X = rng.normal(size=(4000, 16)).astype(np.float32)
        Faulty = _faulty(ContrastiveVAETransformer, _out_of_memory, at_step=5)
        est = Faulty(**FAST, batch_size=256, device="cuda")
        with pytest.raises(DeviceOutOfMemoryError, match="batch_size=256.*cuda:"):
            est.fit(X)
    else:
        X = rng.normal(size=(32768, 64)).astype(np.float32)
        total = torch.cuda.get_device_properties(0).total_memory
        cap = baseline + 512 * 2**20  # the data fit, (32768, 8192) activations not
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total))
        try:
            est = ContrastiveVAETransformer(
                n_components=16384,  # hidden layers (8192, 8192)
                latent_dim=128,
                batch_size=32768,
                max_epochs=1,
                device="cuda",
                random_state=0,
            )
            with pytest.raises(DeviceOutOfMemoryError, match="batch_size=32768.*cuda:"):
                est.fit(X)
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
    assert torch.cuda.memory_allocated() == baseline
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
