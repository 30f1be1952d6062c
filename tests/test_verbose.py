"""``verbose``: the epoch loop's lines on stdout and its progress bar."""

import re
import sys

import numpy as np
import pytest

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer, training
from tests._helpers import SMALL, blobs

pytestmark = pytest.mark.usefixtures("quiet")

LINE = re.compile(
    r"Epoch (\d+)/(\d+): loss (\S+) \(contrastive (\S+), reconstruction (\S+), "
    r"kl (\S+)(?:, supervised (\S+))?\)(?:, validation loss (\S+))?, "
    r"(\d+\.\d\d) s, ([\d,]+) rows/s$"
)


def _lines(out):
    return [line for line in out.splitlines() if line.startswith("Epoch")]


def test_each_epoch_prints_its_losses_validation_time_and_rate(capsys):
    X, _ = blobs(n=300)
    est = ContrastiveVAETransformer(
        **SMALL, max_epochs=4, early_stopping=True, verbose=1
    ).fit(X)
    lines = _lines(capsys.readouterr().out)
    assert len(lines) == est.n_iter_
    for epoch, line in enumerate(lines):
        match = LINE.match(line)
        assert match, line
        assert match.group(1, 2) == (str(epoch + 1), "4")
        terms = [float(match[k]) for k in (3, 4, 5, 6)]
        curves = [est.loss_curve_, est.contrastive_loss_curve_]
        curves += [est.reconstruction_loss_curve_, est.kl_loss_curve_]
        np.testing.assert_allclose(terms, [c[epoch] for c in curves], atol=5e-5)
        assert float(match[8]) == pytest.approx(
            est.validation_loss_curve_[epoch], abs=5e-5
        )
        assert float(match[9]) >= 0 and int(match[10].replace(",", "")) > 0


def test_the_classifier_prints_its_supervised_term_and_both_phases(capsys):
    X, y = blobs(n=200)
    y = np.where(np.arange(len(y)) % 4 == 0, y, -1)
    ContrastiveVAEClassifier(**SMALL, max_epochs=2, fine_tune_epochs=2, verbose=1).fit(
        X, y
    )
    lines = _lines(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [
        "Epoch 1/2",
        "Epoch 2/2",
        "Epoch 3/4",
        "Epoch 4/4",
    ]
    assert all(LINE.match(line) for line in lines)
    assert ", supervised " in lines[-1]


def test_partial_fit_goes_on_numbering(capsys):
    X, _ = blobs(n=100)
    est = ContrastiveVAETransformer(**SMALL, verbose=1, partial_fit_epochs=2)
    est.partial_fit(X).partial_fit(X)
    lines = _lines(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [
        "Epoch 1/2",
        "Epoch 2/2",
        "Epoch 3/4",
        "Epoch 4/4",
    ]


def test_silent_without_verbose(capsys):
    X, _ = blobs(n=100)
    ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    assert capsys.readouterr().out == ""


def test_a_long_fit_shows_a_progress_bar_over_the_rows(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(training, "PROGRESS_DELAY", 0.0)  # every fit is long
    X, _ = blobs(n=100)
    ContrastiveVAETransformer(**SMALL, max_epochs=2, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "training:" in out and "200/200" in out and "rows/s" in out
    assert len(_lines(out)) == 2


def test_a_short_fit_prints_lines_alone(capsys):
    pytest.importorskip("tqdm")
    X, _ = blobs(n=100)
    ContrastiveVAETransformer(**SMALL, max_epochs=2, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "training:" not in out and len(_lines(out)) == 2


def test_without_tqdm_the_lines_alone(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    monkeypatch.setattr(training, "PROGRESS_DELAY", 0.0)
    X, _ = blobs(n=100)
    ContrastiveVAETransformer(**SMALL, max_epochs=2, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "training:" not in out
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "Epoch 1/2",
        "Epoch 2/2",
    ]
