"""Which torch device training and inference run on, and how its memory is shared.

On a GPU, training data may take a share of the free memory
(:func:`skssl._training_data.device_row_limit`); that row budget is then split
between the data being trained on, the augmentation's marginal pool and the
validation rows. Each share is named here once.
"""

import torch

# Rows whose column values the augmentation draws from: all training rows when
# they fit on the device, otherwise (streamed data, partial_fit) a uniform
# sample of at most this many.
MARGINAL_POOL_ROWS = 65536


def resolve_device(device):
    """The torch device for ``device`` ("auto": CUDA when available, else CPU).

    Raises
    ------
    ValueError
        If ``device`` names no torch device, or a CUDA device on a machine
        without one.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='auto' or 'cpu'."
        )
    return resolved


def pool_rows(max_device_rows):
    """Rows of the augmentation's marginal pool.

    A quarter of the device's row budget at most (``max_device_rows``, None
    for no limit): streamed chunks take up to half of it, validation rows the
    last quarter.
    """
    if max_device_rows is None:
        return MARGINAL_POOL_ROWS
    return max(1, min(MARGINAL_POOL_ROWS, max_device_rows // 4))
