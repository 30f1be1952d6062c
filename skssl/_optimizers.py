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


# SGD's momentum (torch.optim's default is none).
SGD_MOMENTUM = 0.9
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
            momentum=SGD_MOMENTUM,
            weight_decay=weight_decay,
            fused=fused,
        )
    raise ValueError(f"Unknown optimizer {name!r}.")


class FusedFlatOptimizer:
    """AdamW, Adam or SGD over one flat parameter, by PyTorch's fused kernel.

    The update of ``torch.optim``'s optimiser of the same name with
    ``fused=True``: the same kernel (``torch._fused_adamw_``,
    ``torch._fused_adam_``, ``torch._fused_sgd_``) called with the same
    arguments on the same state, so steps are bit-identical, and
    :meth:`state_dict` has ``torch.optim``'s format, so either loads the
    other's state. It exists because ``torch.optim``'s methods are wrapped to
    be skipped by ``torch.compile``, and the first call of one imports
    ``torch._dynamo``, a large part of a small first fit in a process
    (docs/scale.md). Only what training uses is provided: ``param_groups``
    (one group, whose ``"lr"`` :func:`set_learning_rate` sets), ``step``,
    ``zero_grad``, ``state_dict`` and ``load_state_dict``.
    """

    def __init__(self, name, parameter, learning_rate, weight_decay):
        if name not in _FUSED_GROUPS:
            raise ValueError(f"Unknown optimizer {name!r}.")
        self.name = name
        self.parameter = parameter
        self.param_groups = [
            {
                "lr": learning_rate,
                **_FUSED_GROUPS[name],
                "weight_decay": weight_decay,
                "params": [parameter],
            }
        ]
        self.state = {}

    def zero_grad(self, set_to_none=False):
        """Zero the parameter's gradient in place (it is the flat buffer that
        the model's gradients are views of, so it is never set to None)."""
        if self.parameter.grad is not None:
            self.parameter.grad.zero_()

    @torch.no_grad()
    def step(self):
        group, param = self.param_groups[0], self.parameter
        if self.name == "sgd":
            buffer = self.state.get("momentum_buffer")
            first = buffer is None
            if first:
                buffer = torch.empty_like(param.grad)
            torch._fused_sgd_(
                [param],
                [param.grad],
                [buffer],
                weight_decay=group["weight_decay"],
                momentum=group["momentum"],
                lr=group["lr"],
                dampening=group["dampening"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
                is_first_step=first,
                grad_scale=None,
                found_inf=None,
            )
            self.state["momentum_buffer"] = buffer
            return
        if not self.state:
            # torch.optim's fused Adam keeps its step count as float32 on the
            # parameter's device.
            self.state = {
                "step": torch.zeros((), dtype=torch.float32, device=param.device),
                "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(
                    param, memory_format=torch.preserve_format
                ),
            }
        torch._foreach_add_([self.state["step"]], 1)
        kernel = (
            torch._fused_adamw_
            if group["decoupled_weight_decay"]
            else torch._fused_adam_
        )
        beta1, beta2 = group["betas"]
        kernel(
            [param],
            [param.grad],
            [self.state["exp_avg"]],
            [self.state["exp_avg_sq"]],
            [],
            [self.state["step"]],
            amsgrad=group["amsgrad"],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            grad_scale=None,
            found_inf=None,
        )

    def state_dict(self):
        """The state in ``torch.optim``'s format (the parameter as index 0)."""
        group = {**self.param_groups[0], "params": [0]}
        return {
            "state": {0: dict(self.state)} if self.state else {},
            "param_groups": [group],
        }

    def load_state_dict(self, state_dict):
        """Resume from a :meth:`state_dict` (this class's or the same
        ``torch.optim`` optimiser's): hyperparameters from its group, state
        tensors moved to the parameter's device (and floating ones to its
        dtype, the step count kept float32), as ``torch.optim`` does, and
        copied, so that training leaves ``state_dict`` as it was."""
        (group,) = state_dict["param_groups"]
        self.param_groups = [{**group, "params": [self.parameter]}]
        param = self.parameter
        self.state = {
            key: value.to(
                dtype=torch.float32 if key == "step" else param.dtype,
                device=param.device,
                copy=True,
            )
            for key, value in state_dict["state"].get(0, {}).items()
        }


# The fused optimisers' hyperparameters other than the rate and weight
# decay, as torch.optim's param_groups hold them (their defaults, SGD's
# momentum skssl's).
_ADAM_GROUP = {
    "betas": (0.9, 0.999),
    "eps": 1e-08,
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": True,
}
_FUSED_GROUPS = {
    "adamw": {**_ADAM_GROUP, "decoupled_weight_decay": True},
    "adam": {**_ADAM_GROUP, "decoupled_weight_decay": False},
    "sgd": {
        "momentum": SGD_MOMENTUM,
        "dampening": 0,
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": True,
    },
}


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
    updates in a few vectorised operations: on ``fused_devices`` with
    :class:`FusedFlatOptimizer` (PyTorch's fused kernel, called directly),
    elsewhere with ``torch.optim``'s multi-pass optimiser. ``state`` is an
    optimiser ``state_dict`` to resume from (``partial_fit``).
    """
    with flat_parameters(model) as flat:
        if flat.device.type in fused_devices:
            optimizer = FusedFlatOptimizer(name, flat, learning_rate, weight_decay)
        else:
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
