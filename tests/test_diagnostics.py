"""Representation diagnostics (skssl._diagnostics) and the collapse warning."""

import warnings

import pytest
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer, RepresentationCollapseWarning
from skssl._diagnostics import DIAGNOSTIC_ROWS, RepresentationMonitor
from skssl._objective import Objective
from skssl._training_data import TrainingData
from tests._helpers import FAST, SMALL, blobs, partial_fitted


def test_representation_monitoring_and_collapse_warning():
    X, _ = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepresentationCollapseWarning)
        healthy = ContrastiveVAETransformer(
            **{**FAST, "max_epochs": 5, "latent_dim": 8}, monitor_representation=True
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
            n_components=256,
            hidden_layer_sizes=(128, 128),
            latent_dim=32,
            max_epochs=30,
            learning_rate=0.01,
            random_state=0,
            vae_weight=0,
            corruption_rate=1.0,
            noise_scale=0,
            temperature=1.0,
        ).fit(X)


@pytest.mark.usefixtures("quiet")
def test_partial_fit_records_representation_history():
    X, _ = blobs()
    est = partial_fitted(X, n_chunks=2, monitor_representation=True)
    assert all(len(v) == est.n_iter_ == 2 for v in est.representation_history_.values())
    # Monitoring switched on after a fit without it starts a history.
    fitted = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    fitted.set_params(monitor_representation=True).partial_fit(X)
    assert all(len(v) == 1 for v in fitted.representation_history_.values())


def test_the_monitor_measures_fixed_rows_and_views():
    X, _ = blobs(n=1500)
    est = ContrastiveVAETransformer(**FAST).fit(X)
    pool = TrainingData.from_encoded(est.table_encoder_.transform(X), "cpu")
    params = est.get_params()
    objective = Objective.from_params(params, ContrastiveVAETransformer().get_params())
    monitor = RepresentationMonitor(pool, objective, seed=0)
    assert monitor.clean.n_samples == DIAGNOSTIC_ROWS == 1024
    assert [view.n_samples for view in monitor.views] == [1024, 1024]
    monitor(est.model_)
    monitor(est.model_)
    # The same rows and views every epoch: an unchanged model, the same values.
    for values in monitor.history.values():
        assert len(values) == 2 and values[0] == values[1]
    history = {"alignment": [1.0], "uniformity": [2.0], "effective_rank": [3.0]}
    RepresentationMonitor(pool, objective, 0, history)(est.model_)
    assert [len(v) for v in history.values()] == [2, 2, 2]
    report = monitor.collapse_report(est.model_)
    assert report["effective_rank"] == pytest.approx(
        monitor.history["effective_rank"][-1]
    )
