"""Summary tables of the results and the ``summary.md`` report.

Scores are first averaged over seeds per (dataset, method); the summaries
then compare methods across datasets. Rows of several label fractions are
summarised per fraction, after a method x fraction overview.
"""

import numpy as np
import pandas as pd

from ._protocol import ALL_LABELS, VALIDATION, fraction_key

BASELINE = "raw"
# A method ties with the baseline on a dataset when their seed-averaged
# accuracies differ by at most this much (0.5 percentage points).
TIE_TOLERANCE = 0.005


def label_fractions_of(results):
    """The label fraction of each row (1.0 where the column is missing).

    Returns
    -------
    fractions : Series
        Aligned with ``results``.
    """
    if "label_fraction" not in results:
        return pd.Series(ALL_LABELS, index=results.index, dtype=float)
    return results["label_fraction"].map(fraction_key).astype(float)


def split_by_fraction(results):
    """``[(fraction, rows), ...]`` in increasing fraction order."""
    fractions = label_fractions_of(results)
    return [
        (fraction, results[fractions == fraction])
        for fraction in sorted(fractions.unique())
    ]


def fraction_table(results, baseline=BASELINE, tie_tolerance=TIE_TOLERANCE):
    """Mean accuracy, dataset counts and W/T/L per method and label fraction.

    Parameters
    ----------
    results : DataFrame
    baseline : str, default="raw"
    tie_tolerance : float, default=0.005

    Returns
    -------
    accuracy, datasets, versus : DataFrame
        Indexed by method (in order of first appearance), one column per
        fraction: the mean over datasets of the seed-averaged accuracy, the
        number of those datasets, and ``"w/t/l"`` against ``baseline`` at the
        same fraction ("-" for the baseline, "" without it).
    """
    methods = list(dict.fromkeys(results["method"]))
    accuracy, datasets, versus = {}, {}, {}
    for fraction, rows in split_by_fraction(results):
        summary = method_summary(rows, baseline, tie_tolerance).reindex(methods)
        accuracy[fraction] = summary["accuracy"]
        datasets[fraction] = summary["datasets"]
        cells = {}
        for method, row in summary.iterrows():
            if method == baseline:
                cells[method] = "-" if not pd.isna(row["accuracy"]) else ""
            elif pd.isna(row["wins"]):
                cells[method] = ""
            else:
                cells[method] = (
                    f"{row['wins']:.0f}/{row['ties']:.0f}/{row['losses']:.0f}"
                )
        versus[fraction] = pd.Series(cells)
    frames = [pd.DataFrame(table) for table in (accuracy, datasets, versus)]
    return tuple(frame.reindex(methods) for frame in frames)


def format_fraction(fraction):
    """A fraction as a column heading.

    >>> format_fraction(0.05), format_fraction(1.0)
    ('0.05', '1')
    """
    return f"{fraction:g}"


def per_dataset_scores(results, metric="accuracy"):
    """Seed-averaged ``metric`` as a dataset x method table.

    Parameters
    ----------
    results : DataFrame
        Rows of ``results.csv``.
    metric : str, default="accuracy"

    Returns
    -------
    scores : DataFrame
        Index: dataset names (in order of first appearance); columns: methods
        (in order of first appearance).
    """
    datasets = list(dict.fromkeys(results["dataset"]))
    methods = list(dict.fromkeys(results["method"]))
    table = results.pivot_table(
        index="dataset", columns="method", values=metric, aggfunc="mean"
    )
    return table.reindex(index=datasets, columns=methods)


def method_summary(results, baseline=BASELINE, tie_tolerance=TIE_TOLERANCE):
    """One row per method: mean scores, wins/ties/losses, mean rank, runtime.

    Parameters
    ----------
    results : DataFrame
    baseline : str, default="raw"
        Method the wins/ties/losses are counted against.
    tie_tolerance : float, default=0.005
        Accuracy difference (as a fraction) within which a dataset is a tie.

    Returns
    -------
    summary : DataFrame
        Indexed by method, with columns ``datasets``, ``runs``, ``accuracy``,
        ``f1_macro`` (means over datasets of the seed-averaged scores),
        ``wins``, ``ties``, ``losses`` (seed-averaged accuracy against the
        baseline, per dataset; NaN without baseline), ``mean_rank`` (of the
        seed-averaged accuracy among all methods, 1 = best, averaged over
        the datasets every method ran on) and ``seconds`` (total fit and
        predict time).
    """
    accuracy = per_dataset_scores(results, "accuracy")
    f1_macro = per_dataset_scores(results, "f1_macro")
    complete = accuracy.dropna()
    ranks = complete.rank(axis=1, ascending=False, method="average")
    seconds = (
        (results["fit_seconds"].fillna(0) + results["predict_seconds"].fillna(0))
        .groupby(results["method"])
        .sum()
    )
    runs = results.groupby("method").size()

    rows = []
    for method in accuracy.columns:
        row = {
            "method": method,
            "datasets": int(accuracy[method].notna().sum()),
            "runs": int(runs[method]),
            "accuracy": accuracy[method].mean(),
            "f1_macro": f1_macro[method].mean(),
            "wins": np.nan,
            "ties": np.nan,
            "losses": np.nan,
            "mean_rank": ranks[method].mean() if len(ranks) else np.nan,
            "seconds": float(seconds[method]),
        }
        if baseline in accuracy.columns and method != baseline:
            difference = (accuracy[method] - accuracy[baseline]).dropna()
            row["wins"] = int((difference > tie_tolerance).sum())
            row["losses"] = int((difference < -tie_tolerance).sum())
            row["ties"] = len(difference) - row["wins"] - row["losses"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def format_seconds(seconds):
    """Human-readable duration.

    >>> format_seconds(42.0), format_seconds(125), format_seconds(7260)
    ('42.0s', '2m05s', '2h01m')
    """
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def markdown_table(frame, index_name=None):
    """A GitHub-flavoured markdown table of ``frame`` (values as given).

    >>> print(markdown_table(pd.DataFrame({"a": ["1"]}, index=["x"]), "name"))
    | name | a |
    |:-----|--:|
    | x | 1 |
    """
    header = [index_name or frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|:-----|" + "|".join("--:" for _ in frame.columns) + "|",
    ]
    for label, values in frame.iterrows():
        cells = [str(label)] + ["" if pd.isna(v) else str(v) for v in values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _percent(value):
    return "" if pd.isna(value) else f"{100 * value:.2f}"


def format_method_summary(summary, baseline=BASELINE):
    """The :func:`method_summary` table with readable cells."""
    has_baseline = baseline in summary.index
    rows = {}
    for method, row in summary.iterrows():
        if not has_baseline:
            versus = "n/a"
        elif method == baseline:
            versus = "-"
        else:
            versus = f"{row['wins']:.0f}/{row['ties']:.0f}/{row['losses']:.0f}"
        rows[method] = {
            "datasets": f"{row['datasets']:.0f}",
            "accuracy %": _percent(row["accuracy"]),
            "macro-F1 %": _percent(row["f1_macro"]),
            f"W/T/L vs {baseline}": versus,
            "mean rank": "" if pd.isna(row["mean_rank"]) else f"{row['mean_rank']:.2f}",
            "time": format_seconds(row["seconds"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def format_per_dataset(scores):
    """Per-dataset percentages, the best method of each dataset in bold."""
    best = scores.max(axis=1)
    cells = scores.copy().astype(object)
    for dataset in scores.index:
        for method in scores.columns:
            value = scores.loc[dataset, method]
            text = _percent(value)
            if text and np.isclose(value, best[dataset]):
                text = f"**{text}**"
            cells.loc[dataset, method] = text
    return cells


def scored_part(results):
    """What the rows were scored on: "validation" or "test" (for headings)."""
    if "split" in results and len(results) and (results["split"] == VALIDATION).all():
        return VALIDATION
    return "test"


def summary_text(results, baseline=BASELINE):
    """Markdown of the method summary and the per-dataset accuracy table.

    With rows of several label fractions: a method x fraction table of mean
    accuracy and one of W/T/L against ``baseline``, then those sections for
    each fraction.
    """
    groups = split_by_fraction(results)
    if len(groups) == 1:
        fraction, rows = groups[0]
        suffix = "" if fraction == ALL_LABELS else _fraction_suffix(fraction)
        return _one_fraction_text(rows, baseline, suffix)
    parts = [_fraction_overview(results, baseline)]
    for fraction, rows in groups:
        parts += ["", _one_fraction_text(rows, baseline, _fraction_suffix(fraction))]
    return "\n".join(parts)


def _fraction_suffix(fraction):
    return f" (label fraction {format_fraction(fraction)})"


def _fraction_overview(results, baseline=BASELINE):
    """The method x fraction tables of :func:`summary_text`."""
    accuracy, datasets, versus = fraction_table(results, baseline)
    headings = [format_fraction(fraction) for fraction in accuracy.columns]
    cells = accuracy.copy().astype(object)
    for fraction in accuracy.columns:
        most = datasets[fraction].max()
        for method in accuracy.index:
            text = _percent(accuracy.loc[method, fraction])
            count = datasets.loc[method, fraction]
            if text and count < most:
                text += f" (n={count:.0f})"
            cells.loc[method, fraction] = text
    cells.columns = headings
    versus = versus.copy()
    versus.columns = headings
    part = scored_part(results)
    return "\n".join(
        [
            "## Accuracy per label fraction (%)",
            "",
            markdown_table(cells, "method"),
            "",
            f"Mean over datasets of the seed-averaged {part} accuracy, per share "
            "of the training labels the methods saw (n: fewer datasets than "
            "the other methods, e.g. skipped ones).",
            "",
            f"## W/T/L vs {baseline} per label fraction",
            "",
            markdown_table(versus, "method"),
            "",
            f"Datasets where the method's seed-averaged accuracy is more than "
            f"{100 * TIE_TOLERANCE:.1f} points above / within / below "
            f"`{baseline}`'s at the same fraction. Times below count a "
            "label-free fit shared by several fractions (the SSL transformer) "
            "in each.",
        ]
    )


def _one_fraction_text(results, baseline=BASELINE, suffix=""):
    """:func:`summary_text` of rows of one label fraction."""
    summary = method_summary(results, baseline)
    part = scored_part(results)
    parts = [
        f"## Methods{suffix}",
        "",
        markdown_table(format_method_summary(summary, baseline), "method"),
        "",
        f"Accuracy and macro-F1: mean over datasets of the seed-averaged {part} "
        f"scores. W/T/L: datasets where the method's seed-averaged accuracy is "
        f"more than {100 * TIE_TOLERANCE:.1f} points above / within / below "
        f"`{baseline}`'s. Mean rank: of the seed-averaged accuracy among all "
        f"methods (1 = best), over the {len(per_dataset_scores(results).dropna())}"
        " datasets every method ran on. Time: total fit + predict time.",
        "",
        f"## {part.capitalize()} accuracy per dataset (%){suffix}",
        "",
        markdown_table(
            format_per_dataset(per_dataset_scores(results, "accuracy")), "dataset"
        ),
    ]
    return "\n".join(parts)


def write_summary(
    path,
    results,
    *,
    run_description,
    wall_seconds,
    failures=(),
    figures=(),
    baseline=BASELINE,
    skipped=(),
):
    """Write ``summary.md``.

    Parameters
    ----------
    path : Path
    results : DataFrame
        The rows to summarise.
    run_description : list of str
        Lines describing the run (source, seeds, split, parameters).
    wall_seconds : float
        Wall-clock time of this invocation.
    failures : list of dict
        Evaluations that failed and have no result; keys ``dataset_id``,
        ``method``, ``seed`` and ``error``.
    figures : list of Path
        Figures to embed (relative to ``path``'s folder).
    baseline : str, default="raw"
    skipped : DataFrame or list of dict
        Evaluations skipped by their method; keys ``dataset``, ``method``,
        ``seed``, ``label_fraction`` and ``skipped`` (the reason).
    """
    compute_seconds = (
        results["fit_seconds"].fillna(0).sum()
        + results["predict_seconds"].fillna(0).sum()
    )
    lines = [
        "# skssl benchmark",
        "",
        *[f"- {line}" for line in run_description],
        f"- Evaluations summarised: {len(results)}; total fit + predict time "
        f"{format_seconds(compute_seconds)}; wall-clock time of the last run "
        f"{format_seconds(wall_seconds)}.",
        "",
        summary_text(results, baseline) if len(results) else "No results yet.",
    ]
    groups = split_by_fraction(results) if len(results) else []
    for fraction, rows in groups:
        suffix = _fraction_suffix(fraction)
        if len(groups) == 1 and fraction == ALL_LABELS:
            suffix = ""
        lines += [
            "",
            f"## {scored_part(rows).capitalize()} macro-F1 per dataset (%){suffix}",
            "",
            markdown_table(
                format_per_dataset(per_dataset_scores(rows, "f1_macro")), "dataset"
            ),
        ]
    skipped = pd.DataFrame(skipped)
    if len(skipped):
        lines += [
            "",
            "## Skipped",
            "",
            "Evaluations a method does not apply to (recorded as finished, not "
            "summarised):",
            "",
        ]
        for row in skipped.to_dict("records"):
            lines.append(
                f"- {row['dataset']}, {row['method']}, seed {row['seed']}, label "
                f"fraction {format_fraction(fraction_key(row.get('label_fraction')))}"
                f": {row['skipped']}"
            )
    if failures:
        lines += [
            "",
            "## Failures",
            "",
            "Not in the results; the next run retries them. Tracebacks are in "
            "`failures.jsonl`.",
            "",
        ]
        for failure in failures:
            last_line = str(failure["error"]).strip().splitlines()[-1]
            lines.append(
                f"- dataset {failure['dataset_id']}, {failure['method']}, "
                f"seed {failure['seed']}: `{last_line}`"
            )
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{figure.stem}]({figure.name})" for figure in figures]
    path.write_text("\n".join(lines) + "\n")
