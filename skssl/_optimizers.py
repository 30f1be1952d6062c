"""The optimisers: AdamW, Adam and SGD over one flat parameter tensor, and
the learning-rate schedules."""

from contextlib import contextmanager

import numpy as np
import torch

from ._flat_parameters import flat_parameters

# The learning-rate schedules of ``fit``, by name.
LEARNING_RATE_SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle")
# Share of the steps spent warming up (warmup_cosine) or rising (one_cycle),
# and one_cycle's starting rate as a fraction of the peak: the values of
# torch.optim.lr_scheduler.OneCycleLR (Smith & Topin, arXiv 1708.07120).
WARMUP_SHARE = 0.05
ONE_CYCLE_RISE_SHARE = 0.3
ONE_CYCLE_START = 1 / 25


def learning_rate_factors(schedule: str, n_steps: int) -> np.ndarray | None:
    """Each step's learning rate as a fraction of ``learning_rate``.

    "constant" is None (the rate never changes). "cosine" decays from 1
    towards 0 over ``n_steps`` along a half cosine (SGDR without restarts,
    arXiv 1608.03983); "warmup_cosine" first rises linearly over
    ``WARMUP_SHARE`` of the steps, as SimCLR (arXiv 2002.05709) does for
    its large batches; "one_cycle" rises along a half cosine from
    ``ONE_CYCLE_START`` to 1 over ``ONE_CYCLE_RISE_SHARE`` of the steps, then
    decays towards 0.
    """
    if schedule == "constant":
        return None
    steps = np.arange(n_steps, dtype=np.float64)
    if schedule == "cosine":
        return _half_cosine(steps / n_steps, 1.0, 0.0)
    if schedule == "warmup_cosine":
        rise = max(1, round(WARMUP_SHARE * n_steps))
        return _rise_then_decay(steps, rise, (steps + 1) / rise)
    if schedule == "one_cycle":
        rise = max(1, round(ONE_CYCLE_RISE_SHARE * n_steps))
        return _rise_then_decay(
            steps, rise, _half_cosine(steps / rise, ONE_CYCLE_START, 1.0)
        )
    raise ValueError(f"Unknown learning-rate schedule {schedule!r}.")


def _rise_then_decay(steps, rise, rising):
    """``rising`` over the first ``rise`` steps, then a half cosine from 1 to 0."""
    decaying = _half_cosine((steps - rise) / max(len(steps) - rise, 1), 1.0, 0.0)
    return np.where(steps < rise, rising, decaying)


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float):
    """Set every parameter group's rate (the next ``step`` uses it)."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate


def _half_cosine(progress, start, end):
    """From ``start`` at progress 0 to ``end`` at progress 1, along a half cosine."""
    return end + (start - end) * 0.5 * (1.0 + np.cos(np.pi * progress))


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
