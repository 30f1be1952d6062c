"""Timing helpers shared by the speed benchmark and its reference loops."""

import statistics
import time

import torch


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forever(epoch):
    """The batches of ``epoch()``, then of ``epoch()`` again, without end."""
    while True:
        yield from epoch()


def interleaved_rates(loops, n_steps, n_warmup, n_rounds, batch_size, device):
    """Training rows/s of each loop: timed in turns, the median round kept.

    ``loops`` maps a name to ``run(n)``, which trains ``n`` minibatches of
    ``batch_size`` rows (and does whatever host synchronisation its loop does
    along the way). Each loop first runs ``n_warmup`` minibatches; then every
    round times each loop once, in turn, over ``n_steps`` minibatches. Taking
    turns exposes the loops alike to a shared machine's slow spells, and the
    median round leaves those spells out.

    Returns
    -------
    dict
        Name to rows/s.
    """
    for run in loops.values():
        run(n_warmup)
    synchronize(device)
    seconds = {name: [] for name in loops}
    for _ in range(n_rounds):
        for name, run in loops.items():
            start = time.perf_counter()
            run(n_steps)
            synchronize(device)
            seconds[name].append(time.perf_counter() - start)
    return {
        name: n_steps * batch_size / statistics.median(times)
        for name, times in seconds.items()
    }
