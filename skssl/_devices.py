"""Which torch device training and inference run on, and how its memory is shared.

On a GPU, training data may take a share of the free memory
(:func:`skssl._training_data.device_row_limit`); that row budget is then split
between the data being trained on, the augmentation's marginal pool and the
validation rows. Each share is named here once.
"""

from __future__ import annotations

import torch

# Rows whose column values the augmentation draws from: all training rows when
# they fit on the device, otherwise (streamed data, partial_fit) a uniform
# sample of at most this many.
MARGINAL_POOL_ROWS = 65536


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device for ``device`` ("auto": CUDA when available, else CPU).

    Any torch device type is accepted when this machine can train on it:
    allocate a tensor and make a random generator there (training draws its
    minibatches and augmentations from one on the device).

    Raises
    ------
    ValueError
        If ``device`` names no torch device; a device this machine does not
        have (CUDA, MPS, XPU, ... unavailable, or an index beyond the
        devices there are); ``"meta"``, which holds shapes but no values;
        or ``"mps"``, on which inference (in float64) cannot run.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu', "
            "'cuda' or 'cuda:<index>'."
        ) from exc
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available; use "
                "device='auto' or 'cpu'."
            )
        _check_index(device, resolved, torch.cuda.device_count(), "CUDA")
        return resolved
    if resolved.type == "meta":
        raise ValueError(
            f"device={device!r} holds tensor shapes but no values, so nothing can "
            "be trained or computed on it; use device='auto' or 'cpu'."
        )
    backend = getattr(torch, resolved.type, None)
    is_available = getattr(backend, "is_available", None)
    name = resolved.type.upper()
    if is_available is not None and not is_available():
        raise ValueError(
            f"device={device!r} was requested but {name} is not available on this "
            "machine; use device='auto' or 'cpu'."
        )
    count = getattr(backend, "device_count", None)
    if count is not None:
        _check_index(device, resolved, count(), name)
    try:
        torch.empty(1, device=resolved)
        torch.Generator(device=resolved)
    except Exception as exc:  # each backend fails its own way (see the tests)
        raise ValueError(
            f"device={device!r} cannot be used on this machine: torch has no "
            f"working {name} backend here ({type(exc).__name__}: "
            f"{_first_sentence(exc)}). Use device='auto' or 'cpu'."
        ) from exc
    if resolved.type == "mps":
        # Trains, but inference runs in float64, which MPS does not have.
        raise ValueError(
            f"device={device!r} is not supported: inference (transform, "
            "predict_proba, score_samples) runs in float64, which the MPS backend "
            "does not provide. Use device='cpu'."
        )
    return resolved


def _first_sentence(exc):
    text = str(exc).strip().split(". ")[0].splitlines()[0] if str(exc) else ""
    return text if len(text) <= 160 else text[:157] + "..."


def _check_index(device, resolved, n_devices, name):
    if resolved.index is not None and resolved.index >= n_devices:
        raise ValueError(
            f"device={device!r} was requested but this machine has {n_devices} "
            f"{name} device(s) (indices 0 to {n_devices - 1}); use device='auto' or "
            f"an index below {n_devices}."
        )


def pool_rows(max_device_rows: int | None) -> int:
    """Rows of the augmentation's marginal pool.

    A quarter of the device's row budget at most (``max_device_rows``, None
    for no limit): streamed chunks take up to half of it, validation rows the
    last quarter.
    """
    if max_device_rows is None:
        return MARGINAL_POOL_ROWS
    return max(1, min(MARGINAL_POOL_ROWS, max_device_rows // 4))
