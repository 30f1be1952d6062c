"""Flat parameters (skssl._flat_parameters): one tensor, released after."""

import pytest
import torch

from skssl._flat_parameters import flat_parameters
from tests._helpers import small_module


def test_parameters_get_their_own_storage_back():
    model = small_module()
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
    model = small_module()
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
