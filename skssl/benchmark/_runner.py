"""Scheduling: which evaluations remain, run them in parallel, store each.

Each (dataset, method, seed) is one joblib task, which evaluates the label
fractions of it that remain (fitting the label-free steps, the SSL
transformer among them, once for all of them); results come back as tasks
finish (in any order) and are appended to the results folder at once.
Workers load a dataset on first use and keep the last few loaded, so a
worker that gets several tasks of the same dataset reads it once.
"""

import contextlib
import functools
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

import joblib
import torch
from threadpoolctl import threadpool_limits

from skssl import ContrastiveVAETransformer

from ._data import load_dataset
from ._methods import get_method
from ._protocol import (
    ALL_LABELS,
    HOLDOUT,
    SPLITS,
    Outcome,
    evaluate_safely,
    fraction_key,
)
from ._store import ResultStore


@dataclass
class BenchmarkConfig:
    """What to run.

    Attributes
    ----------
    datasets : list of DatasetRef
    methods : list of str
    seeds : list of int
    output_dir : Path
    split : {"holdout", "openml", "validation"}
    ssl_params : dict
        Estimator parameters applied to every SSL-based method.
    n_jobs : int
        Parallel workers (joblib semantics: -1 uses all cores).
    progress : bool
        Show a progress bar on stderr.
    threads_per_job : int or None
        Threads each evaluation may use (torch, BLAS and OpenMP); None keeps
        the libraries' defaults (all cores, or each of ``n_jobs`` workers
        its share of them).
    label_fractions : list of float
        Shares of the training labels the methods see (the label-fraction
        protocol); ``[1.0]``, every label, by default.
    """

    datasets: list
    methods: list
    seeds: list
    output_dir: Path = Path("benchmark_results")
    split: str = HOLDOUT
    ssl_params: dict = field(default_factory=dict)
    n_jobs: int = 1
    progress: bool = True
    threads_per_job: int = 1
    label_fractions: list = field(default_factory=lambda: [ALL_LABELS])


@dataclass
class RunStats:
    """What a run did.

    Attributes
    ----------
    n_skipped : int
        Evaluations already in the results folder.
    n_computed : int
        Evaluations run and stored now.
    failures : list of Outcome
        Evaluations that raised (not stored as results).
    not_applicable : list of Outcome
        Evaluations skipped by their method (stored, with the reason), among
        ``n_computed``.
    wall_seconds : float
    """

    n_skipped: int = 0
    n_computed: int = 0
    failures: list = field(default_factory=list)
    not_applicable: list = field(default_factory=list)
    wall_seconds: float = 0.0


def effective_ssl_params(ssl_params):
    """All parameters of the base SSL transformer (defaults + CLI params).

    Recorded with the results so that a change of the estimator's defaults
    or of ``--ssl-params`` is noticed when resuming.
    """
    params = ContrastiveVAETransformer(**ssl_params).get_params()
    params.pop("random_state")
    return params


@functools.lru_cache(maxsize=2)
def _cached_dataset(ref):
    return load_dataset(ref)


@contextlib.contextmanager
def limited_threads(n_threads):
    """Cap torch, BLAS and OpenMP threads to ``n_threads`` (None: no cap).

    Small models gain little from threads, and when cores are shared
    (parallel jobs, other users) OpenMP threads waiting for each other can
    slow fits down by orders of magnitude.
    """
    if n_threads is None:
        yield
        return
    torch_threads = torch.get_num_threads()
    with threadpool_limits(limits=n_threads):
        torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(torch_threads)


def _run_task(
    ref, method, seed, split, ssl_params, threads_per_job=None, fractions=(1.0,)
):
    """Worker: the evaluations of one (dataset, method, seed), never raising.

    Returns a list of :class:`Outcome`, one per label fraction.
    """
    try:
        dataset = _cached_dataset(ref)
    except Exception:  # noqa: BLE001 - reported as this task's failure
        error = traceback.format_exc()
        return [
            Outcome(
                key=(ref.dataset_id, method, int(seed), split, fraction_key(f)),
                error=error,
            )
            for f in fractions
        ]
    with limited_threads(threads_per_job):
        return evaluate_safely(dataset, method, seed, split, ssl_params, fractions)


def _return_as():
    # Unordered results (joblib >= 1.4) are stored as soon as they finish.
    major, minor = (int(part) for part in joblib.__version__.split(".")[:2])
    return "generator_unordered" if (major, minor) >= (1, 4) else "generator"


def label_fractions(config):
    """The distinct label fractions of ``config``, as results store them."""
    return list(dict.fromkeys(fraction_key(f) for f in config.label_fractions))


def pending_tasks(config, finished):
    """The tasks of ``config`` with evaluations not in ``finished``.

    Returns
    -------
    tasks : list of tuple
        ``(ref, method, seed, fractions)``, ``fractions`` being the label
        fractions of that (dataset, method, seed) still to evaluate.
    """
    tasks = []
    for ref in config.datasets:
        for seed in config.seeds:
            for method in config.methods:
                fractions = [
                    fraction
                    for fraction in label_fractions(config)
                    if (ref.dataset_id, method, int(seed), config.split, fraction)
                    not in finished
                ]
                if fractions:
                    tasks.append((ref, method, seed, fractions))
    return tasks


def count_evaluations(tasks):
    """Evaluations in ``tasks`` (of :func:`pending_tasks`)."""
    return sum(len(fractions) for *_, fractions in tasks)


def run_benchmark(config):
    """Run the evaluations of ``config`` that are not in its results folder.

    Parameters
    ----------
    config : BenchmarkConfig

    Returns
    -------
    stats : RunStats
    """
    from tqdm.auto import tqdm  # the "benchmark" extra

    if config.split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {config.split!r}.")
    for method in config.methods:
        get_method(method)  # fail on a typo before hours of work
    store = ResultStore(config.output_dir)
    store.check_config({"ssl_params": effective_ssl_params(config.ssl_params)})

    finished = store.finished_keys()
    tasks = pending_tasks(config, finished)
    n_todo = count_evaluations(tasks)
    n_total = (
        len(config.datasets)
        * len(config.seeds)
        * len(config.methods)
        * len(label_fractions(config))
    )
    stats = RunStats(n_skipped=n_total - n_todo)
    # A dataset cached by an earlier call in this process may have changed.
    _cached_dataset.cache_clear()
    start = perf_counter()
    progress = tqdm(
        total=n_todo,
        desc="skssl-benchmark",
        unit="fit",
        disable=not config.progress or not tasks,
        file=sys.stderr,
    )
    with progress:
        outcomes = joblib.Parallel(
            n_jobs=config.n_jobs, return_as=_return_as(), batch_size=1
        )(
            joblib.delayed(_run_task)(
                ref,
                method,
                seed,
                config.split,
                config.ssl_params,
                config.threads_per_job,
                fractions,
            )
            for ref, method, seed, fractions in tasks
        )
        for task_outcomes in outcomes:
            for outcome in task_outcomes:
                _record(outcome, store, stats, progress)
                progress.update()
    stats.wall_seconds = perf_counter() - start
    return stats


def _record(outcome, store, stats, progress):
    """Store one outcome, count it and report it on the progress bar."""
    store.append(outcome)
    dataset_id, method, seed, _, fraction = outcome.key
    where = f"{dataset_id} {method} seed={seed}"
    if fraction != ALL_LABELS:
        where += f" labels={fraction:g}"
    if outcome.row is None:
        stats.failures.append(outcome)
        last_line = outcome.error.strip().splitlines()[-1]
        progress.write(f"FAILED {where}: {last_line}", file=sys.stderr)
        return
    stats.n_computed += 1
    if outcome.row.get("skipped"):
        stats.not_applicable.append(outcome)
        progress.write(f"SKIPPED {where}: {outcome.row['skipped']}", file=sys.stderr)
        return
    progress.set_postfix_str(
        f"{outcome.row['dataset']} {method} seed={seed} "
        f"acc={outcome.row['accuracy']:.3f}"
    )
