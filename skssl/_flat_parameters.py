"""A model's parameters as views of one contiguous buffer, for the optimiser.

PyTorch's CPU optimisers loop over parameter tensors in Python: for the default
network (18 tensors) AdamW's bookkeeping cost more than a fifth of a training
step on 2 cores. With every parameter (and its gradient) a view of one flat
tensor, the optimiser sees a single tensor and does a handful of vectorised
operations per step. The arithmetic is elementwise and unchanged, so results
are identical to per-tensor updates (within rounding for PyTorch's fused
kernels, whose vectorised body and scalar tail round differently). This is
the flat-parameter layout of apex's fused optimisers and of FSDP.
"""

from contextlib import contextmanager

import torch


@contextmanager
def flat_parameters(module):
    """Make ``module``'s parameters views of one flat parameter, inside the block.

    Yields the flat :class:`torch.nn.Parameter`; give it (alone) to the
    optimiser. Its ``grad`` is a zero-filled buffer of which each parameter's
    ``grad`` is a view: backward accumulates into those views in place, so zero
    it with ``optimizer.zero_grad(set_to_none=False)``. On leaving the block,
    every parameter gets storage of its own again (so it pickles alone) and its
    gradient is dropped.
    """
    parameters = [p for p in module.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("The module has no trainable parameters.")
    flat = torch.nn.Parameter(torch.cat([p.detach().reshape(-1) for p in parameters]))
    flat.grad = torch.zeros_like(flat)
    offset = 0
    for parameter in parameters:
        size = parameter.numel()
        parameter.data = flat.data[offset : offset + size].view_as(parameter)
        parameter.grad = flat.grad[offset : offset + size].view_as(parameter)
        offset += size
    try:
        yield flat
    finally:
        for parameter in parameters:
            parameter.data = parameter.data.clone()
            parameter.grad = None
