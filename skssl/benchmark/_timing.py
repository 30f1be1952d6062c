"""Timing helpers shared by the speed benchmark and its reference loops."""

import time

import torch


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forever(epoch):
    """The batches of ``epoch()``, then of ``epoch()`` again, without end."""
    while True:
        yield from epoch()


def rows_per_second(step, n_steps, n_warmup, batch_size, device, finish=None):
    """Training rows/s of ``step`` over ``n_steps`` after ``n_warmup`` steps.

    ``finish`` runs inside the timed span (e.g. the loop's own host
    synchronisation).
    """
    for _ in range(n_warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    if finish is not None:
        finish()
    synchronize(device)
    return n_steps * batch_size / (time.perf_counter() - start)
