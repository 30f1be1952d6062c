"""Training on flat parameters: identical updates, parameters released after."""

import numpy as np
import pytest
import torch
from skssl._training import make_optimizer, training_optimizer

from skssl import _training
from skssl._flat_parameters import flat_parameters


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Embedding(7, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(6, 5),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 2),
    )


def _steps(model, optimizer, n_steps=4):
    g = torch.Generator().manual_seed(1)
    for _ in range(n_steps):
        codes = torch.randint(7, (9, 2), generator=g)
        loss = model(codes).square().mean()
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()


class _Config:
    learning_rate = 0.01
    weight_decay = 0.1

    def __init__(self, optimizer):
        self.optimizer = optimizer


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_flat_updates_equal_per_tensor_updates(name, fused, monkeypatch):
    if not fused:
        monkeypatch.setattr(_training, "FUSED_OPTIMIZER_DEVICES", ())
    per_tensor = _model()
    config = _Config(name)
    _steps(
        per_tensor,
        make_optimizer(
            name, per_tensor.parameters(), config.learning_rate, config.weight_decay
        ),
    )
    flat = _model()
    with training_optimizer(flat, config) as optimizer:
        _steps(flat, optimizer)
        # Every parameter is a view of the optimiser's one tensor.
        (buffer,) = optimizer.param_groups[0]["params"]
        assert sum(p.numel() for p in flat.parameters()) == buffer.numel()
        for p in flat.parameters():
            assert p.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()
    assert optimizer.defaults["fused"] is (True if fused else None)
    for a, b in zip(per_tensor.parameters(), flat.parameters()):
        if fused:
            # The fused kernel's vectorised body and scalar tail round
            # differently, and the layout moves elements between the two.
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(a, b)


def test_parameters_get_their_own_storage_back():
    model = _model()
    with flat_parameters(model) as flat:
        model(torch.zeros(2, 2, dtype=torch.long)).sum().backward()
        assert flat.grad.abs().sum() > 0
    storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    assert len(storages) == len(list(model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    assert all(
        p.numel() == p.untyped_storage().nbytes() // 4 for p in model.parameters()
    )


def test_parameters_are_released_when_training_raises():
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="boom"), flat_parameters(model):
        raise RuntimeError("boom")
    for p, old in zip(model.parameters(), before):
        assert torch.equal(p, old)
        assert p.numel() == p.untyped_storage().nbytes() // 4


def test_a_module_without_trainable_parameters_is_refused():
    model = torch.nn.ReLU()
    with pytest.raises(ValueError, match="no trainable parameters"):
        with flat_parameters(model):
            pass


def test_partial_fit_resumes_the_flat_optimiser_state():
    from skssl import ContrastiveVAETransformer

    X = np.random.default_rng(0).normal(size=(200, 5))
    params = dict(hidden_layer_sizes=(16,), n_components=3, random_state=0)
    two_calls = ContrastiveVAETransformer(**params, partial_fit_epochs=1)
    two_calls.partial_fit(X).partial_fit(X)
    state = two_calls._partial_fit_state["optimizer"]["state"]
    (moments,) = state.values()  # one flat tensor: one entry
    n_parameters = sum(p.numel() for p in two_calls.model_.parameters())
    assert moments["exp_avg"].shape == (n_parameters,)
    # 200 rows are one minibatch (batch_size 256): one step per call.
    assert float(moments["step"]) == 2
