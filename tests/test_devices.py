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
    assert resolve_device("meta") == torch.device("meta")
    with pytest.raises(ValueError, match="not a valid torch device"):
        resolve_device("gpu0")


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
