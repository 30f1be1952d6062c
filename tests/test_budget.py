"""The epoch-budget study (skssl.benchmark._budget, ``skssl-benchmark budget``)."""

import pandas as pd
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("pyarrow")

from skssl import ContrastiveVAETransformer  # noqa: E402
from skssl.benchmark._budget import (  # noqa: E402
    FIGURE_FILE,
    RESULTS_FILE,
    Budget,
    EpochRecord,
    StoppingRule,
    _cell,
    pareto_table,
)
from skssl.benchmark._cli import main  # noqa: E402
from skssl.benchmark._data import read_manifest  # noqa: E402
from skssl.benchmark._protocol import validation_split  # noqa: E402
from skssl.training import resolve_max_epochs  # noqa: E402
from tests.test_benchmark import PNG_SIGNATURE, make_table, write_data_dir  # noqa: E402


def test_budget_rules_parse_and_auto_is_max_epochs_auto():
    auto = Budget.parse("auto")
    for n_train in (50, 4_000, 60_000, 10**6):
        assert auto.epochs(n_train) == resolve_max_epochs("auto", n_train)
    default = ContrastiveVAETransformer()
    assert auto.params == {
        "learning_rate_schedule": default.learning_rate_schedule,
        "batch_size": default.batch_size,
        "learning_rate": default.learning_rate,
    }
    budget = Budget.parse("1000:2:5:cosine")
    assert (budget.rows_seen, budget.min_epochs, budget.max_epochs) == (1000, 2, 5)
    assert budget.schedule == "cosine" and Budget.parse(budget.name) == budget
    assert [budget.epochs(n) for n in (100, 300, 1000)] == [5, 4, 2]
    assert Budget.parse("1000:2:5").schedule == default.learning_rate_schedule
    assert (budget.params["learning_rate"], budget.params["batch_size"]) == (0.002, 256)
    large = Budget.parse("1000:2:5:cosine:1024")
    assert large.name == "1000:2:5:cosine:1024" and Budget.parse(large.name) == large
    assert large.params["learning_rate"] == pytest.approx(0.004)
    faster = Budget.parse("1000:2:5:cosine:256:0.004")
    assert faster.name == "1000:2:5:cosine:256:0.004"
    assert Budget.parse(faster.name) == faster
    assert faster.params["learning_rate"] == 0.004
    verbatim = Budget.parse("1000:2:5:cosine:512:0.002")
    assert verbatim.params["learning_rate"] == 0.002  # given: not scaled
    for text, message in [
        ("1000:2", "ROWS:LOW:HIGH"),
        ("1000:a:5", "integers"),
        ("1000:6:5", "LOW <= HIGH"),
        ("1000:2:5:cosine:1", "BATCH >= 2"),
        ("1000:2:5:cosine:256:fast", "LR is a number"),
        ("1000:2:5:cosine:256:0", "LR > 0"),
        ("1000:2:5:step", "schedule 'step'"),
    ]:
        with pytest.raises(ValueError, match=message):
            Budget.parse(text)


def test_pareto_table_marks_the_budgets_nothing_beats_on_both_counts():
    cells = [("a", 0), ("b", 0)]
    # budget: (accuracy on a, accuracy on b, seconds per cell)
    scores = {"slow": (0.9, 0.8, 10), "fast": (0.8, 0.8, 2), "worse": (0.7, 0.8, 5)}
    results = pd.DataFrame(
        [
            dict(dataset=d, seed=s, budget=name, accuracy=v[i], ssl_fit_seconds=v[2])
            for name, v in scores.items()
            for i, (d, s) in enumerate(cells)
        ]
        # a cell that not every budget has is left out
        + [dict(dataset="c", seed=0, budget="slow", accuracy=0.0, ssl_fit_seconds=1)]
    )
    table = pareto_table(results, "slow")
    assert table.attrs["n_cells"] == 2
    assert table.loc["slow", "accuracy"] == pytest.approx(85)
    assert table.loc["fast", "change"] == pytest.approx(-5)
    assert table.loc["fast", "worst_dataset_change"] == pytest.approx(-10)
    assert table.loc["fast", "speed_up"] == pytest.approx(5)
    assert table.pareto.to_dict() == {"fast": True, "worse": False, "slow": True}
    assert list(table.index) == ["fast", "worse", "slow"]  # by fit time


def test_cli_budget_study_fits_each_rule_on_validation_rows(tmp_path, capsys):
    table = make_table(80, seed=0)
    data_dir = write_data_dir(tmp_path / "data", {101: ("alpha", table)})
    output = tmp_path / "study"
    argv = ["budget", "--data-dir", str(data_dir), "--seeds", "0"]
    argv += ["--output", str(output), "--budgets", "400:2:3", "100:1:2:constant"]
    assert main(argv) == 0
    results = pd.read_csv(output / RESULTS_FILE)
    fit, _ = validation_split(table["target"].to_numpy(), 0)
    assert len(fit) == 48
    assert results.budget.tolist() == ["400:2:3:cosine", "100:1:2:constant"]
    # ceil(400 / 48) = 9 epochs, clipped to 3; ceil(100 / 48) = 3, clipped to 2
    # (a budget without a schedule has the transformer's default, cosine)
    assert results.max_epochs.tolist() == [3, 2]
    assert (results.n_fit == 48).all() and results.accuracy.between(0, 1).all()
    printed = capsys.readouterr().out
    assert "| 100:1:2:constant |" in printed and "speed-up" in printed
    assert (output / FIGURE_FILE).read_bytes()[:8] == PNG_SIGNATURE
    # A rerun finds every budget done and fits nothing; a budget added to
    # the list is the only one fitted.
    assert main(argv) == 0
    assert len(pd.read_csv(output / RESULTS_FILE)) == 2
    assert main([*argv, "50:1:1"]) == 0
    again = pd.read_csv(output / RESULTS_FILE)
    assert again.budget.tolist() == [*results.budget, "50:1:1:cosine"]
    assert "| 50:1:1:cosine |" in capsys.readouterr().out


def test_cli_budget_rejects_a_malformed_rule(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["budget", "--data-dir", str(tmp_path), "--budgets", "10:2"])
    assert exit_info.value.code == 2
    assert "--budgets: budget '10:2'" in capsys.readouterr().err


def test_stopping_rules_parse_and_name_themselves():
    budget = Budget.parse("1000:2:5:constant+change:0.005:3")
    assert budget.stopping == StoppingRule("change", 0.005, 3)
    assert budget.name == "1000:2:5:constant+change:0.005:3"
    assert Budget.parse(budget.name) == budget
    assert Budget.parse("auto+loss:0.01:2").name == (
        f"{Budget.parse('auto').name}+loss:0.01:2"
    )
    for bad, message in [
        ("auto+speed:0.1:2", "SIGNAL one of loss, change, au"),
        ("auto+loss:0.1", "is not SIGNAL:THRESHOLD:PATIENCE"),
        ("auto+loss:x:2", "THRESHOLD is a number"),
        ("auto+loss:0.1:0", "PATIENCE >= 1"),
        ("auto+loss:-1:2", "THRESHOLD > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            Budget.parse(bad)


def test_stopping_rules_fire_after_patience_epochs_below_threshold():
    record = EpochRecord()
    record.losses = [10.0, 5.0, 4.99, 4.98, 4.0, 3.999, 3.998, 3.997]
    record.epoch_seconds = [1.0] * 8
    # Representation signals: index 0 is the untrained networks'.
    record.change = [0.5, 0.2, 0.004, 0.3, 0.004, 0.003, 0.002, 0.001]
    record.alignment = [1.0, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    record.uniformity = [-1.0, -2.0, -3.0, -3.1, -3.1, -3.1, -3.1, -3.1, -3.1]
    record.signal_seconds = {"loss": [0.0] * 9, "change": [0.25] * 9, "au": [0.5] * 9}
    # Relative improvements: inf, 0.5, 0.002, 0.002, 0.197, 0.00025, ...
    assert StoppingRule("loss", 0.01, 2).stop_epoch(record) == 4
    assert StoppingRule("loss", 0.01, 3).stop_epoch(record) == 8
    assert StoppingRule("loss", 1e-5, 1).stop_epoch(record) == 8  # never fires
    assert StoppingRule("change", 0.01, 1).stop_epoch(record) == 3
    assert StoppingRule("change", 0.01, 2).stop_epoch(record) == 6
    # au: max |change| of alignment and uniformity: 1, 1, 0.1, 0, 0, ...
    assert StoppingRule("au", 0.05, 2).stop_epoch(record) == 5
    # The seconds count the epochs and the signal's observations, the
    # untrained networks' included.
    assert StoppingRule("change", 0.01, 2).seconds(record, 6) == 6 + 7 * 0.25
    assert StoppingRule("loss", 0.01, 2).seconds(record, 4) == 4


def test_a_recorded_fit_reproduces_the_plain_fit_and_its_rules_stop_it_sooner(
    tmp_path,
):
    table = make_table(120, seed=1)
    data_dir = write_data_dir(tmp_path / "data", {7: ("beta", table)})
    (ref,) = read_manifest(data_dir)
    plain = Budget.parse("8000:1:80:constant")
    rules = [Budget.parse(f"{plain.name}+{rule}") for rule in ("loss:0.5:1", "au:9:1")]
    (fitted,) = _cell(ref, 0, [plain], threads=1)
    recorded = _cell(ref, 0, [plain, *rules], threads=1)
    # Read off the record with the transformer's own plateau rule, the plain
    # budget stops where a plain fit stops, with the same weights.
    assert fitted["n_epochs"] < fitted["max_epochs"] == 80
    assert recorded[0]["budget"] == plain.name
    assert recorded[0]["n_epochs"] == fitted["n_epochs"]
    assert recorded[0]["accuracy"] == fitted["accuracy"]
    # loss:0.5:1 fires at the first epoch improving by under half; au:9:1 at
    # epoch 1 (alignment and uniformity move by less than 9 in any epoch).
    assert 1 < recorded[1]["n_epochs"] < fitted["n_epochs"]
    assert recorded[2]["n_epochs"] == 1
    assert recorded[2]["ssl_fit_seconds"] < recorded[0]["ssl_fit_seconds"]
    assert all(0 <= row["accuracy"] <= 1 for row in recorded)
