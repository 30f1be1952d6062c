"""The optimisers (skssl._optimizers): flat updates, fusion, resumable state."""

import numpy as np
import pytest
import torch

from skssl import ContrastiveVAETransformer
from skssl._optimizers import (
    FUSED_OPTIMIZER_DEVICES,
    flat_optimizer,
    make_optimizer,
    state_on_cpu,
)
from tests._helpers import small_module


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
    assert optimizer.defaults["fused"] is (True if fused else None)
    for a, b in zip(per_tensor.parameters(), flat.parameters()):
        if fused:
            # The fused kernel's vectorised body and scalar tail round
            # differently, and the layout moves elements between the two.
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(a, b)


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
