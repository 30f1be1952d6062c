"""The speed benchmark: its measurement, FLOP count and reference loops."""

import numpy as np
import pytest
import torch

from skssl import losses
from skssl.benchmark._reference_loops import reference_loss
from skssl.benchmark._speed import count_flops, format_row, measure, start_run

pytest.importorskip("skorch")


def test_speed_measurement_counts_flops_and_compares_to_reference():
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
