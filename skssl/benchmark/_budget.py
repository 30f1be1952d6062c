"""The time-to-accuracy study of the epoch budget (``skssl-benchmark budget``).

Each budget is a rule for ``max_epochs`` (``ROWS:LOW:HIGH``: the epochs that
show about ``ROWS`` training rows, clipped to ``[LOW, HIGH]``, as
``max_epochs="auto"`` does), a learning-rate schedule, a batch size and a
learning rate (by default the transformer's, scaled by the square root of the
batch size's ratio to the default batch size, the rule for Adam of arXiv
2205.10287). Per dataset and seed, the transformer is fitted under every
budget back to back in one worker, so that a slow spell of a shared machine
falls on all budgets of a cell alike, on the validation protocol's fit rows
(never the test rows), then probed on its validation rows as
``skssl-benchmark cc18 --validation --methods ssl`` probes.

A budget may end in a stopping rule, ``BUDGET+SIGNAL:THRESHOLD:PATIENCE``:
stop after PATIENCE consecutive epochs whose signal is below THRESHOLD. The
budgets of a cell that share everything but their rule are measured by one
fit under that budget, with the transformer's own training-loss plateau rule
disabled, which records each epoch's signals and weights. Each rule's
stopping epoch is read off the record, and the weights of that epoch are
probed. The rules only look back, so a fit that stopped there would have
trained exactly those weights. The budget without a rule is read off the same
record, with the transformer's own rule (``tol``, ``n_iter_no_change``).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed

from skssl import ContrastiveVAETransformer, metrics
from skssl._diagnostics import RepresentationMonitor
from skssl._optimizers import LEARNING_RATE_SCHEDULES
from skssl.training import (
    AUTO_EPOCH_RANGE,
    AUTO_ROWS_SEEN,
    TrainingRun,
    TrainingSession,
    _EarlyStopping,
    epochs_for_rows_seen,
)

from ._data import load_dataset
from ._methods import MethodContext, probe_accuracy, ssl_probe, ssl_transformer
from ._protocol import validation_split
from ._runner import limited_threads

RESULTS_FILE = "budget.csv"
FIGURE_FILE = "budget.png"
# The columns of RESULTS_FILE that say which cell a row belongs to.
CELL = ["dataset", "seed"]
_DEFAULTS = ContrastiveVAETransformer().get_params()


#: The signals of a stopping rule, each a value per epoch (see
#: :class:`EpochRecord`).
STOPPING_SIGNALS = ("loss", "change", "au")


@dataclass(frozen=True)
class StoppingRule:
    """Stop after ``patience`` consecutive epochs whose signal is below
    ``threshold``.

    The signals, each a cheap by-product of an epoch (:class:`EpochRecord`):

    - "loss": the training loss's improvement on the best earlier epoch,
      relative to that best (a relative ``tol`` of the plateau rule);
    - "change": ``1 - linear CKA`` (arXiv 1905.00414) between this epoch's
      and the previous epoch's hidden representation (what ``transform``
      returns) of a fixed set of training rows;
    - "au": the larger change, from the previous epoch, of the alignment and
      the uniformity (arXiv 2005.10242) of the posterior means of those rows
      under fixed augmentations.
    """

    signal: str
    threshold: float
    patience: int

    @classmethod
    def parse(cls, text: str) -> StoppingRule:
        """``SIGNAL:THRESHOLD:PATIENCE``."""
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in STOPPING_SIGNALS:
            raise ValueError(
                f"stopping rule {text!r} is not SIGNAL:THRESHOLD:PATIENCE with "
                f"SIGNAL one of {', '.join(STOPPING_SIGNALS)}"
            )
        try:
            threshold, patience = float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(
                f"stopping rule {text!r}: THRESHOLD is a number, PATIENCE an integer"
            ) from None
        if not threshold > 0 or patience < 1:
            raise ValueError(
                f"stopping rule {text!r}: need THRESHOLD > 0 and PATIENCE >= 1"
            )
        return cls(parts[0], threshold, patience)

    @property
    def name(self) -> str:
        return f"{self.signal}:{self.threshold:g}:{self.patience}"

    def stop_epoch(self, record: EpochRecord) -> int:
        """The epoch (from 1) after which the rule stops a fit recorded in
        ``record``: its last epoch if the rule never fires."""
        below = 0
        for epoch, value in enumerate(record.signal(self.signal), 1):
            below = below + 1 if value < self.threshold else 0
            if below >= self.patience:
                return epoch
        return record.n_epochs

    def seconds(self, record: EpochRecord, epoch: int) -> float:
        """Training seconds up to the end of ``epoch``, with the signal's."""
        return record.seconds(epoch) + sum(
            record.signal_seconds[self.signal][: epoch + 1]
        )


@dataclass(frozen=True)
class Budget:
    """An epoch-budget rule and a learning-rate schedule.

    Attributes
    ----------
    rows_seen : int
    min_epochs, max_epochs : int
    schedule : str
        A ``learning_rate_schedule`` of the transformer.
    batch_size : int
    learning_rate : float or None
        None: the transformer's default, scaled to ``batch_size``.
    """

    rows_seen: int
    min_epochs: int
    max_epochs: int
    schedule: str = _DEFAULTS["learning_rate_schedule"]
    batch_size: int = _DEFAULTS["batch_size"]
    learning_rate: float | None = None
    stopping: StoppingRule | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``ROWS:LOW:HIGH[:SCHEDULE[:BATCH[:LR]]][+RULE]``; "auto" is the
        transformer's ``max_epochs="auto"`` at its default schedule, batch
        size and learning rate. RULE is a :class:`StoppingRule`'s
        ``SIGNAL:THRESHOLD:PATIENCE``."""
        text, plus, rule = text.partition("+")
        if plus:
            return replace(cls.parse(text), stopping=StoppingRule.parse(rule))
        if text == "auto":
            return cls(AUTO_ROWS_SEEN, *AUTO_EPOCH_RANGE)
        parts = text.split(":")
        if not 3 <= len(parts) <= 6:
            raise ValueError(
                f"budget {text!r} is not ROWS:LOW:HIGH[:SCHEDULE[:BATCH[:LR]]] "
                "(or auto)"
            )
        # The fields a budget leaves out take the class's defaults.
        parts += [None] * (6 - len(parts))
        rows_seen, low, high, schedule, batch_size, learning_rate = parts
        if learning_rate is not None:
            try:
                learning_rate = float(learning_rate)
            except ValueError:
                raise ValueError(f"budget {text!r}: LR is a number") from None
            if not learning_rate > 0:
                raise ValueError(f"budget {text!r}: need LR > 0")
        try:
            rows_seen, low, high = int(rows_seen), int(low), int(high)
            batch_size = cls.batch_size if batch_size is None else int(batch_size)
        except ValueError:
            raise ValueError(
                f"budget {text!r}: ROWS, LOW, HIGH and BATCH are integers"
            ) from None
        if not 1 <= low <= high or rows_seen < 1 or batch_size < 2:
            raise ValueError(
                f"budget {text!r}: need ROWS >= 1, 1 <= LOW <= HIGH and BATCH >= 2"
            )
        schedule = cls.schedule if schedule is None else schedule
        if schedule not in LEARNING_RATE_SCHEDULES:
            raise ValueError(
                f"budget {text!r}: schedule {schedule!r} is none of "
                f"{', '.join(LEARNING_RATE_SCHEDULES)}"
            )
        return cls(rows_seen, low, high, schedule, batch_size, learning_rate)

    @property
    def name(self) -> str:
        name = f"{self.rows_seen}:{self.min_epochs}:{self.max_epochs}:{self.schedule}"
        if self.learning_rate is not None:
            name += f":{self.batch_size}:{self.learning_rate:g}"
        elif self.batch_size != _DEFAULTS["batch_size"]:
            name += f":{self.batch_size}"
        if self.stopping is not None:
            name += f"+{self.stopping.name}"
        return name

    @property
    def params(self) -> dict:
        """The transformer's parameters, but ``max_epochs``."""
        learning_rate = self.learning_rate
        if learning_rate is None:
            ratio = self.batch_size / _DEFAULTS["batch_size"]
            learning_rate = _DEFAULTS["learning_rate"] * math.sqrt(ratio)
        return {
            "learning_rate_schedule": self.schedule,
            "batch_size": self.batch_size,
            "learning_rate": learning_rate,
        }

    def epochs(self, n_train: int) -> int:
        return epochs_for_rows_seen(
            n_train, self.rows_seen, (self.min_epochs, self.max_epochs)
        )


class EpochRecord:
    """What a fit's stopping rules may read, epoch by epoch.

    Index 0 of the representation signals' lists is the untrained networks';
    ``signal`` gives one value per trained epoch.

    Attributes
    ----------
    losses, epoch_seconds : list of float
        Each epoch's training loss and training seconds.
    snapshots : list of dict
        Each epoch's network weights (``state_dict``, copied).
    signal_seconds : dict
        Per signal, the seconds spent computing it at each observation.
    """

    def __init__(self):
        self.losses, self.epoch_seconds, self.snapshots = [], [], []
        self.change, self.alignment, self.uniformity = [], [], []
        self.signal_seconds = {name: [] for name in STOPPING_SIGNALS}
        self._monitor = self._hidden = None

    @property
    def n_epochs(self) -> int:
        return len(self.losses)

    def seconds(self, epoch: int) -> float:
        """Training seconds up to the end of ``epoch``."""
        return float(sum(self.epoch_seconds[:epoch]))

    def signal(self, name: str) -> list:
        """The signal ``name`` of :class:`StoppingRule`, one value per epoch."""
        if name == "loss":
            best = np.minimum.accumulate(self.losses)
            # Epoch 1 improves on nothing: it never counts as a plateau.
            return [np.inf] + [
                (before - loss) / abs(before)
                for before, loss in zip(best[:-1], self.losses[1:])
            ]
        if name == "change":
            return self.change
        return [
            max(abs(a - a_before), abs(u - u_before))
            for a_before, a, u_before, u in zip(
                self.alignment,
                self.alignment[1:],
                self.uniformity,
                self.uniformity[1:],
            )
        ]

    @torch.no_grad()
    def observe(self, run: TrainingRun):
        """Record the representation signals of ``run``'s current networks,
        on fixed rows and augmentations of its own random stream (the
        training's is not drawn from)."""
        if self._monitor is None:
            self._monitor = RepresentationMonitor(run.pool, run.objective, seed=0)
        monitor, model = self._monitor, run.model
        model.eval()
        start = time.perf_counter()
        clean = monitor.clean
        hidden = model.encoder.hidden_activations(
            clean.numeric, clean.observed, clean.categorical
        )
        if self._hidden is not None:
            self.change.append(1.0 - metrics.linear_cka(self._hidden, hidden))
        self._hidden = hidden
        middle = time.perf_counter()
        views = [monitor.embed(model, view) for view in monitor.views]
        self.alignment.append(metrics.alignment(*views))
        self.uniformity.append(metrics.uniformity(monitor.embed(model, clean)))
        end = time.perf_counter()
        self.signal_seconds["change"].append(middle - start)
        self.signal_seconds["au"].append(end - middle)
        self.signal_seconds["loss"].append(0.0)


class _RecordedRun(TrainingRun):
    """``fit``'s epoch loop, each epoch timed, observed and its weights kept.

    The observations change no training state, so the fit trains exactly as
    an unrecorded one.
    """

    def train_epoch(self, optimizer, epoch):
        record = self.session.record
        if epoch == 1:
            record.observe(self)  # the untrained networks
        start = time.perf_counter()
        values = super().train_epoch(optimizer, epoch)  # ends with a host sync
        record.epoch_seconds.append(time.perf_counter() - start)
        record.losses.append(values[0])
        record.observe(self)
        record.snapshots.append(
            {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        )
        return values


class _RecordedSession(TrainingSession):
    run_class = _RecordedRun

    def __init__(self, params, defaults, **kwargs):
        super().__init__(params, defaults, **kwargs)
        self.record = EpochRecord()


class _RecordedTransformer(ContrastiveVAETransformer):
    """The transformer, fitted by a :class:`_RecordedSession` (its record in
    ``record_``)."""

    def _session(self):
        session = _RecordedSession.from_estimator(self)
        self.record_ = session.record
        return session


def _plateau_epoch(record: EpochRecord) -> int:
    """Where the transformer's own training-loss plateau rule (its default
    ``tol`` and ``n_iter_no_change``) ends a fit recorded in ``record``."""
    stopping = _EarlyStopping(
        _DEFAULTS["tol"], _DEFAULTS["n_iter_no_change"], keep_best=False
    )
    for epoch, loss in enumerate(record.losses, 1):
        if stopping.update(loss, None):
            return epoch
    return record.n_epochs


def _cell(ref, seed, budgets, threads):
    """Every budget's fit and probe on one dataset and seed, back to back."""
    rows = []
    with limited_threads(threads), warnings.catch_warnings():
        # A short budget's ConvergenceWarning is what the study measures.
        warnings.simplefilter("ignore")
        dataset = load_dataset(ref)
        fit, validation = validation_split(dataset.y, seed)
        context = MethodContext(
            dataset.numeric_columns, dataset.categorical_columns, seed=seed
        )
        X_fit, y_fit = dataset.X.iloc[fit], dataset.y[fit]
        X_validation, y_validation = dataset.X.iloc[validation], dataset.y[validation]
        cell = {"dataset": ref.name, "seed": seed, "n_fit": len(fit)}
        groups = {}
        for budget in budgets:
            groups.setdefault(replace(budget, stopping=None), []).append(budget)
        for base, group in groups.items():
            if group == [base]:
                rows.append(
                    {
                        **cell,
                        **_fitted_budget(
                            base, context, X_fit, y_fit, X_validation, y_validation
                        ),
                    }
                )
            else:
                rows += [
                    {**cell, **row}
                    for row in _recorded_budgets(
                        base, group, context, X_fit, y_fit, X_validation, y_validation
                    )
                ]
    return rows


def _fitted_budget(budget, context, X_fit, y_fit, X_validation, y_validation):
    """A budget without a stopping rule, fitted as a user's fit would be."""
    pipeline = ssl_probe(max_epochs=budget.epochs(len(X_fit)), **budget.params)(context)
    start = time.perf_counter()
    pipeline.fit(X_fit, y_fit)
    seconds = time.perf_counter() - start
    ssl = pipeline.named_steps["ssl"]
    return {
        "budget": budget.name,
        "accuracy": float(np.mean(pipeline.predict(X_validation) == y_validation)),
        "ssl_fit_seconds": ssl.fit_time_,
        "fit_seconds": seconds,
        "max_epochs": ssl.max_epochs_,
        "n_epochs": ssl.n_iter_,
    }


def _recorded_budgets(base, group, context, X_fit, y_fit, X_validation, y_validation):
    """The budgets of ``group`` (``base``, with and without stopping rules)
    from one recorded fit under ``base``."""
    max_epochs = base.epochs(len(X_fit))
    ssl = ssl_transformer(
        context,
        estimator_class=_RecordedTransformer,
        max_epochs=max_epochs,
        # Never stops on the plateau: the rules are read off the record.
        n_iter_no_change=max_epochs + 1,
        **base.params,
    ).fit(X_fit)
    record = ssl.record_
    accuracy = {}
    for budget in group:
        if budget.stopping is None:
            epoch = _plateau_epoch(record)
            seconds = record.seconds(epoch)
        else:
            epoch = budget.stopping.stop_epoch(record)
            seconds = budget.stopping.seconds(record, epoch)
        if epoch not in accuracy:
            ssl.model_.load_state_dict(record.snapshots[epoch - 1])
            accuracy[epoch] = probe_accuracy(
                ssl.transform(X_fit),
                y_fit,
                ssl.transform(X_validation),
                y_validation,
                context.seed,
            )
        yield {
            "budget": budget.name,
            "accuracy": accuracy[epoch],
            "ssl_fit_seconds": seconds,
            "fit_seconds": float("nan"),
            "max_epochs": max_epochs,
            "n_epochs": epoch,
        }


def run_budget_study(refs, budgets, seeds, output_dir, n_jobs=1, threads=1):
    """Fit and probe every budget on every dataset and seed.

    Budgets already in ``output_dir/budget.csv`` for a dataset and seed are
    not rerun. Returns the results (one row per dataset, seed and budget).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / RESULTS_FILE
    done = set()
    if path.exists():
        done = set(pd.read_csv(path)[[*CELL, "budget"]].itertuples(index=False))
    cells = []
    for seed in seeds:
        for ref in sorted(refs, key=_file_size, reverse=True):
            todo = [b for b in budgets if (ref.name, seed, b.name) not in done]
            if todo:
                cells.append((ref, seed, todo))
    for rows in Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_cell)(ref, seed, todo, threads) for ref, seed, todo in cells
    ):
        frame = pd.DataFrame(rows)
        frame.to_csv(path, mode="a", header=not path.exists(), index=False)
    results = pd.read_csv(path)
    return results[results.budget.isin([budget.name for budget in budgets])]


def _file_size(ref):
    """Largest tables first, so that the workers' tail is short."""
    return Path(ref.location).stat().st_size if ref.source == "parquet" else 0


def pareto_table(results: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Mean validation accuracy and total fit time per budget.

    Over the cells every budget has. ``reference`` is the budget the
    differences and speed-ups are taken against; ``pareto`` marks the
    budgets no other beats on both accuracy and time.
    """
    n_budgets = results.budget.nunique()
    complete = results.groupby(CELL).budget.transform("nunique") == n_budgets
    results = results[complete]
    accuracy = results.pivot_table(index=CELL, columns="budget", values="accuracy")
    seconds = results.groupby("budget").ssl_fit_seconds.sum()
    per_dataset = accuracy.groupby(level="dataset").mean()
    change = per_dataset.sub(per_dataset[reference], axis=0) * 100
    table = pd.DataFrame(
        {
            "accuracy": accuracy.mean() * 100,
            "change": (accuracy.sub(accuracy[reference], axis=0)).mean() * 100,
            "worst_dataset_change": change.min(),
            "fit_seconds": seconds,
            "speed_up": seconds[reference] / seconds,
        }
    )
    table["pareto"] = [
        not any(
            (table.accuracy >= row.accuracy)
            & (table.fit_seconds <= row.fit_seconds)
            & ((table.accuracy > row.accuracy) | (table.fit_seconds < row.fit_seconds))
        )
        for row in table.itertuples()
    ]
    table.attrs["n_cells"] = len(accuracy)
    return table.sort_values("fit_seconds")


def pareto_markdown(table: pd.DataFrame, reference: str) -> str:
    lines = [
        f"{table.attrs['n_cells']} dataset x seed cells; changes against {reference}.",
        "",
        "| budget (rows:low:high:schedule) | accuracy | change | worst dataset "
        "| total fit s | speed-up | Pareto |",
        "|:--|--:|--:|--:|--:|--:|:-:|",
    ]
    for name, row in table.iterrows():
        lines.append(
            f"| {name} | {row.accuracy:.2f} | {row.change:+.2f} "
            f"| {row.worst_dataset_change:+.2f} | {row.fit_seconds:.0f} "
            f"| {row.speed_up:.2f}x | {'yes' if row.pareto else ''} |"
        )
    return "\n".join(lines)


def plot_pareto(table: pd.DataFrame, path, chosen: str | None = None):
    """Validation accuracy against total fit time, one point per budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    front = table[table.pareto].sort_values("fit_seconds")
    axes.plot(front.fit_seconds, front.accuracy, "-", color="0.7", zorder=1)
    for name, row in table.iterrows():
        marker = "*" if name == chosen else "o"
        axes.scatter(row.fit_seconds, row.accuracy, marker=marker, s=80, zorder=2)
        axes.annotate(
            name,
            (row.fit_seconds, row.accuracy),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    axes.set_xscale("log")
    axes.set_xlabel("total transformer fit time over the cells (s, log scale)")
    axes.set_ylabel("mean validation accuracy (%)")
    axes.set_title("Epoch budget: validation accuracy against fit time")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
