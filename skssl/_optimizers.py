"""The optimisers: AdamW, Adam and SGD over one flat parameter tensor."""

from contextlib import contextmanager

import torch

from ._flat_parameters import flat_parameters

# Devices with PyTorch's fused (single-kernel) optimiser implementations.
FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def make_optimizer(
    name,
    parameters,
    learning_rate,
    weight_decay,
    fused_devices=FUSED_OPTIMIZER_DEVICES,
):
    """The optimiser ``name`` over ``parameters``, fused where PyTorch has it.

    The fused kernels update parameters, gradients and moments in one pass
    instead of one pass per arithmetic step (docs/scale.md has the timings).
    They round differently from the multi-pass update (by about 1e-7) but are
    deterministic. ``fused_devices`` are the device types to fuse on (empty:
    never fused).
    """
    parameters = list(parameters)
    fused = all(p.device.type in fused_devices for p in parameters) or None
    if name == "adamw":
        return torch.optim.AdamW(
            parameters, lr=learning_rate, weight_decay=weight_decay, fused=fused
        )
    if name == "adam":
        # Adam with weight decay as an L2 penalty: the coupling AdamW removes.
        return torch.optim.Adam(
            parameters, lr=learning_rate, weight_decay=weight_decay, fused=fused
        )
    if name == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=learning_rate,
            momentum=0.9,
            weight_decay=weight_decay,
            fused=fused,
        )
    raise ValueError(f"Unknown optimizer {name!r}.")


@contextmanager
def flat_optimizer(
    model,
    name,
    learning_rate,
    weight_decay,
    state=None,
    fused_devices=FUSED_OPTIMIZER_DEVICES,
):
    """The optimiser ``name`` over ``model``'s parameters, laid out flat.

    Inside the block the parameters are views of one flat tensor (see
    :func:`~skssl._flat_parameters.flat_parameters`), which the optimiser
    updates in a few vectorised operations. ``state`` is an optimiser
    ``state_dict`` to resume from (``partial_fit``); ``fused_devices`` as
    for :func:`make_optimizer`.
    """
    with flat_parameters(model) as flat:
        optimizer = make_optimizer(
            name, [flat], learning_rate, weight_decay, fused_devices
        )
        if state is not None:
            optimizer.load_state_dict(state)  # moves it to the parameter's device
        yield optimizer


def state_on_cpu(state):
    """A copy of an optimiser ``state_dict`` with its tensors in host memory."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {key: state_on_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(state_on_cpu(value) for value in state)
    return state
