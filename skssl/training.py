"""The training session behind the estimators, for custom loops and benchmarks.

:class:`~skssl.ContrastiveVAETransformer` is a thin scikit-learn face over a
:class:`TrainingSession`: ``fit`` runs :meth:`TrainingSession.fit`, which
starts a new :class:`TrainingState`; ``partial_fit`` runs
:meth:`TrainingSession.partial_fit`, which continues one. Both go through the
same epoch loop (:meth:`TrainingRun.epochs`), as does the speed benchmark,
step by step (:meth:`TrainingRun.train_steps`).

A session reads the estimator's parameters (``get_params()``) and its
defaults; it holds no state of its own between calls. Everything a later
``partial_fit`` resumes from is in the :class:`TrainingState` it returns,
which the estimator keeps and pickles with the model.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gc
import inspect
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ._boosting import BoostingExpert, fit_boosting_expert, tree_inputs
from ._devices import pool_rows, resolve_device
from ._diagnostics import RepresentationMonitor, empty_representation_history
from ._encoding import TabularEncoder
from ._graph import fit_label_graph, graph_inputs, graph_rows
from ._head import (
    DEFAULT_RAW_REGRESSION_WEIGHT,
    RAW_REGRESSION_WEIGHTS,
    fit_regressions,
)
from ._networks import ContrastiveVAE, network_sizes
from ._objective import (
    LOSS_TERMS,
    Objective,
    check_sample_weight_support,
    curve_attribute,
)
from ._optimizers import (
    flat_optimizer,
    learning_rate_factors,
    set_learning_rate,
    state_on_cpu,
)
from ._persistence import (
    arrays_to_tensors,
    module_from_state,
    module_state,
    tensors_to_arrays,
)
from ._training_data import (
    STREAM_CHUNK_BYTES,
    UNLABELED,
    Batch,
    HostStreamedData,
    RowReservoir,
    TrainingData,
    device_row_limit,
    n_minibatches,
)
from ._warnings import warn_at_caller

__all__ = [
    "LOSS_TERMS",
    "CURVES",
    "DeviceOutOfMemoryError",
    "TrainingRun",
    "TrainingSession",
    "TrainingState",
    "curve_attribute",
    "resolve_device",
]

# The per-epoch curves a training state records: the loss terms, then the
# validation loss (early stopping only).
CURVES = (*LOSS_TERMS, "validation")


def empty_curves(terms: tuple = LOSS_TERMS) -> dict:
    """Empty per-epoch curves for the loss ``terms`` and the validation loss."""
    return {name: [] for name in (*terms, "validation")}


@dataclass
class StreamState:
    """What ``partial_fit`` resumes: the random stream, moments and pool."""

    stream_seed: int
    reservoir: RowReservoir
    generator: tuple = None  # (device, torch generator state) after a call
    optimizer: dict = None  # the optimiser's state_dict, in host memory

    def __getstate__(self):
        """Pickled with NumPy arrays in place of tensors (skssl._persistence)."""
        return tensors_to_arrays(dict(self.__dict__))

    def __setstate__(self, state):
        self.__dict__.update(arrays_to_tensors(state))


@dataclass
class TrainingState:
    """Everything training produced, and everything needed to continue it.

    The estimators' fitted attributes are read off this object; it is
    pickled with them. ``stream`` is None after :meth:`TrainingSession.fit`
    (a ``partial_fit`` after ``fit`` starts a new stream over the fitted
    networks) and set by :meth:`TrainingSession.partial_fit`.
    """

    table_encoder: TabularEncoder
    model: ContrastiveVAE  # on the CPU between calls
    # Loss term (and "validation") -> per-epoch values.
    curves: dict = field(default_factory=empty_curves)
    fit_time: float = 0.0
    max_epochs: int = None  # the budget fit resolved; None for partial_fit alone
    device: str = "cpu"
    effective_rank: float = float("nan")
    representation_history: dict = None
    stream: StreamState = None
    # The classifier's trees blended with its head (None: the head alone).
    boosting: BoostingExpert = None
    # The raw columns' regression's share of the classifier head's logits.
    raw_regression_weight: float = None

    def __getstate__(self):
        """Pickled with the networks as NumPy arrays and their constructor's
        arguments (skssl._persistence): no torch object in the pickle."""
        state = dict(self.__dict__)
        state["model"] = module_state(self.model)
        return state

    def __setstate__(self, state):
        if isinstance(state["model"], dict):  # else a pickle of skssl 0.1
            state = {**state, "model": module_from_state(state["model"])}
        self.__dict__.update(state)

    @property
    def n_epochs(self) -> int:
        return len(self.curves["loss"])

    @property
    def best_loss(self) -> float:
        """Best monitored loss: validation with early stopping, else training."""
        return min(self.curves["validation"] or self.curves["loss"])

    def continued(self) -> TrainingState:
        """A copy for :meth:`TrainingSession.partial_fit` to train further.

        The networks, curves, representation history and the stream's
        reservoir and random generator are copied, so this state stays as it
        was whatever happens to the call (an interrupt, an error). The table
        encoder, fixed once fitted, is shared.
        """
        stream = self.stream
        if stream is not None:
            reservoir = copy.copy(stream.reservoir)  # update() makes new arrays
            reservoir.rng = copy.deepcopy(reservoir.rng)
            stream = dataclasses.replace(stream, reservoir=reservoir)
        history = self.representation_history
        if history is not None:
            history = {name: list(values) for name, values in history.items()}
        return dataclasses.replace(
            self,
            model=copy.deepcopy(self.model),
            curves={name: list(values) for name, values in self.curves.items()},
            representation_history=history,
            stream=stream,
        )


class DeviceOutOfMemoryError(torch.OutOfMemoryError, MemoryError):
    """Training ran out of memory on its device.

    Raised by :meth:`TrainingSession.fit` and :meth:`TrainingSession.partial_fit`
    in place of torch's ``OutOfMemoryError`` (which it subclasses, with
    ``MemoryError``), once the device memory the call held has been released.
    The message names the device and the batch size.
    """


def _releasing_device_memory(method):
    """Turn an out-of-memory error of training ``method`` into a
    :class:`DeviceOutOfMemoryError`, after releasing the device's memory.

    The tensors a failed call put on the device are held by the frames of its
    traceback; they are freed once the original error is dropped, which is why
    the new error is raised outside the ``except`` clause (and without it as
    its cause). The allocator's cached blocks are then returned to the device.
    """

    @functools.wraps(method)
    def train(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DeviceOutOfMemoryError:
            raise
        except torch.OutOfMemoryError as error:
            detail = str(error).strip().splitlines()[0] if str(error) else ""
        gc.collect()
        device = resolve_device(self.params["device"])
        if device.type == "cuda":
            if device.index is None:
                device = torch.device("cuda", torch.cuda.current_device())
            torch.cuda.empty_cache()
        raise DeviceOutOfMemoryError(
            f"Training ran out of memory on device {device} with "
            f"batch_size={self.params['batch_size']} (hidden_layer_sizes="
            f"{tuple(self.hidden_layer_sizes)}). Lower batch_size or "
            "n_components (the hidden layers' width), or free memory on the "
            "device; the memory this "
            f"call held on it has been released. ({detail or 'out of memory'})"
        )

    return train


# Rows seen in training under max_epochs="auto", and its bounds in epochs:
# with the default cosine schedule, the knee of the time-to-accuracy study
# (docs/time_to_accuracy.md).
AUTO_ROWS_SEEN = 60_000
AUTO_EPOCH_RANGE = (3, 100)


def resolve_max_epochs(max_epochs: int | str, n_train: int) -> int:
    """The epoch budget for ``max_epochs`` (an int, or "auto") and ``n_train`` rows."""
    if max_epochs != "auto":
        return max_epochs
    return epochs_for_rows_seen(n_train, AUTO_ROWS_SEEN, AUTO_EPOCH_RANGE)


def epochs_for_rows_seen(n_train: int, rows_seen: int, epoch_range: tuple) -> int:
    """Epochs that show about ``rows_seen`` rows, clipped to ``epoch_range``."""
    low, high = epoch_range
    return int(np.clip(np.ceil(rows_seen / n_train), low, high))


class Seeds(NamedTuple):
    """The integer seeds of one training call, drawn from ``random_state``."""

    networks: int  # weight initialisation
    stream: int  # minibatches, augmentation, reparametrisation noise
    sampling: int  # which rows: the validation split (fit), the reservoir
    # (partial_fit); also the diagnostics' rows and views in fit


def seed_sequence(random_state: int | np.random.RandomState | None) -> Seeds:
    """:class:`Seeds` drawn from ``random_state``, never from a global RNG."""
    if random_state is None:
        # A fresh generator seeded by the OS: check_random_state(None) would
        # draw from (and advance) NumPy's global RNG.
        seeds = np.random.default_rng().integers(0, 2**31 - 1, size=3)
    else:
        seeds = check_random_state(random_state).randint(0, 2**31 - 1, size=3)
    return Seeds(*(int(s) for s in seeds))


class _EarlyStopping:
    """Stop after ``patience`` epochs without an improvement of ``tol``.

    With ``keep_best``, the weights of the best epoch are kept (copied) so
    that they can be restored at the end.
    """

    def __init__(self, tol, patience, keep_best):
        self.tol, self.patience, self.keep_best = tol, patience, keep_best
        self.best, self.best_state, self.stale = float("inf"), None, 0
        self.converged = False

    def update(self, monitored, model):
        """Record an epoch's monitored loss; return True to stop."""
        self.stale = 0 if monitored < self.best - self.tol else self.stale + 1
        if monitored < self.best:
            self.best = monitored
            if self.keep_best:
                self.best_state = {
                    k: v.detach().clone() for k, v in model.state_dict().items()
                }
        self.converged = self.stale >= self.patience
        return self.converged


def _finite(value):
    return value == value and abs(value) != float("inf")


class TrainingRun:
    """One call's training objects on the device, and the epoch loop over them.

    Attributes
    ----------
    model : ContrastiveVAE
        The networks, on ``device``.
    data : TrainingData or HostStreamedData
        The rows trained on.
    pool : Batch
        The rows whose column values the augmentation draws from.
    validation : TrainingData, HostStreamedData or None
        Held-out rows (early stopping).
    objective : Objective
    generator : torch.Generator
        The random stream of minibatches, augmentation and reparametrisation.
    batch_size : int
    encoded : EncodedTable or None
        The encoded table in host memory (set by :meth:`TrainingSession.start`).
    """

    def __init__(
        self, session, model, data, pool, validation, generator, device, encoded=None
    ):
        self.session = session
        self.encoded = encoded
        self.model = model
        self.data = data
        self.pool = pool
        self.validation = validation
        self.generator = generator
        self.device = device
        self.objective = session.objective
        self.batch_size = min(session.params["batch_size"], data.n_samples)
        self._step_stream = None  # the minibatches of train_steps
        self._progress = None  # the progress bar of a verbose epoch loop
        self._learning_rates = None  # each next step's rate, under a schedule

    @contextmanager
    def optimizer(self, state=None):
        """The configured optimiser over the networks' flat parameters."""
        params = self.session.params
        with flat_optimizer(
            self.model,
            params["optimizer"],
            params["learning_rate"],
            params["weight_decay"],
            state,
        ) as optimizer:
            yield optimizer

    def train_step(
        self, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> torch.Tensor:
        """One optimiser step on ``batch``; returns its detached loss terms."""
        terms = self.objective.batch_losses(
            self.model, batch, self.pool, self.generator
        )
        # The flat gradient buffer must stay: backward accumulates into its views.
        optimizer.zero_grad(set_to_none=False)
        terms[0].backward()
        optimizer.step()
        return terms.detach()

    def _train_on(self, batches, optimizer):
        """Sums of the loss terms over ``batches``, weighted by their rows."""
        sums = torch.zeros(len(self.objective.terms), device=self.pool.numeric.device)
        try:
            for batch in batches:
                if self._learning_rates is not None:
                    set_learning_rate(optimizer, next(self._learning_rates))
                sums += self.train_step(batch, optimizer) * batch.n_samples
                if self._progress is not None:
                    self._progress.update(batch.n_samples)
        finally:
            # An error or interrupt mid-epoch: the batches' generator (and the
            # streaming thread of host-streamed data) ends now, not whenever
            # the traceback is dropped.
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        return sums

    def train_steps(
        self, n_steps: int, optimizer: torch.optim.Optimizer
    ) -> torch.Tensor:
        """``n_steps`` optimiser steps, continuing where the last call stopped.

        Epochs follow one another. Returns the detached sums of the loss
        terms (no host synchronisation: the benchmark reads them when it
        times a round).
        """
        if self._step_stream is None:
            self._step_stream = self._endless_batches()
        self.model.train()
        return self._train_on(islice(self._step_stream, n_steps), optimizer)

    def _endless_batches(self):
        while True:
            yield from self.data.epoch_batches(self.batch_size, self.generator)

    def train_epoch(self, optimizer: torch.optim.Optimizer, epoch: int) -> list:
        """One pass over ``data``; returns the epoch's mean loss terms as floats.

        Raises
        ------
        FloatingPointError
            If a loss term is NaN or infinite.
        """
        self.model.train()
        batches = self.data.epoch_batches(self.batch_size, self.generator)
        sums = self._train_on(batches, optimizer)
        values = (sums / self.data.n_samples).tolist()
        # ^ the one host synchronisation per epoch
        if not all(map(_finite, values)):
            raise FloatingPointError(
                f"Training diverged at epoch {epoch}: the loss became "
                f"{values[0]} (terms {dict(zip(self.objective.terms, values))}). "
                "Lower learning_rate, raise temperature, or check the input for "
                "extreme values."
            )
        return values

    @torch.no_grad()
    def validation_loss(self, seed: int) -> float:
        """The monitored loss on the held-out rows (see
        ``Objective.validation_loss``), with a fixed augmentation seed.

        Reusing the seed every epoch makes epochs comparable: the only thing
        that changes is the model.
        """
        generator = torch.Generator(device=self.pool.numeric.device).manual_seed(seed)
        sums = torch.zeros((), device=self.pool.numeric.device)
        for batch in self.validation.ordered_batches(max(self.batch_size, 2)):
            loss = self.objective.validation_loss(
                self.model, batch, self.pool, generator
            )
            sums += loss * batch.n_samples
        return (sums / self.validation.n_samples).item()

    def epochs(
        self,
        n_epochs: int,
        curves: dict,
        stopping: _EarlyStopping | None = None,
        validation_seed: int | None = None,
        monitor: Callable | None = None,
        optimizer_state: dict | None = None,
        schedule: str = "constant",
    ) -> dict:
        """The epoch loop: train ``n_epochs`` epochs (fewer if ``stopping`` says).

        Appends each epoch's loss terms (and validation loss, with
        ``validation``) to ``curves``; runs ``monitor(model)`` after each
        epoch. With ``stopping`` (an :class:`_EarlyStopping`), the best
        weights are restored at the end when it kept them. ``schedule``
        (see :func:`~skssl._optimizers.learning_rate_factors`) spans the
        ``n_epochs`` epochs, whether or not ``stopping`` ends them sooner.

        Returns
        -------
        optimizer_state : dict
            The optimiser's ``state_dict`` at the end, in host memory.
        """
        verbose = self.session.params["verbose"]
        first = len(curves["loss"]) + 1
        last = first + n_epochs - 1
        with (
            self.optimizer(optimizer_state) as optimizer,
            self._progress_bar(verbose, n_epochs * self.data.n_samples),
            self._scheduled(optimizer, schedule, n_epochs),
        ):
            for epoch in range(first, last + 1):
                start = time.perf_counter()
                values = self.train_epoch(optimizer, epoch)
                train_time = time.perf_counter() - start
                for name, value in zip(self.objective.terms, values):
                    curves[name].append(value)
                monitored = values[0]
                if self.validation is not None:
                    self.model.eval()
                    monitored = self.validation_loss(validation_seed)
                    if not _finite(monitored):
                        raise FloatingPointError(
                            f"Validation loss became {monitored} at epoch {epoch}."
                        )
                    curves["validation"].append(monitored)
                if monitor is not None:
                    self.model.eval()
                    monitor(self.model)
                if verbose:
                    self._report(
                        f"Epoch {epoch}/{last}",
                        values,
                        monitored if self.validation is not None else None,
                        time.perf_counter() - start,
                        self.data.n_samples / max(train_time, 1e-9),
                    )
                if stopping is not None and stopping.update(monitored, self.model):
                    break
            optimizer_state = state_on_cpu(optimizer.state_dict())
        if stopping is not None and stopping.best_state is not None:
            self.model.load_state_dict(stopping.best_state)
        self.model.eval()
        return optimizer_state

    @contextmanager
    def _scheduled(self, optimizer, schedule, n_epochs):
        """Steps of the block follow ``schedule`` over ``n_epochs`` epochs.

        At the end the optimiser's rate is ``learning_rate`` again, so the
        state ``partial_fit`` resumes from carries the configured rate.
        """
        steps_per_epoch = n_minibatches(self.data.n_samples, self.batch_size)
        factors = learning_rate_factors(schedule, n_epochs * steps_per_epoch)
        if factors is None:
            yield
            return
        base = self.session.params["learning_rate"]
        self._learning_rates = iter((base * factors).tolist())
        try:
            yield
        finally:
            self._learning_rates = None
            set_learning_rate(optimizer, base)

    @contextmanager
    def _progress_bar(self, verbose, n_rows):
        """With ``verbose`` and tqdm installed (it is optional: the benchmark
        extra), a :class:`_Progress` over ``n_rows`` training rows for
        :meth:`_train_on` to advance."""
        tqdm = None
        if verbose:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
        if tqdm is None:
            yield
            return
        self._progress = _Progress(tqdm, n_rows)
        try:
            yield
        finally:
            self._progress.close()
            self._progress = None

    def _report(self, label, values, validation, seconds, rows_per_second):
        """Print one epoch's line (verbose): the loss and its terms, the
        validation loss, the epoch's time and training rows per second."""
        total, *terms = values
        detail = ", ".join(
            f"{name} {value:.4f}"
            for name, value in zip(self.objective.terms[1:], terms)
        )
        message = f"{label}: loss {total:.4f} ({detail})"
        if validation is not None:
            message += f", validation loss {validation:.4f}"
        message += f", {seconds:.2f} s, {rows_per_second:,.0f} rows/s"
        if self._progress is None:
            print(message)
        else:
            self._progress.write(message)


# Seconds a verbose epoch loop runs before its progress bar appears: short
# fits print their epoch lines alone.
PROGRESS_DELAY = 2.0


class _Progress:
    """Rows trained so far, and a tqdm bar over them (on stdout) once the
    loop has run :data:`PROGRESS_DELAY` seconds."""

    def __init__(self, tqdm, total):
        self.tqdm, self.total = tqdm, total
        self.done, self.bar = 0, None
        self.start = time.perf_counter()

    def update(self, n_rows):
        self.done += n_rows
        if self.bar is not None:
            self.bar.update(n_rows)
        elif time.perf_counter() - self.start >= PROGRESS_DELAY:
            self.bar = self.tqdm(
                total=self.total,
                initial=self.done,
                unit="rows",
                unit_scale=True,
                file=sys.stdout,
                leave=False,
                dynamic_ncols=True,
                desc="training",
            )

    def write(self, message):
        """Print ``message``; above the bar, which stays at the bottom."""
        if self.bar is None:
            print(message)
        else:
            self.bar.write(message, file=sys.stdout)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class TrainingSession:
    """Training for one estimator's parameters: ``fit`` and ``partial_fit``.

    Parameters
    ----------
    params : dict
        The estimator's parameters (``get_params(deep=False)``).
    defaults : dict
        Their default values (a parameter of another contrastive variant
        than the chosen one must stay at its default).
    device_rows : int, optional
        Rows of training data that may live on the device at once; by
        default measured from the device's free memory (no limit on the
        CPU). A smaller budget streams data from host memory.
    chunk_bytes : int, optional
        Largest chunk of streamed rows.

    Raises
    ------
    ValueError
        For parameter combinations that mean nothing (both branches off, a
        variant's parameter with another variant, bad ``hidden_layer_sizes``).
    """

    # The epoch loop's class: a subclass of TrainingRun may hook into it.
    run_class = TrainingRun

    def __init__(
        self,
        params: dict,
        defaults: dict,
        device_rows: int | None = None,
        chunk_bytes: int = STREAM_CHUNK_BYTES,
    ):
        self.params = params
        self.device_rows = device_rows
        self.chunk_bytes = chunk_bytes
        if params["contrastive_weight"] == 0 and params["vae_weight"] == 0:
            raise ValueError(
                "contrastive_weight and vae_weight are both 0: nothing to train. "
                "Set at least one of them to a positive value."
            )
        # The classifier has no representation parameter: its head reads
        # the hidden activations.
        self.hidden_layer_sizes, self.latent_dim = network_sizes(
            params["n_components"],
            params["latent_dim"],
            params["hidden_layer_sizes"],
            params.get("representation", "hidden"),
        )
        self.objective = Objective.from_params(params, defaults)

    @classmethod
    def from_estimator(cls, estimator, **kwargs) -> TrainingSession:
        """The session of ``estimator``'s current parameters."""
        signature = inspect.signature(type(estimator).__init__)
        defaults = {
            name: parameter.default
            for name, parameter in signature.parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        return cls(estimator.get_params(deep=False), defaults, **kwargs)

    # --------------------------------------------------------------- building
    def build_model(self, table_encoder, seed, n_classes=None):
        """Fresh networks for the columns ``table_encoder`` produces (with a
        classification head for ``n_classes`` classes, for the classifier)."""
        params = self.params
        # Weight initialisation draws from torch's global RNG: fork it so the
        # caller's RNG state is left untouched, and seed it for reproducibility.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return ContrastiveVAE(
                n_numeric=len(table_encoder.numeric_index_),
                missing_indicator_index=table_encoder.missing_indicator_index_,
                cardinalities=table_encoder.cardinalities_,
                hidden_layer_sizes=self.hidden_layer_sizes,
                latent_dim=self.latent_dim,
                projection_dim=params["projection_dim"],
                with_decoder=params["vae_weight"] > 0,
                with_projection=params["contrastive_weight"] > 0,
                n_classes=n_classes,
            )

    def check_architecture(self, model):
        """Refuse parameters that need other networks than ``model``'s.

        ``partial_fit`` continues training the fitted networks; a parameter
        changed since (e.g. by ``set_params``) that would shape them
        differently cannot be honoured. A branch switched off (its weight set
        to 0) is fine: its head gets no gradient (only the optimiser's weight
        decay and remaining momentum move it). One switched on needs a head
        the networks do not have.
        """
        params = self.params
        built = model.architecture()
        wanted = {
            "hidden_layer_sizes": list(self.hidden_layer_sizes),
            "latent_dim": self.latent_dim,
        }
        if built["projection_dim"] is not None and params["contrastive_weight"] > 0:
            wanted["projection_dim"] = params["projection_dim"]
        changed = [
            f"{key} (the networks have {built[key]!r}, now {value!r})"
            for key, value in wanted.items()
            if built[key] != value
        ]
        if params["contrastive_weight"] > 0 and built["projection_dim"] is None:
            changed.append("contrastive_weight (the networks have no projection head)")
        if params["vae_weight"] > 0 and not built["with_decoder"]:
            changed.append("vae_weight (the networks have no decoder)")
        if changed:
            raise ValueError(
                "partial_fit continues training the fitted networks, but these "
                f"parameters no longer match them: {'; '.join(changed)} (the "
                "sizes n_components, latent_dim, hidden_layer_sizes and "
                "representation resolve to). Restore them, or call fit to train "
                "new networks."
            )

    def _row_limit(self, encoded, device):
        if self.device_rows is not None:
            return self.device_rows
        return device_row_limit(encoded, device)

    def _data(self, encoded, device, max_device_rows, labels=None, weights=None):
        return TrainingData.from_encoded(
            encoded,
            device,
            max_device_rows=max_device_rows,
            chunk_bytes=self.chunk_bytes,
            labels=labels,
            weights=weights,
        )

    # -------------------------------------------------------------------- fit
    @_releasing_device_memory
    def fit(
        self,
        X: ArrayLike,
        categorical_mask: np.ndarray,
        labels: np.ndarray | None = None,
        n_classes: int | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> TrainingState:
        """Train new networks on the validated table ``X``; a new state.

        With ``early_stopping``, ``validation_fraction`` of the rows are held
        out, training stops when their loss stops improving and the best
        weights are restored; otherwise it stops when the training loss
        stops improving, or after ``max_epochs``.

        ``labels`` (the classifier's: class indices, ``UNLABELED`` for rows
        without a label) train a classification head for ``n_classes``
        classes beside the self-supervised objective, which uses every row.
        Early stopping then holds out a stratified part of the labeled rows,
        whose labels are hidden from training but whose values are not.

        ``sample_weight`` (non-negative, one per row, or None) weights each
        row's terms in the loss (see :func:`row_weights`); the held-out rows'
        weights weight the validation loss.
        """
        params = self.params
        if sample_weight is not None:
            check_sample_weight_support(params)
        device = resolve_device(params["device"])
        seeds = seed_sequence(params["random_state"])
        table_encoder = TabularEncoder(categorical_mask, params["max_categories"])
        table_encoder.fit(X)
        # Training runs in float32: encoding straight into it keeps fit's
        # memory near one float32 copy of the table.
        encoded = table_encoder.transform(X, dtype=np.float32)
        train_rows, validation_rows = self._validation_split(
            encoded.n_samples, seeds.sampling, labels
        )
        max_device_rows = self._row_limit(encoded, device)
        n_pool = pool_rows(max_device_rows)
        train_labels = labels
        if labels is not None and validation_rows is not None:
            train_labels = labels.copy()
            train_labels[validation_rows] = UNLABELED
        weights = validation_weights = None
        if sample_weight is not None:
            trained = train_rows if labels is None else slice(None)
            weights = row_weights(sample_weight[trained], "training")
            if validation_rows is not None:
                validation_weights = row_weights(
                    sample_weight[validation_rows], "validation"
                )
        if validation_rows is None:  # all rows, without a copy on the CPU
            data = self._data(encoded, device, max_device_rows, labels, weights=weights)
            validation = None
        else:
            if labels is None:
                data = self._data(
                    encoded.take(train_rows), device, max_device_rows, weights=weights
                )
            else:  # every row trains; the validation rows' labels are hidden
                data = self._data(
                    encoded, device, max_device_rows, train_labels, weights=weights
                )
            validation_limit = max_device_rows
            if isinstance(data, HostStreamedData):
                # Streamed chunks take up to half the budget and the marginal
                # pool a quarter; the validation rows stay on the device only
                # if they fit in the last quarter.
                validation_limit //= 4
            validation = self._data(
                encoded.take(validation_rows),
                device,
                validation_limit,
                None if labels is None else labels[validation_rows],
                weights=validation_weights,
            )
        # Freed once split or moved to a GPU: training holds its own copies.
        del encoded
        model = self.build_model(table_encoder, seeds.networks, n_classes)
        model = model.to(device)
        generator = torch.Generator(device=device).manual_seed(seeds.stream)
        pool = data.marginal_pool(n_pool, generator)
        run = self.run_class(self, model, data, pool, validation, generator, device)
        state = TrainingState(
            table_encoder,
            model,
            curves=empty_curves(self.objective.terms),
            device=str(device),
        )
        state.max_epochs = resolve_max_epochs(params["max_epochs"], data.n_samples)
        # Always built: the collapse check at the end reads its rows; it also
        # records each epoch with monitor_representation.
        diagnostics = RepresentationMonitor(pool, self.objective, seeds.sampling)
        monitor = diagnostics if params["monitor_representation"] else None

        start = time.perf_counter()
        if labels is None:
            self._self_supervised_epochs(run, state, monitor, seeds.sampling)
        else:
            self._classifier_epochs(run, state, monitor, seeds.sampling, train_labels)
        state.fit_time = time.perf_counter() - start
        if monitor is not None:
            state.representation_history = monitor.history
        return self._finish(state, model, diagnostics)

    def _stopping(self, keep_best):
        params = self.params
        return _EarlyStopping(params["tol"], params["n_iter_no_change"], keep_best)

    def _self_supervised_epochs(self, run, state, monitor, validation_seed):
        """The transformer's training: the epoch loop until the monitored loss
        stops improving, or ``max_epochs``."""
        stopping = self._stopping(keep_best=run.validation is not None)
        run.epochs(
            state.max_epochs,
            state.curves,
            stopping=stopping,
            validation_seed=validation_seed,
            monitor=monitor,
            schedule=self.params["learning_rate_schedule"],
        )
        # With max_epochs="auto" the budget is the package's choice, and a
        # warning to raise it would be noise: only a budget the user fixed
        # gets one. n_iter_ == max_epochs_ shows it was used up.
        if not stopping.converged and self.params["max_epochs"] != "auto":
            which = "training" if run.validation is None else "validation"
            warn_at_caller(
                f"Training stopped after max_epochs={state.max_epochs} epochs "
                f"before the {which} loss stopped improving by "
                f"tol={self.params['tol']} for {self.params['n_iter_no_change']} "
                "consecutive epochs. Consider raising max_epochs.",
                ConvergenceWarning,
            )

    def _classifier_epochs(self, run, state, monitor, seed, train_labels):
        """The classifier's training, in three steps over the same epoch loop.

        1. Self-supervised pre-training on every row (the transformer's
           objective; labels unused), as SCARF pre-trains (arXiv 2106.15147).
        2. The head fitted as logistic regressions on the labeled rows'
           raw columns with and without the hidden activations
           (:func:`skssl._head.fit_regressions`), and the gradient-boosting
           expert blended with it; the trees' weight and the raw columns'
           regression's share of the head, where "auto", are chosen
           together by out-of-fold log-loss (:mod:`skssl._boosting`).
        3. ``fine_tune_epochs`` epochs of the whole objective: the encoder
           and head together on the labeled rows' cross-entropy (and the
           consistency term), the self-supervised terms kept on all rows;
           with early stopping, on the held-out labeled rows.

        The supervised curve covers the fine-tuning epochs only.
        """
        validation, objective = run.validation, run.objective
        run.validation = None
        run.objective = dataclasses.replace(objective, supervised_weight=0.0)
        self._self_supervised_epochs(run, state, monitor, seed)
        labeled = train_labels != UNLABELED
        weights = None
        if run.data.weights is not None:
            # Rows of zero weight take no part in the head's fit.
            weights = run.data.weights.cpu().double().numpy()
            labeled &= weights > 0
        labeled = np.flatnonzero(labeled)
        rows = run.data.rows(torch.as_tensor(labeled).to(run.data.device))
        labels = train_labels[labeled]
        head_weights = None if weights is None else weights[labeled]
        regressions = fit_regressions(
            run.model, rows, labels, seed, sample_weight=head_weights
        )
        raw_weight = self.params["raw_regression_weight"]
        if raw_weight != "auto":
            candidates = (raw_weight,)
        elif regressions.folds is None:
            # No folds (a class with a single labeled row): nothing to choose on.
            candidates = (DEFAULT_RAW_REGRESSION_WEIGHT,)
        else:
            candidates = RAW_REGRESSION_WEIGHTS
        graph = self._label_graph(
            run, state, labeled, labels, weights, regressions.folds, seed
        )
        state.boosting, raw_weight = fit_boosting_expert(
            tree_inputs(
                rows.numeric.cpu().numpy(),
                rows.observed.cpu().numpy(),
                rows.categorical.cpu().numpy(),
            ),
            labels,
            run.model.classifier.n_classes,
            state.table_encoder.cardinalities_,
            self.params["boosting_weight"],
            seed,
            head_out_of_fold={
                weight: regressions.out_of_fold_log_proba(weight)
                for weight in candidates
            },
            folds=regressions.folds,
            sample_weight=head_weights,
            graph=graph,
            graph_weight=self.params["graph_weight"],
        )
        regressions.write(run.model.classifier, raw_weight)
        state.raw_regression_weight = float(raw_weight)
        run.validation, run.objective = validation, objective
        if self.params["fine_tune_epochs"]:
            run.epochs(
                self.params["fine_tune_epochs"],
                state.curves,
                stopping=None if validation is None else self._stopping(True),
                validation_seed=seed,
                monitor=monitor,
                schedule=self.params["learning_rate_schedule"],
            )

    def _label_graph(self, run, state, labeled, labels, weights, folds, seed):
        """The labels spread over the graph of the labeled rows and the
        unlabeled ones (:mod:`skssl._graph`), and the labeled rows'
        out-of-fold log-probabilities; None when the graph's weight is 0,
        there are no folds, or the labeled rows alone overfill the graph."""
        if self.params["graph_weight"] == 0 or folds is None:
            return None
        # Rows of zero weight are left out, as from the self-supervised loss.
        rows = np.arange(run.data.n_samples)
        if weights is not None:
            rows = np.flatnonzero(weights > 0)
        index = graph_rows(rows, labeled, seed)
        if index is None:
            return None
        rows = run.data.rows(torch.as_tensor(index).to(run.data.device))
        inputs = graph_inputs(
            rows.numeric.cpu().numpy(),
            rows.observed.cpu().numpy(),
            rows.categorical.cpu().numpy(),
            state.table_encoder.cardinalities_,
        )
        n_classes = run.model.classifier.n_classes
        return fit_label_graph(inputs, len(labeled), labels, n_classes, folds)

    def _validation_split(self, n_samples, seed, labels=None):
        """Training and validation row indices (validation None without
        early stopping). With ``labels``, validation rows are drawn from the
        labeled rows, stratified by class where every class has two."""
        params = self.params
        rows = np.arange(n_samples)
        if not params["early_stopping"]:
            return rows, None
        fraction = params["validation_fraction"]
        candidates = rows if labels is None else rows[labels != UNLABELED]
        n_validation = max(1, int(round(fraction * len(candidates))))
        if len(candidates) - n_validation < 2:
            which = "rows" if labels is None else "labeled rows"
            raise ValueError(
                f"early_stopping with validation_fraction={fraction} leaves fewer "
                f"than 2 training {which} out of {len(candidates)}."
            )
        stratify = None
        if labels is not None:
            counts = np.bincount(labels[candidates])
            n_classes = np.count_nonzero(counts)
            if counts[counts > 0].min() >= 2 and n_validation >= n_classes:
                stratify = labels[candidates]
        train, validation = train_test_split(
            candidates, test_size=n_validation, random_state=seed, stratify=stratify
        )
        return train, validation

    def _finish(self, state, model, monitor):
        """Check the final representation for collapse; the model to the CPU."""
        report = monitor.collapse_report(model)
        state.effective_rank = report["effective_rank"]
        state.model = model.cpu()
        return state

    # ------------------------------------------------------------ partial_fit
    @_releasing_device_memory
    def partial_fit(
        self,
        X: ArrayLike,
        categorical_mask: np.ndarray,
        state: TrainingState | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> TrainingState:
        """Train ``partial_fit_epochs`` epochs on the chunk ``X``.

        ``state`` is the state to continue (None for new networks); it is left
        as it was, and the state trained further is returned (a copy:
        :meth:`TrainingState.continued`). The first call fixes the column
        encoding from its chunk. The augmentation draws replacement values
        from a reservoir sample of all chunks seen. ``sample_weight`` weights
        the chunk's rows in the loss, as for :meth:`fit`.
        """
        params = self.params
        if sample_weight is not None:
            check_sample_weight_support(params)
            sample_weight = row_weights(sample_weight, "chunk's")
        if X.shape[0] < 2:
            raise ValueError(
                f"partial_fit needs at least 2 rows per call (contrastive pairs "
                f"need in-batch negatives), got {X.shape[0]}."
            )
        if state is not None:
            self.check_architecture(state.model)
            state = state.continued()
        device = resolve_device(params["device"])
        if state is None:
            table_encoder = TabularEncoder(categorical_mask, params["max_categories"])
            table_encoder.fit(X)
        else:
            table_encoder = state.table_encoder
        encoded = table_encoder.transform(X, dtype=np.float32)

        if state is None or state.stream is None:
            seeds = seed_sequence(params["random_state"])
            if state is None:
                model = self.build_model(table_encoder, seeds.networks)
                state = TrainingState(table_encoder, model)
            state.stream = StreamState(
                seeds.stream,
                RowReservoir(pool_rows(None), np.random.default_rng(seeds.sampling)),
            )
        stream = state.stream
        generator = self._resumed_generator(stream, device, state.n_epochs)

        model = state.model.to(device)
        row_limit = self._row_limit(encoded, device)
        n_pool = pool_rows(row_limit)
        data = self._data(
            encoded,
            device,
            None if row_limit is None else max(1, row_limit - n_pool),
            weights=sample_weight,
        )
        reservoir = stream.reservoir.update(encoded).table
        pool = self._data(reservoir, device, n_pool).marginal_pool(n_pool, generator)
        run = self.run_class(self, model, data, pool, None, generator, device)
        if params["monitor_representation"]:
            # The monitor appends to the history kept across calls (and
            # started here if an earlier fit or call did not monitor).
            state.representation_history = (
                state.representation_history or empty_representation_history()
            )
        diagnostics = RepresentationMonitor(
            pool, self.objective, stream.stream_seed, state.representation_history
        )

        start = time.perf_counter()
        stream.optimizer = run.epochs(
            params["partial_fit_epochs"],
            state.curves,
            monitor=diagnostics if params["monitor_representation"] else None,
            optimizer_state=stream.optimizer,
        )
        stream.generator = (str(device), generator.get_state())
        state.curves["validation"] = []
        state.device = str(device)
        state.fit_time += time.perf_counter() - start
        return self._finish(state, model, diagnostics)

    @staticmethod
    def _resumed_generator(stream, device, n_epochs):
        """The training stream on ``device``, where the last call left it."""
        generator = torch.Generator(device=device)
        if stream.generator is None:
            generator.manual_seed(stream.stream_seed)
        elif stream.generator[0] == str(device):
            generator.set_state(stream.generator[1])
        else:
            # Another device's generator state cannot be loaded: a new stream,
            # seeded by the epochs so far so that it does not replay the
            # first call's draws.
            sequence = np.random.SeedSequence([stream.stream_seed, n_epochs])
            generator.manual_seed(int(sequence.generate_state(1)[0]))
        return generator

    # -------------------------------------------------------------- benchmark
    def start(
        self, X: ArrayLike, categorical_mask: np.ndarray | None = None, seed: int = 0
    ) -> TrainingRun:
        """A :class:`TrainingRun` over the whole of ``X``, for step-by-step use.

        Networks and random stream are seeded with ``seed``; the data are
        held as ``fit`` holds them. The speed benchmark times
        :meth:`TrainingRun.train_steps` on it.
        """
        if categorical_mask is None:
            categorical_mask = np.zeros(X.shape[1], dtype=bool)
        device = resolve_device(self.params["device"])
        table_encoder = TabularEncoder(categorical_mask, self.params["max_categories"])
        encoded = table_encoder.fit(X).transform(X, dtype=np.float32)
        data = self._data(encoded, device, self._row_limit(encoded, device))
        model = self.build_model(table_encoder, seed).to(device)
        generator = torch.Generator(device=device).manual_seed(seed)
        pool = data.marginal_pool(pool_rows(None), generator)
        return self.run_class(
            self, model, data, pool, None, generator, device, encoded=encoded
        )


def row_weights(sample_weight: ArrayLike, which: str) -> np.ndarray:
    """``sample_weight`` of the ``which`` rows scaled to mean 1.

    Each row's terms in the loss are multiplied by its weight and averaged
    over the minibatch: with weights of mean 1 over the rows trained on, a
    minibatch's loss estimates the weighted mean of the rows' losses (and an
    epoch's recorded loss is that weighted mean). A row of weight 0 adds
    nothing to the loss; it is still drawn into minibatches, serves as a
    negative of the other rows and lends its values to the augmentation.

    Raises
    ------
    ValueError
        If every weight of these rows is zero.
    """
    weights = np.asarray(sample_weight, dtype=np.float64)
    peak = weights.max() if weights.size else 0.0
    if not peak > 0:
        raise ValueError(
            f"sample_weight is zero for every one of the {which} rows: at least "
            "one needs a positive weight."
        )
    weights = weights / peak  # no overflow in the mean
    return weights / weights.mean()
