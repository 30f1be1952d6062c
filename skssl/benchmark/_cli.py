"""The ``skssl-benchmark`` command line."""

import argparse
import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pandas as pd

from skssl.training import resolve_device

from ._budget import (
    FIGURE_FILE,
    Budget,
    pareto_markdown,
    pareto_table,
    plot_pareto,
    run_budget_study,
)
from ._data import (
    CC18_SUITE_ID,
    list_demo_datasets,
    list_openml_suite,
    read_manifest,
    select_datasets,
)
from ._methods import (
    LABEL_FRACTION_METHODS,
    METHODS,
    SEMI_SUPERVISED_METHODS,
    canonical_method_name,
    check_ssl_param_names,
    learning_rate_method,
)
from ._plots import write_figures
from ._protocol import (
    ALL_LABELS,
    HOLDOUT,
    MIN_LABELED_PER_CLASS,
    OPENML,
    SPLITS,
    VALIDATION,
    fraction_key,
    result_key,
)
from ._report import summary_text, write_summary
from ._runner import (
    BenchmarkConfig,
    count_evaluations,
    label_fractions,
    pending_tasks,
    run_benchmark,
)
from ._speed import (
    ACCURACY_DATASETS,
    DEFAULT_ACCURACY_DATASET,
    DEFAULT_COLUMNS,
    DEFAULT_ROWS,
    TARGET_FRACTION,
    run_speed,
)
from ._store import ResultStore

DEMO_METHODS = ["raw", "pca", "ssl", "ssl+raw", "hgb"]
DEFAULT_SEEDS = [0, 1, 2]
DEFAULT_OUTPUT = Path("benchmark_results")

_DESCRIPTION = """\
Benchmark ContrastiveVAETransformer features with a linear probe.

Each dataset is split 80/20 (stratified) per seed; numeric features are
z-scored (mean-imputed) and categorical ones one-hot encoded, learned on the
training part only; the probe is a logistic regression whose C is chosen by
3-fold cross-validation on the training part. The SSL transformer gets the raw
table and its features are standardised before the probe.

Finished rows of OUTPUT/results.csv are never recomputed: rerun the same
command to resume an interrupted run.

To choose settings, use --validation: it fits on 75 % of each training part
and scores the other 25 %, never reading the test rows; then compare the
chosen settings once on the test splits.

--label-fraction F [F ...] hides labels: per split only a stratified share F
of the training rows keeps its label (at least 3 per class), the same rows
for every method. Steps that use no labels (encodings, the SSL transformer,
fitted once for all fractions) still see every training row, supervised
steps the labeled ones; semi-supervised methods (self-training,
label-spreading, classifier) get every training row with the others'
labels hidden. The scored rows are those of the protocol without it (F = 1).

Needs the benchmark extra (openml, matplotlib, tqdm, pyarrow, skorch):
pip install "skssl[benchmark]".
"""

_METHODS_HELP = textwrap.fill(
    f"methods: {', '.join(METHODS)}; ssl[key=value,...] and "
    "ssl+raw[key=value,...] (those methods with ContrastiveVAETransformer "
    "parameters, e.g. 'ssl[temperature=0.5,self_labeling=0.5]' or "
    "'ssl[learning_rate=0.001]', which --learning-rates also makes); "
    "classifier[key=value,...] (ContrastiveVAEClassifier parameters, e.g. "
    "'classifier[supervised_weight=0.5]').",
    width=79,
)
# What the benchmark commands import beyond skssl's own dependencies, all in
# the "benchmark" extra; the speed benchmark runs without its skorch
# reference when skorch is missing.
EXTRA_INSTALL = 'pip install "skssl[benchmark]"'

_EPILOG = f"""\
{_METHODS_HELP}

examples:
  skssl-benchmark demo
  skssl-benchmark cc18 --n-jobs 4
  skssl-benchmark cc18 --data-dir /path/to/cc18 --datasets wdbc credit_g
  skssl-benchmark cc18 --methods ssl --learning-rates 0.001 0.002 0.003 0.005
  skssl-benchmark demo --methods raw ssl --ssl-params '{{"max_epochs": 50}}'
  skssl-benchmark cc18 --validation --methods raw ssl 'ssl[temperature=0.5]'
  skssl-benchmark cc18 --data-dir DIR --label-fraction 0.05 0.1 0.25 1
  skssl-benchmark report --output benchmark_results
  skssl-benchmark speed --rows 20000 --columns 50 --batch-sizes 256 1024
  skssl-benchmark budget --data-dir DIR --budgets auto 150000:5:100:cosine
"""


def _label_fraction(text):
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return fraction_key(value)


def _json_object(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"a\": 1}'")
    return value


def build_parser():
    """The argument parser of ``skssl-benchmark``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    # The datasets, seeds, workers and output folder, of every study command.
    selection = argparse.ArgumentParser(add_help=False)
    selection.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=DEFAULT_SEEDS,
        metavar="SEED",
        help="seeds of the repeated splits and models (default: 0 1 2); with "
        "--openml-splits, the OpenML fold indices",
    )
    selection.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="parallel worker processes; each runs one dataset x method x seed "
        "at a time (default: 1; -1: all cores)",
    )
    selection.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="results folder (default: ./benchmark_results)",
    )
    selection.add_argument(
        "--datasets",
        nargs="+",
        metavar="NAME_OR_ID",
        help="run only these datasets (names or dataset ids)",
    )
    selection.add_argument(
        "--max-datasets",
        type=int,
        metavar="N",
        help="run only the first N (selected) datasets",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[selection])
    common.add_argument(
        "--methods",
        nargs="+",
        metavar="METHOD",
        help="methods to run (default: the registered methods but "
        f"{' '.join(SEMI_SUPERVISED_METHODS)} for cc18; {' '.join(DEMO_METHODS)} "
        f"for demo; with --label-fraction, {' '.join(LABEL_FRACTION_METHODS)})",
    )
    common.add_argument(
        "--learning-rates",
        nargs="+",
        type=float,
        default=[],
        metavar="LR",
        help="also run the SSL model at these learning rates (the methods "
        "ssl[learning_rate=LR])",
    )
    common.add_argument(
        "--ssl-params",
        type=_json_object,
        default={},
        metavar="JSON",
        help="ContrastiveVAETransformer parameters for every SSL-based method, "
        'e.g. \'{"max_epochs": 50, "device": "cpu"}\'',
    )
    common.add_argument(
        "--validation",
        action="store_true",
        help="score on a validation part of each training part (25 %%) instead "
        "of the test part, which is not read: for choosing settings",
    )
    common.add_argument(
        "--label-fraction",
        nargs="+",
        type=_label_fraction,
        metavar="F",
        help="the label-fraction protocol: supervised steps see only this "
        "share of the training labels (stratified, at least "
        f"{MIN_LABELED_PER_CLASS} per class, the same rows for every method), "
        "label-free steps all training rows; e.g. 0.05 0.1 0.25 1 (default: 1, "
        "every label)",
    )
    common.add_argument(
        "--threads-per-job",
        type=int,
        default=1,
        metavar="N",
        help="threads (torch, BLAS, OpenMP) of each evaluation (default: 1; 0: "
        "the libraries' defaults). Small models gain little from threads and "
        "can slow down by orders of magnitude when cores are shared: "
        "parallelise with --n-jobs instead",
    )
    common.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar"
    )

    parser = argparse.ArgumentParser(
        prog="skssl-benchmark",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cc18 = commands.add_parser(
        "cc18",
        parents=[common],
        help="the OpenML-CC18 suite (from OpenML, or a local copy)",
        description="OpenML-CC18 (study 99) through the openml package and its "
        "cache, or from a local parquet folder with --data-dir.",
    )
    cc18.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="read the datasets from DIR (parquet files + manifest.json) "
        "instead of OpenML",
    )
    cc18.add_argument(
        "--openml-splits",
        action="store_true",
        help="evaluate on the OpenML tasks' own 10-fold splits (fold = seed) "
        "instead of stratified 80/20 splits",
    )
    commands.add_parser(
        "demo",
        parents=[common],
        help="offline datasets shipped with scikit-learn (wdbc, digits, wine, iris)",
        description="A few minutes on a laptop: wdbc (breast cancer), digits, "
        "wine and iris from scikit-learn.",
    )
    budget = commands.add_parser(
        "budget",
        parents=[selection],
        help="time-to-accuracy study of the epoch budget, on validation rows",
        description="Fits ContrastiveVAETransformer under each --budgets rule "
        "(ROWS:LOW:HIGH[:SCHEDULE[:BATCH[:LR]]]: the epochs that show about "
        "ROWS training rows, clipped to [LOW, HIGH], a learning_rate_schedule, "
        "a batch size and a learning rate, by default the transformer's scaled "
        "by the square root of BATCH / 256; 'auto' is max_epochs='auto' with "
        "the transformer's defaults) on the validation protocol's fit rows of each "
        "dataset and seed, all budgets of a cell back to back in one worker, "
        "and probes each on the validation rows (the test rows are never "
        "read). A budget may end in a stopping rule, +SIGNAL:THRESHOLD:PATIENCE: "
        "stop after PATIENCE epochs in a row whose SIGNAL is below THRESHOLD, "
        "SIGNAL being loss (the training loss's relative improvement), change "
        "(1 - linear CKA between consecutive epochs' representations of 1,024 "
        "training rows) or au (the change of their alignment and uniformity); "
        "the budgets that differ only by their rules share one recorded fit, "
        "read off epoch by epoch. Writes OUTPUT/budget.csv, prints the Pareto "
        "table (mean "
        "accuracy, total fit time, speed-up against the first budget) and "
        "draws OUTPUT/budget.png.",
    )
    budget.add_argument(
        "--budgets",
        nargs="+",
        default=["auto"],
        metavar="BUDGET",
        help="budget rules, the first the reference (default: auto)",
    )
    budget.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="read the datasets from DIR (parquet files + manifest.json) "
        "instead of OpenML-CC18",
    )
    speed = commands.add_parser(
        "speed",
        help="training and transform throughput against a DataLoader reference",
        description="Training rows/s (skssl's loop, a standard "
        "DataLoader/TensorDataset loop and a skorch NeuralNet with the same "
        "network and objective), "
        "transform rows/s, peak memory and achieved FLOP rate against the "
        "measured matrix-multiply rate, per table size and batch size. Each "
        "configuration runs in a fresh process. Then one time-to-accuracy line: "
        "a default ContrastiveVAETransformer fitted on a dataset shipped with "
        "scikit-learn: the training seconds until its held-out loss came "
        f"within {TARGET_FRACTION:.0%} of its final value (as a share of its "
        "decrease from the untrained networks' value), and the linear probe's "
        "held-out accuracy.",
    )
    speed.add_argument(
        "--rows", type=int, nargs="+", default=list(DEFAULT_ROWS), metavar="N"
    )
    speed.add_argument(
        "--columns", type=int, nargs="+", default=list(DEFAULT_COLUMNS), metavar="D"
    )
    speed.add_argument("--batch-sizes", type=int, nargs="+", default=[256], metavar="B")
    speed.add_argument("--device", default="auto", help="default: CUDA if available")
    speed.add_argument(
        "--steps",
        type=int,
        default=50,
        help="training steps per timed round (default: 50)",
    )
    speed.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="timed rounds per loop, taken in turns; the median is reported "
        "(default: 5)",
    )
    speed.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads in each measurement (default: torch's default)",
    )
    speed.add_argument(
        "--mixed-precision",
        action="store_true",
        help="train skssl's loop and the time-to-accuracy fit with "
        "mixed_precision=True (bfloat16 matrix products); the references stay "
        "in float32",
    )
    speed.add_argument(
        "--compile",
        action="store_true",
        help="also time skssl's step with its networks under torch.compile "
        "against the eager step, in turns (one line per configuration)",
    )
    speed.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the reference loops (DataLoader and skorch)",
    )
    speed.add_argument(
        "--accuracy-dataset",
        choices=sorted(ACCURACY_DATASETS),
        default=DEFAULT_ACCURACY_DATASET,
        help="dataset of the time-to-accuracy line (default: "
        f"{DEFAULT_ACCURACY_DATASET}; digits takes about 4 times longer)",
    )
    speed.add_argument(
        "--no-accuracy",
        action="store_true",
        help="skip the time-to-accuracy line",
    )
    report = commands.add_parser(
        "report",
        help="rewrite summary.md and the figures from all rows of results.csv",
    )
    report.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    report.add_argument(
        "--split",
        choices=SPLITS,
        help="which rows to summarise when the folder holds several kinds of "
        "split (test holdout, OpenML folds, validation)",
    )
    return parser


def _default_methods(args):
    """The methods run when --methods is not given."""
    if args.label_fraction:
        return list(LABEL_FRACTION_METHODS)
    if args.command == "demo":
        return list(DEMO_METHODS)
    return [method for method in METHODS if method not in SEMI_SUPERVISED_METHODS]


def _methods(args):
    """Requested methods, learning rates included, each named once."""
    methods = list(args.methods or _default_methods(args))
    methods += [learning_rate_method(lr) for lr in args.learning_rates]
    # "ssl[learning_rate=1e-3]" names the same method as --learning-rates 0.001.
    return list(dict.fromkeys(canonical_method_name(method) for method in methods))


def _required_modules(args):
    """The modules of the "benchmark" extra that ``args``' command imports."""
    if args.command == "speed":
        return []
    if args.command == "report":
        return ["matplotlib"]
    required = ["matplotlib", "tqdm"]
    if args.command == "budget":
        return ["matplotlib", "openml" if args.data_dir is None else "pyarrow"]
    if args.command == "cc18":
        required.append("openml" if args.data_dir is None else "pyarrow")
    return required


def _missing_extra(args):
    """One line naming the missing modules and the install command, or None."""
    missing = [
        name
        for name in _required_modules(args)
        if importlib.util.find_spec(name) is None
    ]
    if not missing:
        return None
    return (
        f"skssl-benchmark: error: {args.command} needs {', '.join(missing)}, "
        f"which {'is' if len(missing) == 1 else 'are'} not installed; install the "
        f"benchmark extra: {EXTRA_INSTALL}"
    )


def _run_budget_study(args, parser):
    try:
        budgets = list(dict.fromkeys(map(Budget.parse, args.budgets)))
    except ValueError as exc:
        parser.error(f"--budgets: {exc}")
    selected = _selected_datasets(args)
    if selected is None:
        return 2
    refs, source = selected
    print(
        f"{len(refs)} datasets ({source}) x {len(args.seeds)} seeds x "
        f"{len(budgets)} budgets, on validation rows.",
        file=sys.stderr,
    )
    results = run_budget_study(
        refs, budgets, list(dict.fromkeys(args.seeds)), args.output, args.n_jobs
    )
    reference = budgets[0].name
    table = pareto_table(results, reference)
    print(pareto_markdown(table, reference))
    plot_pareto(table, args.output / FIGURE_FILE)
    return 0


def _selected_datasets(args):
    """``(refs, source)`` of :func:`_dataset_refs`; None, the error printed,
    when they cannot be read or none is selected."""
    try:
        refs, source = _dataset_refs(args)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"skssl-benchmark: error: {exc}", file=sys.stderr)
        return None
    if not refs:
        print("skssl-benchmark: error: no datasets selected", file=sys.stderr)
        return None
    return refs, source


def _dataset_refs(args):
    """The selected datasets and a line describing their source."""
    if args.command == "demo":
        refs, source = list_demo_datasets(), "scikit-learn demo datasets"
    elif args.data_dir is not None:
        refs = read_manifest(args.data_dir)
        source = f"OpenML-CC18, local copy in {args.data_dir}"
    else:
        print("Reading the OpenML-CC18 suite (openml cache)...", file=sys.stderr)
        try:
            refs = list_openml_suite(CC18_SUITE_ID)
        except Exception as exc:  # noqa: BLE001 - network, server or cache errors
            raise RuntimeError(
                f"Could not get OpenML-CC18 from OpenML ({type(exc).__name__}: "
                f"{exc}). Without internet, use a local copy (--data-dir) or "
                "`skssl-benchmark demo`."
            ) from exc
        source = f"OpenML-CC18 (OpenML study {CC18_SUITE_ID})"
    return select_datasets(refs, args.datasets, args.max_datasets), source


def _check_speed_args(args, parser):
    """Reject sizes and counts that cannot be measured (exits with status 2)."""
    for option, values in (
        ("--rows", args.rows),
        ("--columns", args.columns),
        ("--batch-sizes", args.batch_sizes),
        ("--steps", [args.steps]),
        ("--rounds", [args.rounds]),
        ("--threads", [] if args.threads is None else [args.threads]),
    ):
        if any(value < 1 for value in values):
            parser.error(f"{option} must be at least 1")
    try:
        resolve_device(args.device)
    except ValueError as exc:  # e.g. cuda asked for, none available
        parser.error(f"--device: {exc}")


def _check_args(args, parser):
    """Reject invalid combinations before any work (exits with status 2)."""
    if args.max_datasets is not None and args.max_datasets < 1:
        parser.error("--max-datasets must be at least 1")
    if args.threads_per_job < 0:
        parser.error("--threads-per-job must be non-negative")
    if any(seed < 0 for seed in args.seeds):
        parser.error("--seeds must be non-negative")
    if any(lr <= 0 for lr in args.learning_rates):
        parser.error("--learning-rates must be positive")
    if getattr(args, "openml_splits", False) and args.validation:
        parser.error("--openml-splits and --validation are exclusive")
    if getattr(args, "openml_splits", False) and args.data_dir is not None:
        parser.error(
            "--openml-splits needs the OpenML tasks, not a --data-dir copy "
            "(whose rows may differ from OpenML's)"
        )
    try:
        check_ssl_param_names(args.ssl_params)
    except ValueError as exc:
        parser.error(f"--ssl-params: {exc}")


def _report(store, results, curves, failures, description, wall_seconds, skipped=()):
    """Write summary.md and the figures; print the summary tables."""
    figures = write_figures(results, curves, store.output_dir) if len(results) else []
    summary_path = store.output_dir / "summary.md"
    write_summary(
        summary_path,
        results,
        run_description=description,
        wall_seconds=wall_seconds,
        failures=failures,
        figures=figures,
        skipped=skipped,
    )
    if len(results):
        print(summary_text(results))
    print()
    print(f"Results: {store.results_path}")
    print(f"Summary: {summary_path}")
    if figures:
        print(f"Figures: {', '.join(str(path) for path in figures)}")


def _unresolved_failures(store, finished, selected):
    """The last recorded failure of each selected key that has no result."""
    latest = {}
    for record in store.read_failures():
        key = result_key(record)
        if key not in finished and selected(key):
            latest[key] = record
    return list(latest.values())


def _rewrite_report(args):
    """The ``report`` command: summarise every row of the results folder."""
    store = ResultStore(args.output)
    results = store.read_results()
    if results.empty:
        print(f"No results in {store.results_path}.", file=sys.stderr)
        return 1
    splits = sorted(results["split"].unique())
    split = args.split
    if split is None and len(splits) > 1:
        print(
            f"skssl-benchmark: error: {store.results_path} holds rows of "
            f"several splits ({', '.join(splits)}); choose one with --split.",
            file=sys.stderr,
        )
        return 2
    split = split or splits[0]
    results, curves, failures, skipped = _selected_rows(
        store, results, lambda key: key[3] == split
    )
    description = [f"All rows of {store.results_path} with split {split}."]
    _report(store, results, curves, failures, description, 0.0, skipped)
    return 0


def main(argv=None):
    """Run ``skssl-benchmark``.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success, 1 when some evaluations failed, 2 on a usage error or
        when a package of the "benchmark" extra is missing.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = _missing_extra(args)
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    if args.command == "report":
        return _rewrite_report(args)
    if args.command == "budget":
        return _run_budget_study(args, parser)
    if args.command == "speed":
        _check_speed_args(args, parser)
        run_speed(
            rows=args.rows,
            columns=args.columns,
            batch_sizes=args.batch_sizes,
            device=args.device,
            n_steps=args.steps,
            n_rounds=args.rounds,
            reference=not args.no_reference,
            threads=args.threads,
            params={"mixed_precision": args.mixed_precision},
            accuracy=None if args.no_accuracy else args.accuracy_dataset,
            compiled=args.compile,
        )
        return 0
    _check_args(args, parser)
    try:
        methods = _methods(args)
    except ValueError as exc:  # a malformed ssl[...] setting
        parser.error(f"--methods: {exc}")
    selected = _selected_datasets(args)
    if selected is None:
        return 2
    refs, source = selected

    split = HOLDOUT
    if getattr(args, "openml_splits", False):
        split = OPENML
    elif args.validation:
        split = VALIDATION
    config = BenchmarkConfig(
        datasets=refs,
        methods=methods,
        seeds=list(dict.fromkeys(args.seeds)),
        output_dir=args.output,
        split=split,
        ssl_params=args.ssl_params,
        n_jobs=args.n_jobs,
        progress=not args.no_progress,
        threads_per_job=args.threads_per_job or None,
        label_fractions=sorted(set(args.label_fraction or [ALL_LABELS])),
    )
    try:
        store = ResultStore(config.output_dir)
        n_todo = count_evaluations(pending_tasks(config, store.finished_keys()))
        fractions = label_fractions(config)
        per_fraction = (
            f" x {len(fractions)} label fractions" if fractions != [ALL_LABELS] else ""
        )
        print(
            f"{len(refs)} datasets x {len(config.methods)} methods x "
            f"{len(config.seeds)} seeds{per_fraction}: {n_todo} evaluations to "
            f"run, the others are in {config.output_dir}.",
            file=sys.stderr,
        )
        stats = run_benchmark(config)
    except ValueError as exc:
        print(f"skssl-benchmark: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Finished evaluations are saved; rerun the same "
            "command to resume.",
            file=sys.stderr,
        )
        return 130

    results, curves, failures, skipped = _rows_of_run(store, config)
    split_text = {
        OPENML: "OpenML task folds (seed = fold index)",
        HOLDOUT: "stratified 80/20 holdout per seed",
        VALIDATION: "VALIDATION: 75/25 of each 80 % training part (test rows not read)",
    }[split]
    description = [
        f"Data: {source}; {len(refs)} datasets.",
        f"Methods: {', '.join(config.methods)}.",
        f"Seeds: {' '.join(map(str, config.seeds))}; split: {split_text}.",
        _fractions_text(config),
        f"SSL parameters given: {json.dumps(config.ssl_params)} (estimator "
        "defaults otherwise; all of them are in run_config.json).",
        f"This run: {stats.n_computed} evaluations computed, {stats.n_skipped} "
        f"reused, {len(stats.failures)} failed.",
    ]
    _report(store, results, curves, failures, description, stats.wall_seconds, skipped)
    if failures:
        print(
            f"{len(failures)} evaluation(s) failed; see "
            f"{store.failures_path}. Rerun to retry them.",
            file=sys.stderr,
        )
        return 1
    return 0


def _fractions_text(config):
    """The description line of the label fractions of ``config``."""
    fractions = label_fractions(config)
    if fractions == [ALL_LABELS]:
        return "Labels: every training label (label fraction 1)."
    return (
        f"Label fractions: {' '.join(f'{f:g}' for f in fractions)} (stratified "
        f"share of the training labels, at least {MIN_LABELED_PER_CLASS} per "
        "class, the same rows for every method; label-free steps fit on every "
        "training row)."
    )


def _rows_of_run(store, config):
    """Stored results, curves, open failures and skipped evaluations of
    ``config``'s selection.

    The folder may hold rows of other datasets, methods, seeds or splits
    from earlier runs; the report covers what this command asked for.
    """
    dataset_ids = {ref.dataset_id for ref in config.datasets}
    fractions = set(label_fractions(config))

    def selected(key):
        dataset_id, method, seed, split, fraction = key
        return (
            dataset_id in dataset_ids
            and method in config.methods
            and seed in config.seeds
            and split == config.split
            and fraction in fractions
        )

    results, curves, failures, skipped = _selected_rows(
        store, store.read_results(), selected
    )
    # Tables list the methods in the requested order, not in the order
    # parallel workers finished them.
    order = {method: position for position, method in enumerate(config.methods)}
    results = results.sort_values(
        "method", key=lambda names: names.map(order), kind="stable"
    )
    return results, curves, failures, skipped


def _selected_rows(store, results, selected):
    """The rows of ``results``, stored curves, open failures and skipped
    evaluations whose key ``(dataset_id, method, seed, split,
    label_fraction)`` passes ``selected``."""

    def keep(frame):
        chosen = [selected(result_key(row)) for row in frame.to_dict("records")]
        return frame[pd.Series(chosen, index=frame.index, dtype=bool)]

    curves = [record for record in store.read_curves() if selected(result_key(record))]
    failures = _unresolved_failures(store, store.finished_keys(), selected)
    return keep(results), curves, failures, keep(store.read_skipped())
