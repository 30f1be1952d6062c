"""The blend study (docs/benchmark/blend_study.py) replays the classifier's
choice of blend from its recorded experts: the default rule must give each
recorded fit's own validation accuracy, or the study's figures mean nothing."""

import importlib.util
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[1] / "docs" / "benchmark" / "blend_study.py"


@pytest.fixture
def study():
    spec = importlib.util.spec_from_file_location("blend_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replay_reproduces_recorded_fits(
    cc18_dir, study, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        "sys.argv",
        [
            "blend_study",
            "record",
            str(tmp_path),
            "--data-dir",
            str(cc18_dir),
            "--datasets",
            "diabetes",
            "--seeds",
            "0",
        ],
    )
    original = study.training.fit_boosting_expert
    study.main()
    # The recorder wrapped the package's functions only while it recorded.
    assert study.training.fit_boosting_expert is original
    fit = study.pickle.load(open(tmp_path / "diabetes_0.pkl", "rb"))
    assert {"tree_oof", "graph_oof", "hidden_graph_val"} <= set(fit)
    monkeypatch.setattr("sys.argv", ["blend_study", "replay", str(tmp_path)])
    study.main()  # asserts the default rule gives the recorded accuracy
    assert "replay matches the fits" in capsys.readouterr().out
