"""PNG figures of the results (matplotlib's Agg canvas, no pyplot state).

Each figure is drawn only when the methods it compares were run. matplotlib
(the "benchmark" extra) is imported when a figure is drawn. With rows of
several label fractions, ``label_fractions.png`` compares the methods across
them and the other figures show one fraction (1 when it ran, else the
largest).
"""

import numpy as np

from skssl.training import CURVES

from ._methods import ABLATION_METHODS, OPTIMIZER_METHODS, parse_learning_rate
from ._protocol import ALL_LABELS, fraction_key
from ._report import BASELINE, label_fractions_of, per_dataset_scores, split_by_fraction

# Panel titles of the loss curves, by term (the terms are those of
# skssl.training.LOSS_TERMS and "validation"; a term without a title here is
# titled by its name).
CURVE_TITLES = {
    "loss": "total",
    "contrastive": "contrastive (InfoNCE)",
    "reconstruction": "reconstruction",
    "kl": "KL",
    "validation": "validation (total)",
}
# Beyond this many datasets, per-dataset labels would hide the data.
_MAX_LABELLED_DATASETS = 30


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(figure, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _mean_curve(curves):
    """Epoch-wise mean of curves of different lengths (early stopping)."""
    length = max(len(curve) for curve in curves)
    padded = np.full((len(curves), length), np.nan)
    for row, curve in enumerate(curves):
        padded[row, : len(curve)] = curve
    return np.nanmean(padded, axis=0)


def plot_loss_curves(curves, path, method="ssl"):
    """Per-term training loss against epoch, one line per dataset.

    The paper's convergence figure: for each loss term, the seed-averaged
    per-epoch value of ``method``'s SSL fits.

    Parameters
    ----------
    curves : list of dict
        Records of ``curves.jsonl``.
    path : Path
    method : str, default="ssl"

    Returns
    -------
    path : Path or None
        None when ``method`` has no stored curves.
    """
    from matplotlib.ticker import MaxNLocator

    records = [record for record in curves if record["method"] == method]
    if not records:
        return None
    datasets = list(dict.fromkeys(record["dataset"] for record in records))
    terms = [
        (key, CURVE_TITLES.get(key, key))
        for key in CURVES
        if any(len(record.get(key) or []) for record in records)
    ]
    figure = _figure(figsize=(4.2 * len(terms), 3.6), layout="constrained")
    axes = figure.subplots(1, len(terms), squeeze=False)[0]
    for axis, (key, title) in zip(axes, terms):
        for dataset in datasets:
            series = [
                record[key]
                for record in records
                if record["dataset"] == dataset and record.get(key)
            ]
            if series:
                mean = _mean_curve(series)
                axis.plot(np.arange(1, len(mean) + 1), mean, label=dataset, lw=1.2)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("loss (mean over seeds)")
    if len(datasets) <= _MAX_LABELLED_DATASETS:
        figure.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside right upper",
            fontsize="small",
        )
    figure.suptitle(f"Training loss per term ({method})")
    return _save(figure, path)


def plot_ssl_vs_raw(results, path, baseline=BASELINE):
    """Per-dataset accuracy of the SSL methods against the raw-feature probe.

    Parameters
    ----------
    results : DataFrame
    path : Path
    baseline : str, default="raw"

    Returns
    -------
    path : Path or None
        None unless ``baseline`` and "ssl" or "ssl+raw" were run.
    """
    scores = per_dataset_scores(results, "accuracy")
    compared = [m for m in ("ssl", "ssl+raw") if m in scores.columns]
    if baseline not in scores.columns or not compared:
        return None
    figure = _figure(figsize=(5.5, 5.5), layout="constrained")
    axis = figure.subplots()
    markers = {"ssl": "o", "ssl+raw": "^"}
    values = [scores[baseline]]
    for method in compared:
        pairs = scores[[baseline, method]].dropna()
        values.append(pairs[method])
        axis.scatter(
            100 * pairs[baseline],
            100 * pairs[method],
            marker=markers[method],
            label=method,
            alpha=0.8,
        )
        if method == compared[0] and len(pairs) <= _MAX_LABELLED_DATASETS:
            for dataset, (x, y) in pairs.iterrows():
                axis.annotate(
                    dataset,
                    (100 * x, 100 * y),
                    fontsize="x-small",
                    xytext=(3, 3),
                    textcoords="offset points",
                )
    low = 100 * min(np.nanmin(v) for v in values) - 2
    high = min(100.5, 100 * max(np.nanmax(v) for v in values) + 2)
    axis.plot([low, high], [low, high], color="gray", ls="--", lw=1)
    axis.set(
        xlim=(low, high),
        ylim=(low, high),
        xlabel=f"{baseline} test accuracy (%)",
        ylabel="SSL test accuracy (%)",
        title="SSL features vs raw features (per dataset)",
    )
    axis.legend(loc="lower right")
    axis.grid(alpha=0.3)
    return _save(figure, path)


def plot_method_bars(results, methods, path, title, labels=None, baseline=BASELINE):
    """Mean accuracy of ``methods`` over the (dataset, seed) pairs they all ran on.

    Methods are compared on the same splits only: when, say, ablations ran
    with one seed and the full model with three, the bars use that one seed.
    Error bars are standard errors over datasets; a dashed line marks
    ``baseline`` on the same datasets when it was run.

    Parameters
    ----------
    results : DataFrame
    methods : sequence of str
    path : Path
    title : str
    labels : dict or None
        Method -> bar label.
    baseline : str, default="raw"

    Returns
    -------
    path : Path or None
        None when fewer than two of ``methods`` were run.
    """
    present = [method for method in methods if method in set(results["method"])]
    if len(present) < 2:
        return None
    splits = ["dataset", "seed"]
    common = None
    for method in present:
        keys = set(map(tuple, results.loc[results["method"] == method, splits].values))
        common = keys if common is None else common & keys
    on_common = results[[tuple(key) in common for key in results[splits].values]]
    scores = per_dataset_scores(on_common, "accuracy")
    columns = present + ([baseline] if baseline in scores.columns else [])
    complete = scores[columns].dropna()
    if complete.empty:
        return None
    means = 100 * complete[present].mean()
    errors = 100 * complete[present].std(ddof=1) / np.sqrt(len(complete))
    errors = errors.fillna(0)
    labels = labels or {}
    figure = _figure(figsize=(1.3 * len(present) + 2.5, 4), layout="constrained")
    axis = figure.subplots()
    positions = np.arange(len(present))
    axis.bar(positions, means, yerr=errors, capsize=4, color="tab:blue", alpha=0.8)
    for position, mean in zip(positions, means):
        axis.annotate(
            f"{mean:.2f}",
            (position, mean),
            ha="center",
            xytext=(0, 4),
            textcoords="offset points",
            fontsize="small",
        )
    bottom = means - errors
    top = means + errors
    if baseline in complete.columns:
        reference = 100 * complete[baseline].mean()
        axis.axhline(reference, color="gray", ls="--", lw=1, label=baseline)
        axis.legend(loc="lower right")
        bottom = np.append(bottom, reference)
        top = np.append(top, reference)
    # Differences between variants are small next to the accuracy level:
    # zoom on them (the axis does not start at 0).
    axis.set_ylim(max(0.0, np.min(bottom) - 3), min(101.0, np.max(top) + 2))
    axis.set_xticks(positions, [labels.get(method, method) for method in present])
    axis.set_ylabel("mean test accuracy (%)")
    axis.set_title(f"{title} ({len(complete)} datasets)")
    axis.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def plot_label_fractions(results, path):
    """Mean accuracy against the label fraction, one line per method.

    Each point is the mean over datasets of the seed-averaged accuracy of a
    method at a fraction (log-scaled axis).

    Parameters
    ----------
    results : DataFrame
    path : Path

    Returns
    -------
    path : Path or None
        None unless more than one fraction was run.
    """
    from matplotlib.ticker import FixedLocator, NullLocator

    groups = split_by_fraction(results)
    if len(groups) < 2:
        return None
    fractions = [fraction for fraction, _ in groups]
    means = {
        fraction: per_dataset_scores(rows, "accuracy").mean()
        for fraction, rows in groups
    }
    n_datasets = results["dataset"].nunique()
    figure = _figure(figsize=(6.5, 4.5), layout="constrained")
    axis = figure.subplots()
    for method in dict.fromkeys(results["method"]):
        points = [
            (fraction, 100 * means[fraction][method])
            for fraction in fractions
            if method in means[fraction] and not np.isnan(means[fraction][method])
        ]
        if not points:
            continue
        x, y = zip(*points)
        style = {"ls": "--"} if method == BASELINE else {}
        axis.plot(x, y, marker="o", lw=1.5, label=method, **style)
    axis.set_xscale("log")
    axis.xaxis.set_major_locator(FixedLocator(fractions))
    axis.xaxis.set_minor_locator(NullLocator())
    axis.set_xticklabels([f"{fraction:g}" for fraction in fractions])
    axis.set(
        xlabel="label fraction (share of the training labels seen)",
        ylabel="mean accuracy (%)",
        title=f"Accuracy against label fraction ({n_datasets} datasets)",
    )
    axis.grid(alpha=0.3)
    figure.legend(
        *axis.get_legend_handles_labels(), loc="outside right upper", fontsize="small"
    )
    return _save(figure, path)


def write_figures(results, curves, output_dir):
    """Draw every figure the results allow.

    Parameters
    ----------
    results : DataFrame
    curves : list of dict
    output_dir : Path

    Returns
    -------
    paths : list of Path
        The figures written: ``label_fractions.png``, ``loss_curves.png``,
        ``ssl_vs_raw.png``, ``ablations.png``, ``optimizers.png``,
        ``learning_rates.png``.
    """
    fractions_path = plot_label_fractions(results, output_dir / "label_fractions.png")
    # The other figures compare methods at one label fraction.
    fractions = label_fractions_of(results)
    shown = ALL_LABELS if (fractions == ALL_LABELS).any() else fractions.max()
    results = results[fractions == shown]
    curves = [
        record
        for record in curves
        if fraction_key(record.get("label_fraction")) == shown
    ]
    learning_rate_methods = sorted(
        (m for m in dict.fromkeys(results["method"]) if parse_learning_rate(m)),
        key=parse_learning_rate,
    )
    # The full model's curves; else those of whichever SSL method was run.
    curve_methods = list(dict.fromkeys(record["method"] for record in curves))
    curve_method = "ssl" if "ssl" in curve_methods or not curves else curve_methods[0]
    paths = [
        plot_loss_curves(curves, output_dir / "loss_curves.png", curve_method),
        plot_ssl_vs_raw(results, output_dir / "ssl_vs_raw.png"),
        plot_method_bars(
            results,
            ABLATION_METHODS,
            output_dir / "ablations.png",
            "Ablations",
            labels={"ssl": "full model"},
        ),
        plot_method_bars(
            results,
            OPTIMIZER_METHODS,
            output_dir / "optimizers.png",
            "Optimizers",
            labels={"ssl": "adamw (ssl)"},
        ),
        plot_method_bars(
            results,
            ["ssl", *learning_rate_methods],
            output_dir / "learning_rates.png",
            "Learning rates",
            labels={
                "ssl": "default (ssl)",
                **{m: f"{parse_learning_rate(m):g}" for m in learning_rate_methods},
            },
        ),
    ]
    return [path for path in [fractions_path, *paths] if path is not None]
