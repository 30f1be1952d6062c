"""``skssl-benchmark speed``: training and inference throughput.

For each table size (rows x columns) and batch size, in a fresh process (so
peak memory is that configuration's own), it measures:

* training rows/s of skssl's own training step (device-resident data,
  index-drawn minibatches, one concatenated encoder pass for both views and
  the clean rows, the blocked InfoNCE, AdamW on flat parameters, no host
  synchronisation per step);
* the same for two references with the same network and objective written
  the standard way (see :mod:`._reference_loops`): a hand-written
  ``DataLoader(TensorDataset)`` loop, and a skorch ``NeuralNet`` (when skorch
  is installed);
* transform rows/s (float64 inference, in chunks) over the whole table;
* peak memory (resident set on CPU, allocated device memory on CUDA);
* the achieved FLOP rate of training (FLOPs of one step counted by
  ``torch.utils.flop_counter``) as a fraction of the matrix-multiply rate
  measured on the same device at the shapes of the model's layers.

Training is timed on the whole table held the way ``fit`` holds it, after a
warm-up, so rates are steady-state rates: in rounds of a fixed number of steps,
skssl's loop and the references taking turns, and each loop's median round
reported, so that a shared machine's slow spells neither favour one loop nor
set the figure.

After the table, one line measures time to accuracy: a fit of the package's
default :class:`~skssl.ContrastiveVAETransformer` on a dataset that ships with
scikit-learn, each epoch timed and the loss on held-out rows measured after
it (outside the timing), so the line says how many seconds of training the
held-out loss took to come near its final value, and the linear probe's
accuracy on the held-out rows (:func:`measure_time_to_accuracy`).
"""

import copy
import itertools
import math
import multiprocessing
import resource
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from torch.utils.flop_counter import FlopCounterMode

from skssl import ContrastiveVAETransformer
from skssl.training import TrainingRun, TrainingSession, resolve_device

from ._methods import probe_accuracy
from ._reference_loops import dataloader_loop, skorch_loop
from ._timing import interleaved_rates, synchronize

DEFAULT_ROWS = (10_000, 100_000, 1_000_000)
DEFAULT_COLUMNS = (20, 100, 500)
# Untimed training steps each loop runs before its timed rounds.
WARMUP_STEPS = 5
# The network of the speed targets: 256-256 encoder, latent 32.
DEFAULT_PARAMS = {"n_components": 512, "latent_dim": 32}
# The time-to-accuracy line: datasets shipped with scikit-learn (no network),
# the share of rows held out (stratified), and how near the final held-out
# loss counts as reached: within this fraction of the loss's decrease from
# the untrained networks' value.
ACCURACY_DATASETS = {"breast_cancer": load_breast_cancer, "digits": load_digits}
DEFAULT_ACCURACY_DATASET = "breast_cancer"
HELD_OUT_FRACTION = 0.3
TARGET_FRACTION = 0.05


@dataclass
class SpeedResult:
    """One row of the speed table."""

    n_rows: int
    n_columns: int
    batch_size: int
    device: str
    threads: int
    train_rows_per_s: float
    reference_rows_per_s: float
    speedup_vs_reference: float
    skorch_rows_per_s: float
    speedup_vs_skorch: float
    transform_rows_per_s: float
    peak_memory_mb: float
    train_gflops: float
    matmul_gflops: float
    matmul_fraction: float


def _table(n_rows, n_columns, seed):
    """A float table with cluster structure (float32 to bound memory)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(8, n_columns)).astype(np.float32)
    X = centers[rng.integers(0, 8, size=n_rows)]
    X += rng.standard_normal(size=X.shape, dtype=np.float32)
    return X


def start_run(X, params, device, batch_size):
    """skssl's training objects for ``X``, held as ``fit`` holds them.

    A :class:`skssl.training.TrainingRun` of the estimator with ``params``
    (networks and random stream seeded with 0).
    """
    estimator = ContrastiveVAETransformer(
        **{**params, "device": str(device), "batch_size": batch_size}
    )
    return TrainingSession.from_estimator(estimator).start(X, seed=0)


@contextmanager
def _skssl_loop(run):
    """``train(n)``: ``n`` of fit's own training steps; and one such ``step``.

    ``train`` ends with the one host synchronisation fit does per epoch
    (reading the summed losses). The flat parameters are in place until the
    block ends.
    """
    with run.optimizer() as optimizer:

        def step():
            return run.train_steps(1, optimizer)

        def train(n_steps):
            run.train_steps(n_steps, optimizer).tolist()

        yield train, step


def _matmul_gflops(model, batch_size, device, n_rounds, repeats=20):
    """Matrix-multiply rate at the shapes of the model's linear layers.

    Each layer is timed as (3 x batch_size rows) @ weight, the encoder's
    concatenated pass, with float32 operands; a round's rate is total FLOPs
    over total time (a harmonic mean weighted by each shape's work), and the
    median of ``n_rounds`` rounds is returned.
    """
    shapes = sorted(
        {
            (module.in_features, module.out_features)
            for module in model.modules()
            if isinstance(module, torch.nn.Linear)
        }
    )
    rows = 3 * batch_size
    operands = [
        (
            torch.randn(rows, n_in, device=device),
            torch.randn(n_in, n_out, device=device),
        )
        for n_in, n_out in shapes
    ]
    flops = sum(2.0 * rows * n_in * n_out * repeats for n_in, n_out in shapes)
    for a, b in operands:  # warm-up
        a @ b
    rates = []
    for _ in range(n_rounds):
        synchronize(device)
        start = time.perf_counter()
        for a, b in operands:
            for _ in range(repeats):
                a @ b
        synchronize(device)
        rates.append(flops / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def count_flops(fn):
    """Floating-point operations of the matrix products ``fn()`` runs.

    PyTorch's counter knows ``addmm`` but not its in-place form, which the
    blocked InfoNCE uses for two of its three products (its gradient): left
    out, two thirds of the loss's FLOPs were missing from the count.
    """
    counter = FlopCounterMode(
        display=False, custom_mapping={torch.ops.aten.addmm_: _addmm_flops}
    )
    with counter:
        fn()
    return counter.get_total_flops()


def _addmm_flops(input_shape, a_shape, b_shape, *args, out_shape=None, **kwargs):
    """``input + a @ b``: counted as the product, as PyTorch counts ``addmm``."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def _peak_memory_mb(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def measure(
    n_rows,
    n_columns,
    batch_size,
    device="auto",
    n_steps=50,
    n_warmup=WARMUP_STEPS,
    n_rounds=5,
    reference=True,
    params=None,
):
    """Measure one configuration in this process; return a :class:`SpeedResult`.

    Training rates are the median of ``n_rounds`` rounds of ``n_steps`` steps,
    skssl's loop and the references taking turns (see
    :func:`._timing.interleaved_rates`).
    """
    device = resolve_device(device)
    params = {**DEFAULT_PARAMS, **(params or {})}
    X = _table(n_rows, n_columns, seed=0)
    batch_size = min(batch_size, n_rows)
    run = start_run(X, params, device, batch_size)
    # The references train copies of the initial networks, made before the
    # parameters become views of one flat tensor.
    initial = [copy.deepcopy(run.model) for _ in range(2)] if reference else []

    with _skssl_loop(run) as (skssl_train, skssl_step):
        loops = {"skssl": skssl_train}
        if reference:
            loops["dataloader"] = dataloader_loop(initial[0], run)
            skorch_train = skorch_loop(
                initial[1], run, max_batches=max(n_steps, n_warmup)
            )
            if skorch_train is not None:
                loops["skorch"] = skorch_train
        rates = interleaved_rates(
            loops, n_steps, n_warmup, n_rounds, run.batch_size, device
        )
        train_flops = count_flops(skssl_step)
        # Measured here, in the conditions training just ran in.
        matmul = _matmul_gflops(run.model, batch_size, device, n_rounds)
        del loops, skssl_train, skssl_step
    train_rate = rates["skssl"]
    dataloader_rate = rates.get("dataloader", float("nan"))
    skorch_rate = rates.get("skorch", float("nan"))
    del run, initial

    estimator = ContrastiveVAETransformer(
        **{**params, "max_epochs": 1, "device": str(device), "random_state": 0}
    )
    with warnings.catch_warnings():
        # One epoch is all the timed transform needs; its ConvergenceWarning
        # would only clutter the table.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X[: min(n_rows, 2 * batch_size)])  # a fitted model to time
    start = time.perf_counter()
    estimator.transform(X)
    transform_rate = n_rows / (time.perf_counter() - start)

    achieved = train_flops * train_rate / batch_size / 1e9
    return SpeedResult(
        n_rows=n_rows,
        n_columns=n_columns,
        batch_size=batch_size,
        device=str(device),
        threads=torch.get_num_threads(),
        train_rows_per_s=train_rate,
        reference_rows_per_s=dataloader_rate,
        speedup_vs_reference=train_rate / dataloader_rate,
        skorch_rows_per_s=skorch_rate,
        speedup_vs_skorch=train_rate / skorch_rate,
        transform_rows_per_s=transform_rate,
        peak_memory_mb=_peak_memory_mb(device),
        train_gflops=achieved,
        matmul_gflops=matmul,
        matmul_fraction=achieved / matmul,
    )


# The networks torch.compile compiles in :func:`measure_compiled`.
COMPILED_NETWORKS = ("encoder", "decoder", "projection")


def measure_compiled(
    n_rows, n_columns, batch_size, device="auto", n_steps=50, n_rounds=5, params=None
):
    """skssl's training step eager and under ``torch.compile``, in turns.

    Two runs with the same initial networks and random stream; in the second
    the networks (:data:`COMPILED_NETWORKS`, inductor's default mode, static
    shapes) are compiled. The loss functions, augmentation and optimiser stay
    eager: the augmentation's draws from a ``torch.Generator`` break graphs.

    Returns
    -------
    dict
        ``eager`` and ``compiled`` rows/s, ``compile_seconds`` (the first
        compiled steps), and ``eager_fraction`` and ``compiled_fraction`` of
        the matmul rate.
    """
    device = resolve_device(device)
    params = {**DEFAULT_PARAMS, **(params or {})}
    X = _table(n_rows, n_columns, seed=0)
    batch_size = min(batch_size, n_rows)
    runs = {
        name: start_run(X, params, device, batch_size) for name in ("eager", "compiled")
    }
    for name in COMPILED_NETWORKS:
        getattr(runs["compiled"].model, name).compile(dynamic=False)
    with (
        _skssl_loop(runs["eager"]) as (eager_train, eager_step),
        _skssl_loop(runs["compiled"]) as (compiled_train, _),
    ):
        loops = {"eager": eager_train, "compiled": compiled_train}
        start = time.perf_counter()
        compiled_train(2)
        compile_seconds = time.perf_counter() - start
        rates = interleaved_rates(
            loops, n_steps, WARMUP_STEPS, n_rounds, batch_size, device
        )
        flops = count_flops(eager_step)
        matmul = _matmul_gflops(runs["eager"].model, batch_size, device, n_rounds)
    fraction = {
        name: flops * rate / batch_size / 1e9 / matmul for name, rate in rates.items()
    }
    return {
        **rates,
        "compile_seconds": compile_seconds,
        "eager_fraction": fraction["eager"],
        "compiled_fraction": fraction["compiled"],
    }


def format_compiled(n_rows, n_columns, batch_size, ab):
    """The line of :func:`measure_compiled`'s figures ``ab``."""
    return (
        f"torch.compile, {n_rows:,} x {n_columns}, batch {batch_size}: "
        f"{ab['compiled']:,.0f} rows/s ({ab['compiled_fraction']:.0%} of matmul) "
        f"against {ab['eager']:,.0f} eager ({ab['eager_fraction']:.0%}), "
        f"{ab['compiled'] / ab['eager']:.2f}x; compiling took "
        f"{ab['compile_seconds']:.1f} s"
    )


@dataclass
class TimeToAccuracy:
    """The time-to-accuracy line: one timed default fit and its probe.

    Epochs are numbered from 1; ``validation_losses[0]`` is the untrained
    networks' held-out loss and ``validation_losses[e]`` the loss after epoch
    ``e``. Seconds are training time: the sum of the epochs' times, each
    ending with the epoch's host synchronisation (the held-out loss is
    measured outside them).
    """

    dataset: str
    n_fit: int
    n_held_out: int
    seed: int
    params: dict  # estimator parameters given over the defaults
    device: str
    threads: int
    n_epochs: int
    fit_seconds: float
    fit_rows_per_s: float
    target_fraction: float
    target_loss: float
    target_epoch: int
    seconds_to_target: float
    probe_accuracy: float
    raw_probe_accuracy: float
    chance_accuracy: float
    epoch_seconds: list
    validation_losses: list


class _TimedRun(TrainingRun):
    """``fit``'s epoch loop, each epoch timed and followed by the held-out loss.

    The held-out loss uses its own random generator and changes no training
    state, so the fit trains exactly as an untimed one.
    """

    def train_epoch(self, optimizer, epoch):
        session = self.session
        if epoch == 1:
            session.record_held_out_loss(self)
        start = time.perf_counter()
        values = super().train_epoch(optimizer, epoch)  # ends with a host sync
        session.epoch_seconds.append(time.perf_counter() - start)
        session.record_held_out_loss(self)
        return values


class _TimedSession(TrainingSession):
    """A training session whose fit records epoch times and held-out losses."""

    run_class = _TimedRun

    def __init__(self, params, defaults, held_out, **kwargs):
        super().__init__(params, defaults, **kwargs)
        self.held_out = held_out
        self.epoch_seconds = []
        self.validation_losses = []
        self._table_encoder = self._held_out_data = None

    def build_model(self, table_encoder, seed, n_classes=None):
        self._table_encoder = table_encoder  # fit's encoding, for held_out
        return super().build_model(table_encoder, seed, n_classes)

    def record_held_out_loss(self, run):
        """Append the model's loss on the held-out rows (fit's validation
        loss, with a fixed augmentation seed, on rows fit never sees)."""
        if self._held_out_data is None:
            encoded = self._table_encoder.transform(self.held_out, dtype=np.float32)
            self._held_out_data = self._data(encoded, run.device, None)
        run.model.eval()  # train_epoch switches back to training mode
        validation, run.validation = run.validation, self._held_out_data
        try:
            self.validation_losses.append(run.validation_loss(seed=0))
        finally:
            run.validation = validation


class _TimedTransformer(ContrastiveVAETransformer):
    """The transformer, fitted by a :class:`_TimedSession` over ``held_out_``."""

    def _session(self):
        self.timed_session_ = _TimedSession.from_estimator(
            self, held_out=self.held_out_
        )
        return self.timed_session_


def reached_target(validation_losses, epoch_seconds, fraction=TARGET_FRACTION):
    """Where the held-out loss first came near its final value.

    The target is the final loss plus ``fraction`` of its decrease from the
    untrained networks' loss (``validation_losses[0]``), or the final loss
    itself if it did not decrease; a fraction of the decrease, unlike one of
    the loss, does not depend on the loss's offset or sign.

    Returns
    -------
    target_loss : float
    target_epoch : int
        The first epoch (from 1) whose loss is at most ``target_loss``.
    seconds : float
        Training seconds up to the end of that epoch.
    """
    initial, final = validation_losses[0], validation_losses[-1]
    target = final + fraction * max(initial - final, 0.0)
    epoch = next(e for e, loss in enumerate(validation_losses[1:], 1) if loss <= target)
    return target, epoch, float(sum(epoch_seconds[:epoch]))


def measure_time_to_accuracy(
    dataset=DEFAULT_ACCURACY_DATASET,
    device="auto",
    params=None,
    seed=0,
    fraction=TARGET_FRACTION,
):
    """Time a default transformer's fit to its final held-out loss; probe it.

    The dataset's rows are split (stratified, ``seed``) into fit rows and
    :data:`HELD_OUT_FRACTION` held-out rows. The transformer (the package's
    defaults, ``params`` over them, ``random_state=seed``) is fitted on the
    fit rows; its held-out loss is measured before training and after each
    epoch. The benchmark's linear probe (:func:`._methods.make_probe`, on
    standardised features, as in the ``ssl`` method) is trained on the fit
    rows' representation and scored on the held-out rows, beside the same
    probe on the standardised raw features (the datasets are numeric and
    complete: that is the benchmark's raw encoding).

    Parameters
    ----------
    dataset : {"breast_cancer", "digits"}
    device : str
    params : dict, optional
        Estimator parameters over the defaults.
    seed : int
    fraction : float
        See :func:`reached_target`.

    Returns
    -------
    result : TimeToAccuracy
    """
    X, y = ACCURACY_DATASETS[dataset](return_X_y=True)
    X_fit, X_held_out, y_fit, y_held_out = train_test_split(
        X, y, test_size=HELD_OUT_FRACTION, random_state=seed, stratify=y
    )
    device = resolve_device(device)
    estimator = _TimedTransformer(
        **{**(params or {}), "device": str(device), "random_state": seed}
    )
    estimator.held_out_ = X_held_out
    with warnings.catch_warnings():
        # A short max_epochs (the tests') would warn that the loss was still
        # improving; the line reports the epochs, and the probe's own
        # convergence warnings would only clutter the output.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X_fit)
        session = estimator.timed_session_
        losses, seconds = session.validation_losses, session.epoch_seconds
        target, epoch, to_target = reached_target(losses, seconds, fraction)
        accuracy = probe_accuracy(
            estimator.transform(X_fit),
            y_fit,
            estimator.transform(X_held_out),
            y_held_out,
            seed,
        )
        raw_accuracy = probe_accuracy(X_fit, y_fit, X_held_out, y_held_out, seed)
    fit_seconds = float(sum(seconds))
    return TimeToAccuracy(
        dataset=dataset,
        n_fit=len(X_fit),
        n_held_out=len(X_held_out),
        seed=seed,
        params=dict(params or {}),
        device=str(device),
        threads=torch.get_num_threads(),
        n_epochs=len(seconds),
        fit_seconds=fit_seconds,
        fit_rows_per_s=len(seconds) * len(X_fit) / fit_seconds,
        target_fraction=fraction,
        target_loss=target,
        target_epoch=epoch,
        seconds_to_target=to_target,
        probe_accuracy=accuracy,
        raw_probe_accuracy=raw_accuracy,
        chance_accuracy=float(np.bincount(y_held_out).max() / len(y_held_out)),
        epoch_seconds=list(seconds),
        validation_losses=list(losses),
    )


def format_time_to_accuracy(result):
    """The time-to-accuracy line for ``result``."""
    initial, final = result.validation_losses[0], result.validation_losses[-1]
    defaults = ContrastiveVAETransformer().get_params()
    changed = [
        f"{key}={value!r}"
        for key, value in result.params.items()
        if defaults[key] != value
    ]
    model = "default transformer" + (f" with {', '.join(changed)}" if changed else "")
    return (
        f"time to accuracy ({result.dataset}, {result.n_fit:,} fit / "
        f"{result.n_held_out:,} held-out rows, {model}, seed {result.seed}): "
        f"{result.n_epochs} epochs in {result.fit_seconds:.2f} s "
        f"({result.fit_rows_per_s:,.0f} rows/s); held-out loss within "
        f"{result.target_fraction:.0%} of its decrease ({initial:.3f} untrained -> "
        f"{final:.3f} final) at epoch {result.target_epoch}, after "
        f"{result.seconds_to_target:.2f} s; probe accuracy "
        f"{result.probe_accuracy:.3f} (raw features {result.raw_probe_accuracy:.3f}, "
        f"majority class {result.chance_accuracy:.3f})"
    )


@contextmanager
def _torch_threads(threads):
    """torch's thread count set to ``threads`` (if given) within the block."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _measure_in_child(queue, kwargs, threads):
    if threads:
        torch.set_num_threads(threads)
    queue.put(asdict(measure(**kwargs)))


def measure_isolated(threads=None, **kwargs):
    """:func:`measure` in a fresh process, so peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure_in_child, args=(queue, kwargs, threads))
    process.start()
    result = queue.get()
    process.join()
    return SpeedResult(**result)


@dataclass
class SpeedReport:
    """What :func:`run_speed` measured: the table's rows, then the
    time-to-accuracy line (None when skipped)."""

    rows: list
    time_to_accuracy: TimeToAccuracy = None


_HEADER = (
    "| rows | cols | batch | train rows/s | reference rows/s | speed-up "
    "| skorch rows/s | speed-up | transform rows/s | peak MB | train GFLOP/s "
    "| matmul GFLOP/s | of matmul |"
)


def _or_na(value, spec):
    return "n/a" if math.isnan(value) else format(value, spec)


def format_row(result):
    """A Markdown table row for ``result``."""
    return (
        f"| {result.n_rows:,} | {result.n_columns} | {result.batch_size} "
        f"| {result.train_rows_per_s:,.0f} "
        f"| {_or_na(result.reference_rows_per_s, ',.0f')} "
        f"| {_or_na(result.speedup_vs_reference, '.2f')}x "
        f"| {_or_na(result.skorch_rows_per_s, ',.0f')} "
        f"| {_or_na(result.speedup_vs_skorch, '.2f')}x "
        f"| {result.transform_rows_per_s:,.0f} | {result.peak_memory_mb:,.0f} "
        f"| {result.train_gflops:.1f} | {result.matmul_gflops:.1f} "
        f"| {result.matmul_fraction:.0%} |"
    )


def run_speed(
    rows=DEFAULT_ROWS,
    columns=DEFAULT_COLUMNS,
    batch_sizes=(256,),
    device="auto",
    n_steps=50,
    n_rounds=5,
    reference=True,
    threads=None,
    params=None,
    accuracy=DEFAULT_ACCURACY_DATASET,
    accuracy_params=None,
    compiled=False,
    out=None,
):
    """Print the speed table, one configuration per line as it finishes,
    then the time-to-accuracy line.

    ``params`` are estimator parameters for skssl's loop, over the defaults of
    the speed targets (:data:`DEFAULT_PARAMS`). The time-to-accuracy fit
    (:func:`measure_time_to_accuracy` on the dataset ``accuracy``, in this
    process; None skips it) uses the package's defaults with ``params`` and
    then ``accuracy_params`` over them, with ``threads`` torch threads.
    ``compiled`` adds, per configuration, a line comparing the step eager and
    under ``torch.compile`` (:func:`measure_compiled`, in this process).

    Returns
    -------
    report : SpeedReport
    """
    out = sys.stdout if out is None else out
    resolved = resolve_device(device)
    estimator = ContrastiveVAETransformer(**{**DEFAULT_PARAMS, **(params or {})})
    settings = estimator.get_params()
    # The sizes the parameters resolve to (hidden_layer_sizes=None splits
    # n_components).
    session = TrainingSession.from_estimator(estimator)
    settings["hidden_layer_sizes"] = tuple(session.hidden_layer_sizes)
    settings["latent_dim"] = session.latent_dim
    print(
        f"device: {resolved}; torch {torch.__version__}; threads: "
        f"{threads or torch.get_num_threads()}; training rate: median of "
        f"{n_rounds} rounds of {n_steps} steps, the loops taking turns, after "
        f"{WARMUP_STEPS} warm-up steps",
        file=out,
    )
    print(
        "model: "
        + ", ".join(
            f"{key}={settings[key]}"
            for key in (
                "hidden_layer_sizes",
                "latent_dim",
                "projection_dim",
                "contrastive_weight",
                "vae_weight",
                "corruption_rate",
                "optimizer",
                "mixed_precision",
            )
        ),
        file=out,
    )
    print(_HEADER, file=out)
    print("|" + "---|" * (_HEADER.count("|") - 1), file=out)
    configurations = list(itertools.product(rows, columns, batch_sizes))
    results = []
    for n_rows, n_columns, batch_size in configurations:
        result = measure_isolated(
            threads=threads,
            n_rows=n_rows,
            n_columns=n_columns,
            batch_size=batch_size,
            device=device,
            n_steps=n_steps,
            n_rounds=n_rounds,
            reference=reference,
            params=params,
        )
        results.append(result)
        print(format_row(result), file=out, flush=True)
    if compiled:
        for n_rows, n_columns, batch_size in configurations:
            with _torch_threads(threads):
                ab = measure_compiled(
                    n_rows, n_columns, batch_size, device, n_steps, n_rounds, params
                )
            line = format_compiled(n_rows, n_columns, batch_size, ab)
            print(line, file=out, flush=True)
    time_to_accuracy = None
    if accuracy is not None:
        kwargs = {
            "dataset": accuracy,
            "device": device,
            "params": {**(params or {}), **(accuracy_params or {})},
        }
        # In this process: a fresh one would add the imports' seconds (about
        # twice the default fit's) for no benefit, as the line reports no
        # memory.
        with _torch_threads(threads):
            time_to_accuracy = measure_time_to_accuracy(**kwargs)
        print(format_time_to_accuracy(time_to_accuracy), file=out, flush=True)
    return SpeedReport(results, time_to_accuracy)
