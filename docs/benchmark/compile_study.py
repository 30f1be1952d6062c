"""The default training step compiled whole by ``torch.compile`` (not part of skssl).

``skssl-benchmark speed --compile`` compiles the networks alone: the loss
functions, the augmentation and the optimiser stay eager, because the
augmentation's draws from a ``torch.Generator`` break graphs. This study
moves every random draw out of the compiled region (the two SCARF views and
the VAE's reparametrisation noise are drawn eagerly, from the run's own
generator, in the step's order) and compiles the rest of the differentiable
step as one graph: the encoder, the projection, the InfoNCE (written as the
standard cross-entropy over the masked similarity matrix, which inductor can
trace; skssl's blocked InfoNCE is a custom autograd function), the decoder
and the VAE terms, forward and backward (AOTAutograd). The fused AdamW stays
eager. It then times that step against skssl's own eager step, in turns, as
``skssl-benchmark speed`` does, and reports each against the matmul rate at
the layers' shapes::

    python docs/benchmark/compile_study.py --threads 2
    python docs/benchmark/compile_study.py --threads 2 --mode max-autotune-no-cudagraphs

``--products`` instead records the matrix products of one eager step with
their operands, replays them alone, and prints their time against the
step's: the step's rate if everything else in it took no time::

    python docs/benchmark/compile_study.py --threads 2 --products

It follows skssl's internals of the commit it ships with (the default
objective, a table without categorical or missing values);
docs/time_to_accuracy.md and docs/scale.md quote its figures.
"""

import argparse
import math
import statistics
import time
from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from skssl import losses
from skssl._objective import _concat
from skssl.benchmark._speed import (
    DEFAULT_PARAMS,
    WARMUP_STEPS,
    _matmul_gflops,
    _skssl_loop,
    _table,
    count_flops,
    start_run,
)
from skssl.benchmark._timing import interleaved_rates

CPU = torch.device("cpu")
# The matrix products of a step, as ATen runs them (the blocked InfoNCE's
# gradient accumulates with addmm_).
PRODUCTS = (
    torch.ops.aten.mm.default,
    torch.ops.aten.addmm.default,
    torch.ops.aten.addmm_.default,
)


class ProductRecorder(TorchDispatchMode):
    """Keeps a copy of every matrix product's operands as they run."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in PRODUCTS:
            operands = [a.clone() if torch.is_tensor(a) else a for a in args]
            self.calls.append((func, operands, kwargs))
        return func(*args, **kwargs)


def replay_seconds(calls, repeats=20, rounds=7):
    """Median seconds of one pass over the recorded products."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            for func, operands, kwargs in calls:
                func(*operands, **kwargs)
        times.append((time.perf_counter() - start) / repeats)
    return statistics.median(times)


def products_share(args):
    """Print the step's products' time, replayed alone, against the step's."""
    X = _table(args.rows, args.columns, seed=0)
    run = start_run(X, DEFAULT_PARAMS, "cpu", args.batch_size)
    with _skssl_loop(run) as (train, step):
        rate = interleaved_rates(
            {"eager": train},
            args.steps,
            WARMUP_STEPS,
            args.rounds,
            args.batch_size,
            CPU,
        )["eager"]
        recorder = ProductRecorder()
        with recorder:
            step()
        flops = count_flops(step)
        matmul = _matmul_gflops(run.model, args.batch_size, CPU, 5)
    step_seconds = args.batch_size / rate
    # addmm_ accumulates into its first operand, a copy here: repeating it
    # changes values, not the work.
    product_seconds = replay_seconds(recorder.calls)
    print(
        f"threads {torch.get_num_threads()}, {args.rows:,} x {args.columns}, "
        f"batch {args.batch_size}: {len(recorder.calls)} products per step take "
        f"{product_seconds * 1e3:.2f} ms of a {step_seconds * 1e3:.2f} ms step; "
        f"the step at {flops / step_seconds / 1e9 / matmul:.0%} of the matmul rate "
        f"({matmul:.1f} GFLOP/s), the products alone at "
        f"{flops / product_seconds / 1e9 / matmul:.0%}"
    )


def step_terms(model, objective):
    """The default objective's loss terms from drawn inputs, as one function.

    ``stacked`` holds the two views' rows, then the clean rows; ``noise`` is
    the reparametrisation's standard normal draw for the clean rows.
    """

    def terms(numeric, observed, categorical, noise):
        n = noise.shape[0]
        features = model.encoder.input_layer(numeric, observed, categorical)
        mean, log_var = model.encoder.from_features(
            features, log_var_rows=slice(-n, None)
        )
        projected = model.projection(mean[: 2 * n])
        contrastive = losses.info_nce_cross_entropy(
            projected[:n], projected[n : 2 * n], objective.temperature
        )
        clean = slice(-n, None)
        z = mean[clean] + (0.5 * log_var).exp() * noise
        numeric_mean, logits = model.decoder(z)
        reconstruction = losses.reconstruction_nll(
            numeric_mean, logits, numeric[clean], observed[clean], categorical[clean]
        ).mean()
        kl = losses.gaussian_kl(mean[clean], log_var).mean()
        vae = (reconstruction + objective.kl_weight * kl) / numeric.shape[1]
        total = objective.contrastive_weight * contrastive + objective.vae_weight * vae
        return torch.stack([total, contrastive, reconstruction, kl])

    return terms


def draw_inputs(run, batch):
    """The step's draws for ``batch``, from ``run``'s generator in the
    objective's order: the two SCARF views stacked over the clean rows, and
    the reparametrisation noise of the clean rows."""
    objective, generator = run.objective, run.generator
    views = [objective.augment(batch, run.pool, generator) for _ in range(2)]
    latent = run.model.projection.net[0].in_features
    noise = torch.randn((batch.n_samples, latent), generator=generator)
    return _concat([*views, batch]), noise


@contextmanager
def compiled_loop(run, mode):
    """``train(n)``: ``n`` steps of the compiled step, as fit would train them."""
    terms = torch.compile(
        step_terms(run.model, run.objective), dynamic=False, mode=mode
    )
    batches = run._endless_batches()
    run.model.train()

    def train(n_steps):
        sums = torch.zeros(4)
        for _ in range(n_steps):
            stacked, noise = draw_inputs(run, next(batches))
            values = terms(
                stacked.numeric, stacked.observed, stacked.categorical, noise
            )
            # The flat gradient buffer must stay: backward accumulates into it.
            optimizer.zero_grad(set_to_none=False)
            values[0].backward()
            optimizer.step()
            sums += values.detach()
        sums.tolist()

    with run.optimizer() as optimizer:
        yield train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--mode", default=None, help="torch.compile's mode")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--products",
        action="store_true",
        help="time the step's matrix products alone against the step",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.products:
        products_share(args)
        return
    X = _table(args.rows, args.columns, seed=0)
    runs = {
        name: start_run(X, DEFAULT_PARAMS, "cpu", args.batch_size)
        for name in ("eager", "compiled")
    }
    with (
        compiled_loop(runs["compiled"], args.mode) as train_compiled,
        _skssl_loop(runs["eager"]) as (train_eager, eager_step),
    ):
        start = time.perf_counter()
        # An epoch's batches take two sizes (n_rows / n_batches rounded both
        # ways, each size in a block of its own), each compiled once: a whole
        # epoch compiles both before timing.
        train_compiled(math.ceil(args.rows / args.batch_size))
        compile_seconds = time.perf_counter() - start
        rates = interleaved_rates(
            {"eager": train_eager, "compiled": train_compiled},
            args.steps,
            WARMUP_STEPS,
            args.rounds,
            args.batch_size,
            CPU,
        )
        flops = count_flops(eager_step)
        matmul = _matmul_gflops(runs["eager"].model, args.batch_size, CPU, 5)
    print(
        f"threads {torch.get_num_threads()}, mode {args.mode or 'default'}, "
        f"{args.rows:,} x {args.columns}, batch {args.batch_size}: "
        f"first epoch (compiling) {compile_seconds:.1f} s, "
        f"matmul {matmul:.1f} GFLOP/s"
    )
    for name, rate in rates.items():
        fraction = flops * rate / args.batch_size / 1e9 / matmul
        print(f"  {name}: {rate:,.0f} rows/s ({fraction:.0%} of the matmul rate)")
    print(f"  compiled / eager: {rates['compiled'] / rates['eager']:.2f}x")


if __name__ == "__main__":
    main()
