"""Training devices (skssl._devices): resolution and the device's row shares."""

import numpy as np
import pytest
import torch

from skssl import ContrastiveVAETransformer
from skssl._devices import MARGINAL_POOL_ROWS, pool_rows, resolve_device
from tests._helpers import FAST


def test_devices_resolve_to_torch_devices():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="not a valid torch device"):
        resolve_device("gpu0")


# Each device type fails its own way in torch (RuntimeError, AssertionError,
# NotImplementedError, ModuleNotFoundError); resolve_device names the device.
@pytest.mark.parametrize(
    "device, match",
    [
        ("foo", "'foo' is not a valid torch device"),
        ("meta", "'meta' holds tensor shapes but no values"),
        ("xpu", "'xpu' was requested but XPU is not available"),
        ("mtia", "'mtia' was requested but MTIA is not available"),
        ("xla", "'xla' cannot be used on this machine: torch has no working XLA"),
        ("hpu", "'hpu' cannot be used on this machine: torch has no working HPU"),
        ("privateuseone", "'privateuseone' cannot be used on this machine"),
    ],
)
def test_devices_this_machine_cannot_use_are_a_clear_value_error(device, match):
    with pytest.raises(ValueError, match=match):
        resolve_device(device)
    with pytest.raises(ValueError, match=match):
        ContrastiveVAETransformer(device=device, **FAST).fit(np.ones((4, 2)))


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="tests the no-MPS path")
def test_mps_without_mps_is_a_clear_value_error():
    with pytest.raises(ValueError, match="'mps' was requested but MPS is not"):
        ContrastiveVAETransformer(device="mps", **FAST).fit(np.ones((4, 2)))


def test_mps_is_refused_for_its_lack_of_float64(monkeypatch):
    # As on a Mac with MPS: the backend answers, tensors and generators work.
    monkeypatch.setattr(torch.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "device_count", lambda: 1)
    monkeypatch.setattr(torch, "empty", lambda *args, **kwargs: None)
    monkeypatch.setattr(torch, "Generator", lambda *args, **kwargs: None)
    with pytest.raises(ValueError, match="'mps' is not supported.*float64"):
        resolve_device("mps")


def test_a_cuda_index_beyond_the_devices_there_are(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"'cuda:7'.*has 2 CUDA device\(s\)"):
        resolve_device("cuda:7")


@pytest.mark.parametrize(
    "budget, rows",
    [(None, MARGINAL_POOL_ROWS), (400, 100), (3, 1), (10**9, MARGINAL_POOL_ROWS)],
)
def test_the_pool_takes_a_quarter_of_the_row_budget_at_most(budget, rows):
    assert MARGINAL_POOL_ROWS == 65536
    assert pool_rows(budget) == rows


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-GPU message")
def test_cuda_requested_without_gpu():
    with pytest.raises(ValueError, match="CUDA is not available"):
        ContrastiveVAETransformer(device="cuda", **FAST).fit(np.ones((4, 2)))
