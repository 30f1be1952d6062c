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
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from skssl import ContrastiveVAETransformer
from skssl._optimizers import LEARNING_RATE_SCHEDULES
from skssl.training import AUTO_EPOCH_RANGE, AUTO_ROWS_SEEN, epochs_for_rows_seen

from ._data import load_dataset
from ._methods import MethodContext, ssl_probe
from ._protocol import validation_split
from ._runner import limited_threads

RESULTS_FILE = "budget.csv"
FIGURE_FILE = "budget.png"
# The columns of RESULTS_FILE that say which cell a row belongs to.
CELL = ["dataset", "seed"]
_DEFAULTS = ContrastiveVAETransformer().get_params()


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

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``ROWS:LOW:HIGH[:SCHEDULE[:BATCH[:LR]]]``; "auto" is the
        transformer's ``max_epochs="auto"`` at its default schedule, batch
        size and learning rate."""
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
        for budget in budgets:
            pipeline = ssl_probe(max_epochs=budget.epochs(len(fit)), **budget.params)(
                context
            )
            start = time.perf_counter()
            pipeline.fit(X_fit, y_fit)
            seconds = time.perf_counter() - start
            predicted = pipeline.predict(dataset.X.iloc[validation])
            ssl = pipeline.named_steps["ssl"]
            rows.append(
                {
                    "dataset": ref.name,
                    "seed": seed,
                    "budget": budget.name,
                    "accuracy": float(np.mean(predicted == dataset.y[validation])),
                    "ssl_fit_seconds": ssl.fit_time_,
                    "fit_seconds": seconds,
                    "max_epochs": ssl.max_epochs_,
                    "n_epochs": ssl.n_iter_,
                    "n_fit": len(fit),
                }
            )
    return rows


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
