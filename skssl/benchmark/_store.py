"""The results folder: append-only files that make runs resumable.

* ``results.csv``: one row per finished (dataset, method, seed, split,
  label fraction), or per skipped one (a method that does not apply, with
  the reason in ``skipped``: finished, but not summarised);
* ``curves.jsonl``: one JSON object per SSL fit with its per-epoch losses;
* ``failures.jsonl``: evaluations that raised, with their traceback (they are
  retried by the next run);
* ``run_config.json``: the SSL parameters the results were computed with.

Rows are appended and flushed as they finish, so a killed run loses at most
the evaluations in flight. A line cut short by a kill is dropped on the next
open.

Method names are read in their current form: rows of the retired
``lr=<value>`` methods (in folders written before the bracket syntax was the
only one) read as ``ssl[learning_rate=<value>]``; the files are not rewritten.

Files written before the label-fraction protocol lack the ``label_fraction``,
``n_labeled`` and ``skipped`` columns, and their records the
``label_fraction`` key: their rows are the fraction 1.0. Opening such a
``results.csv`` rewrites it once with the current columns (the old rows
unchanged, their fraction 1.0) so that new rows can be appended.
"""

import csv
import json
import os
from pathlib import Path

import pandas as pd

from ._methods import upgrade_method_name
from ._protocol import ALL_LABELS, fraction_key, result_key

RESULT_COLUMNS = [
    "dataset_id",
    "dataset",
    "method",
    "seed",
    "split",
    "label_fraction",
    "accuracy",
    "f1_macro",
    "balanced_accuracy",
    "fit_seconds",
    "predict_seconds",
    "n_samples",
    "n_features",
    "n_categorical",
    "n_classes",
    "n_train",
    "n_labeled",
    "n_test",
    "n_epochs",
    "ssl_fit_seconds",
    "probe_C",
    "warnings",
    "skipped",
]
KEY_COLUMNS = ["dataset_id", "method", "seed", "split", "label_fraction"]
# The columns of results.csv before the label-fraction protocol.
LEGACY_RESULT_COLUMNS = [
    column
    for column in RESULT_COLUMNS
    if column not in ("label_fraction", "n_labeled", "skipped")
]


def _drop_partial_last_line(path):
    """Remove a trailing line without a newline (written by a killed run)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    content = path.read_bytes()
    if content.endswith(b"\n"):
        return
    path.write_bytes(content[: content.rfind(b"\n") + 1])


def _read_json_lines(path):
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run
        if "method" in record:
            record["method"] = upgrade_method_name(record["method"])
        record["label_fraction"] = fraction_key(record.get("label_fraction"))
        records.append(record)
    return records


class ResultStore:
    """Reads and appends the files of one results folder.

    Parameters
    ----------
    output_dir : str or Path
        Created if needed.
    """

    def __init__(self, output_dir):
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.output_dir / "results.csv"
        self.curves_path = self.output_dir / "curves.jsonl"
        self.failures_path = self.output_dir / "failures.jsonl"
        self.config_path = self.output_dir / "run_config.json"
        for path in (self.results_path, self.curves_path, self.failures_path):
            _drop_partial_last_line(path)
        self._check_header()

    def _check_header(self):
        if not self.results_path.is_file() or self.results_path.stat().st_size == 0:
            return
        with self.results_path.open(newline="") as file:
            header = next(csv.reader(file), [])
        if header == LEGACY_RESULT_COLUMNS:
            self._upgrade_legacy_file()
            return
        if header != RESULT_COLUMNS:
            raise ValueError(
                f"{self.results_path} has columns {header}, not the expected "
                f"{RESULT_COLUMNS}; use another --output folder."
            )

    def _upgrade_legacy_file(self):
        """Rewrite a results.csv of :data:`LEGACY_RESULT_COLUMNS` with the
        current columns (label fraction 1.0), atomically."""
        with self.results_path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        upgraded = self.results_path.with_name(self.results_path.name + ".upgrade")
        with upgraded.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=RESULT_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "label_fraction": ALL_LABELS})
        os.replace(upgraded, self.results_path)

    # ------------------------------------------------------------- config
    def check_config(self, config):
        """Record ``config``, or check it matches the one already recorded.

        Results computed with other SSL parameters (including other estimator
        defaults) must not be mixed with new ones under the same method name.

        Parameters
        ----------
        config : dict
            JSON-serialisable.
        """
        config = json.loads(json.dumps(config, default=str))
        if self.config_path.is_file() and self.results_path.is_file():
            recorded = json.loads(self.config_path.read_text())
            if recorded != config:
                differences = "\n".join(
                    f"  {key}: {old} -> {new}"
                    for key, old, new in _differences(recorded, config)
                )
                raise ValueError(
                    f"The results in {self.output_dir} were computed with other "
                    f"settings (recorded -> this run; <absent> where a setting, "
                    f"e.g. a parameter added by an upgrade, is new):\n"
                    f"{differences}\n"
                    "Use another --output folder (or delete that one) so that "
                    "results of different settings are not mixed; if a new "
                    f"setting is known not to change results, add it to "
                    f"{self.config_path}."
                )
            return
        self.config_path.write_text(json.dumps(config, indent=2, sort_keys=True))

    # ------------------------------------------------------------- reading
    def _read_rows(self):
        """Every stored row (scored or skipped), the last one of a repeated key."""
        if not self.results_path.is_file() or self.results_path.stat().st_size == 0:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        rows = pd.read_csv(
            self.results_path,
            dtype={
                "dataset_id": str,
                "dataset": str,
                "method": str,
                "split": str,
                "skipped": str,
            },
            keep_default_na=False,
            na_values=[""],
        )
        for column in RESULT_COLUMNS:
            if column not in rows:  # a file of an older version
                rows[column] = ALL_LABELS if column == "label_fraction" else None
        rows = rows.dropna(subset=["seed"])
        rows["seed"] = rows["seed"].astype(int)
        rows["label_fraction"] = rows["label_fraction"].map(fraction_key)
        rows["method"] = rows["method"].map(upgrade_method_name)
        finished = rows["accuracy"].notna() | rows["skipped"].notna()
        rows = rows[finished]
        return rows.drop_duplicates(KEY_COLUMNS, keep="last").reset_index(drop=True)

    def read_results(self):
        """All scored rows, the last one kept when a key repeats.

        Returns
        -------
        results : DataFrame
            Columns :data:`RESULT_COLUMNS`; ``label_fraction`` is 1.0 for rows
            written before the label-fraction protocol. Skipped evaluations
            (:meth:`read_skipped`) are not included.
        """
        rows = self._read_rows()
        return rows[rows["accuracy"].notna()].reset_index(drop=True)

    def read_skipped(self):
        """Rows of evaluations skipped as not applicable (reason in ``skipped``).

        Returns
        -------
        skipped : DataFrame
        """
        rows = self._read_rows()
        return rows[rows["accuracy"].isna()].reset_index(drop=True)

    def finished_keys(self):
        """Keys ``(dataset_id, method, seed, split, label_fraction)`` of the
        finished rows, skipped ones included."""
        return {result_key(row) for row in self._read_rows().to_dict("records")}

    def read_curves(self):
        """Loss curves of the SSL fits, the last one kept when a key repeats.

        Returns
        -------
        curves : list of dict
        """
        latest = {}
        for record in _read_json_lines(self.curves_path):
            latest[result_key(record)] = record
        return list(latest.values())

    def read_failures(self):
        """Failed evaluations recorded so far (including since-fixed ones)."""
        return _read_json_lines(self.failures_path)

    # ------------------------------------------------------------- writing
    def append(self, outcome):
        """Write a finished :class:`~skssl.benchmark._protocol.Outcome`.

        The curves are written before the row: a row present in
        ``results.csv`` means its curves are stored too.
        """
        if outcome.row is None:
            record = dict(zip(KEY_COLUMNS, outcome.key), error=outcome.error)
            self._append_line(self.failures_path, json.dumps(record))
            return
        if outcome.curves is not None:
            self._append_line(self.curves_path, json.dumps(outcome.curves))
        new_file = (
            not self.results_path.is_file() or self.results_path.stat().st_size == 0
        )
        with self.results_path.open("a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=RESULT_COLUMNS)
            if new_file:
                writer.writeheader()
            writer.writerow(
                {column: outcome.row.get(column) for column in RESULT_COLUMNS}
            )

    @staticmethod
    def _append_line(path, line):
        with path.open("a") as file:
            file.write(line + "\n")


def _differences(recorded, current, prefix=""):
    """(dotted key, recorded value, current value) for each differing leaf."""
    absent = "<absent>"
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key, absent), current.get(key, absent)
        if isinstance(old, dict) and isinstance(new, dict):
            yield from _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            yield tuple(
                [f"{prefix}{key}"]
                + [
                    value if value is absent else json.dumps(value)
                    for value in (old, new)
                ]
            )
