"""The speed benchmark: its measurement, FLOP count, reference loops and
time-to-accuracy line."""

import io
import shutil

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer, losses
from skssl.benchmark import _cli
from skssl.benchmark._reference_loops import reference_loss
from skssl.benchmark._speed import (
    _TimedTransformer,
    count_flops,
    format_row,
    format_time_to_accuracy,
    measure,
    measure_compiled,
    measure_time_to_accuracy,
    reached_target,
    run_speed,
    start_run,
)

# A small network and a few epochs: the time-to-accuracy tests' budget.
TINY = {"n_components": 32, "max_epochs": 5}


def test_speed_measurement_counts_flops_and_compares_to_reference():
    pytest.importorskip("skorch")
    result = measure(n_rows=600, n_columns=6, batch_size=64, n_steps=3, n_warmup=1)
    assert result.n_rows == 600 and result.batch_size == 64
    assert result.train_rows_per_s > 0 and result.reference_rows_per_s > 0
    assert result.speedup_vs_reference == pytest.approx(
        result.train_rows_per_s / result.reference_rows_per_s
    )
    assert result.skorch_rows_per_s > 0  # skorch is in the test extra
    assert result.speedup_vs_skorch == pytest.approx(
        result.train_rows_per_s / result.skorch_rows_per_s
    )
    # FLOPs per training row of a 6-256-256-32 encoder (three passes) plus
    # decoder and backward: at least the encoder's forward multiply-adds.
    flops_per_row = result.train_gflops * 1e9 / result.train_rows_per_s
    assert flops_per_row > 3 * 2 * (6 * 256 + 256 * 256 + 256 * 64)
    assert 0 < result.matmul_fraction < 5
    assert result.transform_rows_per_s > 0 and result.peak_memory_mb > 0
    assert str(format_row(result)).count("|") == 14


def test_reference_objective_is_the_training_objective(monkeypatch):
    """The reference loops time the same objective as fit's step, not another.

    With augmentation and the VAE's sampling noise switched off, the standard
    three-pass formulation and skssl's concatenated, blocked one give the same
    loss and the same gradients.
    """
    monkeypatch.setattr(
        torch, "randn", lambda shape, **kw: torch.zeros(shape, dtype=kw["dtype"])
    )
    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)
    X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    params = {"n_components": 16, "hidden_layer_sizes": (16,), "latent_dim": 4}
    params.update(corruption_rate=0.0, kl_weight=0.5)
    run = start_run(X, params, torch.device("cpu"), 32)
    model, objective, pool = run.model, run.objective, run.pool
    batch = run.data.rows(torch.arange(32))
    generator = torch.Generator().manual_seed(0)
    results = []
    for loss_of in (
        lambda: objective.batch_losses(model, batch, pool, generator)[0],
        lambda: reference_loss(model, batch, pool, objective, generator),
    ):
        model.zero_grad()
        loss = loss_of()
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("vae_weight", [0.0, 1.0])
def test_flop_count_of_a_step_is_that_of_the_reference_objective(vae_weight):
    """The speed benchmark counts every matrix product of a training step.

    skssl's step (one concatenated encoder pass, the blocked InfoNCE with its
    hand-written gradient) runs the same products as the standard
    formulation's forward and autograd backward, except the log-variance of
    the two views, which the standard formulation computes and discards.
    """
    X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    params = {
        "n_components": 16,
        "hidden_layer_sizes": (16,),
        "latent_dim": 4,
        "vae_weight": vae_weight,
    }
    run = start_run(X, params, torch.device("cpu"), 32)
    model, objective, pool = run.model, run.objective, run.pool
    batch = run.data.rows(torch.arange(32))
    generator = torch.Generator().manual_seed(0)
    skssl_flops = count_flops(
        lambda: objective.batch_losses(model, batch, pool, generator)[0].backward()
    )
    reference_flops = count_flops(
        lambda: reference_loss(model, batch, pool, objective, generator).backward()
    )
    views_log_var = 2 * (2 * 32) * 16 * 4  # 2 x rows x hidden x latent, forward
    assert reference_flops - skssl_flops == views_log_var
    # The InfoNCE alone: logits of 64 anchors against 64, then its gradient.
    z = torch.randn(64, 8, requires_grad=True)
    assert (
        count_flops(lambda: losses.info_nce(z[:32], z[32:], 0.5).backward())
        == 3 * 2 * 64 * 64 * 8
    )


def test_time_to_accuracy_measures_a_fit_and_its_probe():
    result = measure_time_to_accuracy("breast_cancer", params=TINY)
    assert (result.n_fit, result.n_held_out) == (398, 171)
    assert result.n_epochs == 5 == len(result.epoch_seconds)
    # The untrained networks' held-out loss, then one per epoch.
    assert len(result.validation_losses) == 6
    assert result.validation_losses[-1] < result.validation_losses[0]
    assert 1 <= result.target_epoch <= result.n_epochs
    assert result.validation_losses[result.target_epoch] <= result.target_loss
    assert 0 < result.seconds_to_target <= result.fit_seconds
    assert result.fit_seconds == pytest.approx(sum(result.epoch_seconds))
    # Above the majority class's share of the held-out rows (0.626).
    assert result.chance_accuracy == pytest.approx(107 / 171)
    assert result.chance_accuracy < result.probe_accuracy <= 1
    assert result.chance_accuracy < result.raw_probe_accuracy <= 1
    line = format_time_to_accuracy(result)
    assert line.startswith("time to accuracy (breast_cancer, 398 fit / 171 held-out")
    assert "with n_components=32, max_epochs=5, seed 0" in line
    assert f"probe accuracy {result.probe_accuracy:.3f}" in line


def test_timed_fit_trains_as_an_untimed_fit():
    """Timing epochs and measuring the held-out loss change nothing the fit
    computes: the line times the default fit itself."""
    X, _ = load_breast_cancer(return_X_y=True)
    params = {**TINY, "random_state": 0}
    timed = _TimedTransformer(**params)
    timed.held_out_ = X[400:]
    timed.fit(X[:400])
    plain = ContrastiveVAETransformer(**params).fit(X[:400])
    assert timed.loss_curve_ == plain.loss_curve_
    np.testing.assert_array_equal(timed.transform(X), plain.transform(X))
    assert len(timed.timed_session_.validation_losses) == TINY["max_epochs"] + 1


def test_target_is_the_final_loss_plus_a_share_of_its_decrease():
    losses_ = [10.0, 6.0, 5.2, 5.05, 5.3, 5.0]
    seconds = [1.0, 2.0, 3.0, 4.0, 5.0]
    # 5.0 + 0.05 * (10 - 5): first reached after epoch 2 (5.2 <= 5.25).
    assert reached_target(losses_, seconds, 0.05) == (5.25, 2, 3.0)
    assert reached_target(losses_, seconds, 0.0) == (5.0, 5, 15.0)
    # No decrease: the target is the final loss, reached at the latest then.
    assert reached_target([1.0, 3.0, 2.0], [1.0, 1.0], 0.05) == (2.0, 2, 2.0)


def test_speed_table_ends_with_the_time_to_accuracy_line():
    out = io.StringIO()
    threads = torch.get_num_threads()
    report = run_speed(
        rows=(300,),
        columns=(4,),
        batch_sizes=(32,),
        n_steps=2,
        n_rounds=1,
        reference=False,
        threads=1,
        accuracy_params=TINY,
        out=out,
    )
    lines = out.getvalue().splitlines()
    assert lines[-2].startswith("| 300 | 4 | 32 |")
    assert lines[-1] == format_time_to_accuracy(report.time_to_accuracy)
    assert [row.n_rows for row in report.rows] == [300]
    assert report.time_to_accuracy.n_epochs == 5
    assert report.time_to_accuracy.threads == 1
    assert torch.get_num_threads() == threads  # restored after the line


@pytest.mark.parametrize(
    "options, accuracy",
    [
        ([], "breast_cancer"),
        (["--accuracy-dataset", "digits"], "digits"),
        (["--no-accuracy"], None),
    ],
)
def test_speed_cli_chooses_or_skips_the_accuracy_dataset(
    options, accuracy, monkeypatch
):
    calls = []
    monkeypatch.setattr(_cli, "run_speed", lambda **kwargs: calls.append(kwargs))
    assert _cli.main(["speed", *options]) == 0
    assert calls[0]["accuracy"] == accuracy


@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile's CPU backend needs a C++ compiler",
)
def test_compiled_step_is_timed_beside_the_eager_step():
    small = {"n_components": 16, "latent_dim": 4, "projection_dim": 8}
    ab = measure_compiled(200, 4, 32, "cpu", n_steps=2, n_rounds=1, params=small)
    assert ab["eager"] > 0 and ab["compiled"] > 0 and ab["compile_seconds"] > 0
    assert 0 < ab["eager_fraction"] < 5 and 0 < ab["compiled_fraction"] < 5
