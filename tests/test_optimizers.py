"""The optimisers (skssl._optimizers): flat updates, fusion, resumable state."""

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

import skssl.training
from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer
from skssl._optimizers import (
    FUSED_OPTIMIZER_DEVICES,
    LEARNING_RATE_SCHEDULES,
    ONE_CYCLE_RISE_SHARE,
    ONE_CYCLE_START,
    WARMUP_SHARE,
    FusedFlatOptimizer,
    flat_optimizer,
    learning_rate_factors,
    make_optimizer,
    state_on_cpu,
)
from tests._helpers import SMALL, small_module


def _steps(model, optimizer, n_steps=4):
    g = torch.Generator().manual_seed(1)
    for _ in range(n_steps):
        codes = torch.randint(7, (9, 2), generator=g)
        loss = model(codes).square().mean()
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_flat_updates_equal_per_tensor_updates(name, fused):
    fused_devices = FUSED_OPTIMIZER_DEVICES if fused else ()
    learning_rate, weight_decay = 0.01, 0.1
    per_tensor = small_module()
    _steps(
        per_tensor,
        make_optimizer(
            name,
            per_tensor.parameters(),
            learning_rate,
            weight_decay,
            fused_devices=fused_devices,
        ),
    )
    flat = small_module()
    with flat_optimizer(
        flat, name, learning_rate, weight_decay, fused_devices=fused_devices
    ) as optimizer:
        _steps(flat, optimizer)
        # Every parameter is a view of the optimiser's one tensor.
        (buffer,) = optimizer.param_groups[0]["params"]
        assert sum(p.numel() for p in flat.parameters()) == buffer.numel()
        for p in flat.parameters():
            assert p.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()
    assert optimizer.param_groups[0]["fused"] is (True if fused else None)
    for a, b in zip(per_tensor.parameters(), flat.parameters()):
        if fused:
            # The fused kernel's vectorised body and scalar tail round
            # differently, and the layout moves elements between the two.
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(a, b)


def _torch_fused(name, parameter, learning_rate, weight_decay):
    optimizer = make_optimizer(name, [parameter], learning_rate, weight_decay)
    assert optimizer.defaults["fused"] is True
    return optimizer


def _random_steps(parameter, optimizer, seed, n_steps=5):
    g = torch.Generator().manual_seed(seed)
    for k in range(n_steps):
        parameter.grad = torch.randn(parameter.shape, generator=g)
        optimizer.param_groups[0]["lr"] = 0.01 / (k + 1)
        optimizer.step()


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_fused_flat_optimizer_steps_and_state_are_torch_optims(name):
    # 1,003 elements: the fused kernels' vectorised body and scalar tail.
    start = torch.randn(1003, generator=torch.Generator().manual_seed(0))
    ours = torch.nn.Parameter(start.clone())
    theirs = torch.nn.Parameter(start.clone())
    our_optimizer = FusedFlatOptimizer(name, ours, 0.01, 0.1)
    their_optimizer = _torch_fused(name, theirs, 0.01, 0.1)
    _random_steps(ours, our_optimizer, seed=1)
    _random_steps(theirs, their_optimizer, seed=1)
    assert torch.equal(ours, theirs)
    our_state, their_state = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert our_state["param_groups"] == their_state["param_groups"]
    assert our_state["state"].keys() == their_state["state"].keys() == {0}
    for key, value in their_state["state"][0].items():
        assert our_state["state"][0][key].dtype == value.dtype
        assert torch.equal(our_state["state"][0][key], value)
    # Each resumes from the other's state (saved models hold torch.optim's).
    resumed_ours = torch.nn.Parameter(theirs.detach().clone())
    resumed_theirs = torch.nn.Parameter(ours.detach().clone())
    resumed_our_optimizer = FusedFlatOptimizer(name, resumed_ours, 0.5, 0.0)
    moment = "momentum_buffer" if name == "sgd" else "exp_avg"
    before = their_state["state"][0][moment].clone()
    resumed_our_optimizer.load_state_dict(their_state)
    resumed_their_optimizer = _torch_fused(name, resumed_theirs, 0.5, 0.0)
    # torch.optim's load_state_dict keeps tensors already in place: a copy.
    resumed_their_optimizer.load_state_dict(copy.deepcopy(our_state))
    _random_steps(resumed_ours, resumed_our_optimizer, seed=2)
    # ... and leaves the state it was given as it was.
    assert torch.equal(their_state["state"][0][moment], before)
    _random_steps(resumed_theirs, resumed_their_optimizer, seed=2)
    _random_steps(theirs, their_optimizer, seed=2)
    assert torch.equal(resumed_ours, theirs)
    assert torch.equal(resumed_theirs, theirs)


def test_fused_flat_optimizer_zeroes_the_gradient_in_place():
    parameter = torch.nn.Parameter(torch.ones(4))
    optimizer = FusedFlatOptimizer("adamw", parameter, 0.1, 0.0)
    optimizer.zero_grad()  # no gradient yet: nothing to do
    gradient = parameter.grad = torch.ones(4)
    optimizer.zero_grad(set_to_none=False)
    assert parameter.grad is gradient and not gradient.any()
    with pytest.raises(ValueError, match="Unknown optimizer 'rmsprop'"):
        FusedFlatOptimizer("rmsprop", parameter, 0.1, 0.0)


def test_fitting_does_not_import_torch_dynamo():
    # torch.optim's methods import torch._dynamo on first use, seconds of a
    # process's first fit; the CPU training path goes around them.
    code = (
        "import sys, numpy as np\n"
        "from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer\n"
        "X = np.random.default_rng(0).normal(size=(60, 4))\n"
        "y = np.where(np.arange(60) % 3 == 0, X[:, 0] > 0, -1).astype(int)\n"
        "kw = dict(n_components=8, hidden_layer_sizes=(8,), latent_dim=2,\n"
        "          max_epochs=2, random_state=0)\n"
        "ContrastiveVAETransformer(**kw).fit(X).partial_fit(X)\n"
        "ContrastiveVAEClassifier(**kw, fine_tune_epochs=1).fit(X, y)\n"
        "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_optimizers_are_fused_on_the_cpu_by_default():
    parameters = [torch.nn.Parameter(torch.zeros(3))]
    for name in ("adamw", "adam", "sgd"):
        assert make_optimizer(name, parameters, 0.1, 0.0).defaults["fused"] is True
    sgd = make_optimizer("sgd", parameters, 0.1, 0.0)
    assert sgd.defaults["momentum"] == 0.9
    with pytest.raises(ValueError, match="Unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", parameters, 0.1, 0.0)


def test_flat_optimizer_resumes_from_a_state_in_host_memory():
    resumed = small_module()
    with flat_optimizer(resumed, "adamw", 0.01, 0.1) as optimizer:
        _steps(resumed, optimizer, n_steps=3)
        state = state_on_cpu(optimizer.state_dict())
    with flat_optimizer(resumed, "adamw", 0.01, 0.1, state) as optimizer:
        _steps(resumed, optimizer, n_steps=3)
    # Moments and step count travel: three and three steps are six steps
    # (the last three on the same minibatches as the first three).
    again = small_module()
    with flat_optimizer(again, "adamw", 0.01, 0.1) as optimizer:
        _steps(again, optimizer, n_steps=3)
        _steps(again, optimizer, n_steps=3)
    for a, b in zip(again.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    (moments,) = state["state"].values()
    assert all(
        value.device.type == "cpu"
        for value in moments.values()
        if isinstance(value, torch.Tensor)
    )


def test_partial_fit_resumes_the_flat_optimiser_state():
    X = np.random.default_rng(0).normal(size=(200, 5))
    params = dict(
        n_components=16, hidden_layer_sizes=(16,), latent_dim=3, random_state=0
    )
    two_calls = ContrastiveVAETransformer(**params, partial_fit_epochs=1)
    two_calls.partial_fit(X).partial_fit(X)
    state = two_calls._training_state.stream.optimizer["state"]
    (moments,) = state.values()  # one flat tensor: one entry
    n_parameters = sum(p.numel() for p in two_calls.model_.parameters())
    assert moments["exp_avg"].shape == (n_parameters,)
    # 200 rows are one minibatch (batch_size 256): one step per call.
    assert float(moments["step"]) == 2


def test_learning_rate_schedules_rise_and_decay_as_documented():
    n_steps = 200
    assert learning_rate_factors("constant", n_steps) is None
    cosine = learning_rate_factors("cosine", n_steps)
    assert cosine.shape == (n_steps,)
    assert cosine[0] == 1 and 0 < cosine[-1] < 1e-3
    assert np.all(np.diff(cosine) < 0)
    assert cosine[n_steps // 2] == pytest.approx(0.5)

    warmup = learning_rate_factors("warmup_cosine", n_steps)
    rise = round(WARMUP_SHARE * n_steps)
    assert np.allclose(warmup[:rise], np.arange(1, rise + 1) / rise)
    assert warmup[rise] == 1 and np.all(np.diff(warmup[rise:]) < 0)

    one_cycle = learning_rate_factors("one_cycle", n_steps)
    peak = round(ONE_CYCLE_RISE_SHARE * n_steps)
    assert one_cycle[0] == pytest.approx(ONE_CYCLE_START)
    assert np.all(np.diff(one_cycle[:peak]) > 0) and one_cycle[peak] == 1
    assert np.all(np.diff(one_cycle[peak:]) < 0) and one_cycle[-1] < 1e-3
    with pytest.raises(ValueError, match="schedule 'step'"):
        learning_rate_factors("step", n_steps)


def _recorded_rates(monkeypatch):
    rates = []
    original = skssl.training.set_learning_rate

    def recording(optimizer, learning_rate):
        rates.append(learning_rate)
        original(optimizer, learning_rate)

    monkeypatch.setattr(skssl.training, "set_learning_rate", recording)
    return rates


@pytest.mark.parametrize("schedule", LEARNING_RATE_SCHEDULES)
def test_fit_steps_the_learning_rate_along_the_schedule(monkeypatch, schedule):
    X = np.random.default_rng(0).normal(size=(100, 5))
    rates = _recorded_rates(monkeypatch)
    # 100 rows in minibatches of 20: 5 steps per epoch, 4 epochs.
    params = dict(SMALL, batch_size=20, max_epochs=4, learning_rate=0.01)
    model = ContrastiveVAETransformer(**params, learning_rate_schedule=schedule)
    model.fit(X)
    factors = learning_rate_factors(schedule, 4 * 5)
    if factors is None:
        assert rates == []
        return
    # Each step's rate, then the configured rate restored for partial_fit.
    assert rates[:-1] == pytest.approx(0.01 * factors, rel=1e-12)
    assert rates[-1] == 0.01
    constant = ContrastiveVAETransformer(
        **params, learning_rate_schedule="constant"
    ).fit(X)
    assert not np.array_equal(model.transform(X), constant.transform(X))
    again = ContrastiveVAETransformer(**params, learning_rate_schedule=schedule)
    assert np.array_equal(again.fit(X).transform(X), model.transform(X))


def test_partial_fit_keeps_the_rate_constant(monkeypatch):
    X = np.random.default_rng(0).normal(size=(100, 5))
    rates = _recorded_rates(monkeypatch)
    model = ContrastiveVAETransformer(**SMALL, learning_rate_schedule="cosine")
    model.partial_fit(X).partial_fit(X)
    assert rates == []
    groups = model._training_state.stream.optimizer["param_groups"]
    assert [group["lr"] for group in groups] == [model.learning_rate]


def test_classifier_schedules_pre_training_and_fine_tuning_each(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(100, 5)), rng.integers(2, size=100)
    rates = _recorded_rates(monkeypatch)
    ContrastiveVAEClassifier(
        **SMALL,
        batch_size=20,
        max_epochs=2,
        fine_tune_epochs=3,
        learning_rate=0.01,
        learning_rate_schedule="cosine",
    ).fit(X, y)
    pre_training = 0.01 * learning_rate_factors("cosine", 2 * 5)
    fine_tuning = 0.01 * learning_rate_factors("cosine", 3 * 5)
    expected = [*pre_training, 0.01, *fine_tuning, 0.01]
    assert rates == pytest.approx(expected, rel=1e-12)
