"""The blend study (docs/benchmark/blend_study.py) replays the classifier's
choice of blend from its recorded experts: the default rule must give each
recorded fit's own validation accuracy, or the study's figures mean nothing."""

import pytest

from tests._helpers import load_study


@pytest.fixture
def study():
    return load_study("blend_study")


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


def test_pseudo_labeled_experts_replay(cc18_dir, study, tmp_path, monkeypatch, capsys):
    """``record --pseudo`` adds the experts trained on the graph's
    pseudo-labels, out of fold from the other folds' labels alone, and the
    replay still reproduces the fit."""
    argv = ["blend_study", "record", str(tmp_path), "--data-dir", str(cc18_dir)]
    argv += ["--datasets", "diabetes", "--seeds", "0", "--pseudo"]
    monkeypatch.setattr("sys.argv", argv)
    study.main()
    fit = study.pickle.load(open(tmp_path / "diabetes_0.pkl", "rb"))
    n_labeled = len(fit["labels"])
    for expert in ("pseudo_head", "pseudo_tree"):
        assert fit[expert + "_oof"].shape == (n_labeled, 2)
        assert fit[expert + "_val"].shape == (len(fit["y_val"]), 2)
        # Log-probabilities: each row's probabilities sum to one.
        assert study.np.allclose(study.np.exp(fit[expert + "_val"]).sum(axis=1), 1)
    assert 0 < fit["n_pseudo"] <= study.MAX_PSEUDO_ROWS
    monkeypatch.setattr("sys.argv", ["blend_study", "replay", str(tmp_path)])
    study.main()
    out = capsys.readouterr().out
    assert "replay matches the fits" in out
    assert "pseudo-labeled trees" in out


def test_pseudo_labels_follow_the_graph(study):
    """Unlabeled rows take the class spread to them along the graph, never
    a labeled row's place, and their weights shrink with uncertainty."""
    np = study.np
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    # Labeled rows first, as in the classifier's graph: two of each blob.
    order = np.r_[0, 1, 20, 21, 2:20, 22:40]
    rows = blobs[order].astype(np.float32)
    truth = (order >= 20).astype(int)
    _, S = study._graph.spreading_graph(rows)
    fitted = np.arange(4)
    index, guess, weight = study.pseudo_labels(S, fitted, truth[:4], 4, 2, seed=0)
    assert index.min() >= 4 and len(index) == 36
    np.testing.assert_array_equal(guess, truth[index])
    assert np.all((weight > 0) & (weight <= 1 + 1e-12))


def test_bagged_choice_follows_the_blend_every_draw_prefers(study):
    """Where one blend has the lower log-loss on every scored row, every
    bootstrap draw picks it: both averages give its validation accuracy, and
    the weights' average rebuilds it from the head's two regressions."""
    np = study.np
    labels = np.array([0, 1, 0, 1, 1, 0])
    y_val = np.array([0, 1, 1, 0])

    def log_proba(right, rows):
        proba = np.full((len(rows), 2), 1 - right)
        proba[np.arange(len(rows)), rows] = right
        return np.log(proba)

    # The head at mix 0 predicts y_val; the mix-1 head and the trees invert it.
    fit = {
        "y_val": y_val,
        "head_val": {0.0: log_proba(0.9, y_val), 1.0: log_proba(0.9, 1 - y_val)},
        "tree_val": log_proba(0.9, 1 - y_val),
    }
    grid = [
        ((0.0, (0.0,)), log_proba(0.8, labels), fit["head_val"][0.0]),
        ((1.0, (0.5,)), log_proba(0.6, labels), fit["tree_val"]),
    ]
    for average in ("proba", "weights"):
        accuracy = study.bagged_choice(
            fit, ["tree"], grid, labels, n_bags=20, average=average
        )
        assert accuracy == 1.0
    # The other blend preferred instead: its accuracy, 0.
    grid[1] = ((1.0, (0.5,)), log_proba(0.95, labels), fit["tree_val"])
    assert study.bagged_choice(fit, ["tree"], grid, labels, 20, "proba") == 0.0
