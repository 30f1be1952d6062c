"""Study of the classifier's expert blend on validation rows (not part of skssl).

``record`` fits the default :class:`skssl.ContrastiveVAEClassifier` on the
benchmark's validation split of each shared CC18 table (the test rows are
never read) and pickles, per fit, every expert's out-of-fold log-probabilities
on the labeled rows and its log-probabilities on the validation rows: the
head at each candidate mix, the boosted trees (fitted on every labeled row
even where their chosen weight is 0) and the label graph, plus candidate
graphs the default does not use (on the hidden activations, on raw columns
and hidden activations together, and with alpha = 0.9) and extremely
randomised trees. ``replay`` then
chooses blends among them offline; its rule for the default's experts gives
the recorded accuracy of every fit, which the script checks.

It wraps private functions of skssl, so it follows the package's internals
of the commit it ships with (docs/semi_supervised.md quotes its figures;
tests/test_blend_study.py checks the replay on one table)::

    OMP_NUM_THREADS=1 python docs/benchmark/blend_study.py record OUT \
        --label-fraction 0.1
    OMP_NUM_THREADS=1 python docs/benchmark/blend_study.py replay OUT

``record`` takes ``--folds`` (the head's cross-validation folds),
``--c-by-log-loss`` (its L2 strength chosen by held-out log-loss, not
accuracy) and ``--rows-seen`` (the pre-training budget of
``max_epochs="auto"``) for the variants that need a refit. ``--pseudo``
records, in place of the candidate graphs and randomised trees, two experts
trained on the labeled rows and the graph's pseudo-labeled unlabeled rows
(label propagation's pseudo-labels, Iscen et al., arXiv 1904.04717): the
head's regression on every input and the boosted trees.
"""

import argparse
import itertools
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import log_softmax
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression

from skssl import ContrastiveVAEClassifier, _boosting, _graph, _head, training
from skssl._training_data import Batch
from skssl.benchmark._data import load_dataset, read_manifest
from skssl.benchmark._protocol import labeled_subset, split_rows

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cc18"
WEIGHTS = np.asarray(_boosting.BOOSTING_WEIGHTS)  # and GRAPH_WEIGHTS, the same grid
# Pseudo-labeled rows per fit at most (``record --pseudo``), a uniform draw.
MAX_PSEUDO_ROWS = 5000


class Recorder:
    """Wraps the classifier's fitting steps to keep what they compute."""

    def __init__(self, pseudo=False):
        self.seen = {}
        self.pseudo = pseudo
        # What the recorder or a variant replaces, put back on exit.
        self._saved = [
            (owner, name, getattr(owner, name))
            for owner, name in [
                (training, "fit_boosting_expert"),
                (_boosting, "_fold_trees"),
                (training, "fit_regressions"),
                (training.TrainingSession, "_label_graph"),
                (_head, "HEAD_FOLDS"),
                (training, "AUTO_ROWS_SEEN"),
                (_head, "_cross_validated_regression"),
            ]
        ]
        self._fit_boosting = training.fit_boosting_expert
        self._fold_trees = _boosting._fold_trees
        self._fit_regressions = training.fit_regressions
        self._label_graph = training.TrainingSession._label_graph
        training.fit_boosting_expert = self.fit_boosting_expert
        _boosting._fold_trees = self.fold_trees
        training.fit_regressions = self.fit_regressions
        recorder = self

        def label_graph(session, run, state, labeled, labels, weights, folds, seed):
            graph = recorder._label_graph(
                session, run, state, labeled, labels, weights, folds, seed
            )
            index = _graph.graph_rows(np.arange(run.data.n_samples), labeled, seed)
            rows = run.data.rows(torch.as_tensor(index))
            recorder.seen["graph_raw"] = _graph.graph_inputs(
                rows.numeric.numpy(),
                rows.observed.numpy(),
                rows.categorical.numpy(),
                state.table_encoder.cardinalities_,
            )
            recorder.seen["graph"] = graph
            if recorder.pseudo:
                recorder.seen["graph_tree_inputs"] = _boosting.tree_inputs(
                    rows.numeric.numpy(),
                    rows.observed.numpy(),
                    rows.categorical.numpy(),
                )
                recorder.seen["graph_head_inputs"] = _head.head_inputs(run.model, rows)
            else:  # the candidate graphs' coordinates
                recorder.seen["graph_hidden"] = hidden(run.model, rows)
            return graph

        training.TrainingSession._label_graph = label_graph

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """Put the package's functions and settings back."""
        for owner, name, value in self._saved:
            setattr(owner, name, value)

    def fit_boosting_expert(self, inputs, labels, n_classes, cardinalities, *a, **kw):
        self.seen.update(
            tree_inputs=inputs,
            labels=labels,
            n_classes=n_classes,
            cardinalities=cardinalities,
            seed=a[1],
            head_oof=kw["head_out_of_fold"],
            folds=kw["folds"],
            n_iter=[],
            tree_oof=np.zeros((len(labels), n_classes)),
        )
        expert, head = self._fit_boosting(
            inputs, labels, n_classes, cardinalities, *a, **kw
        )
        self.seen["chosen_head"] = head
        return expert, head

    def fold_trees(self, trees, inputs, labels, fitted, held_out, n_classes, weight):
        log_proba, n_iter = self._fold_trees(
            trees, inputs, labels, fitted, held_out, n_classes, weight
        )
        self.seen["n_iter"].append(n_iter)
        self.seen["tree_oof"][held_out] = log_proba
        return log_proba, n_iter

    def fit_regressions(self, *args, **kwargs):
        self.seen["regressions"] = self._fit_regressions(*args, **kwargs)
        return self.seen["regressions"]


def hidden(model, rows):
    """The encoder's hidden activations, as the head reads them."""
    head = model.classifier
    return _head.head_inputs(model, rows)[
        :, head.n_dense_inputs : head.dense.in_features
    ]


def regression_by_log_loss(Z, labels, n_classes, folds, sample_weight=None):
    """_head._cross_validated_regression, the strength chosen by log-loss."""
    if folds is None:
        return _head._regression(Z, labels, 1.0, sample_weight), None
    logits = np.zeros((len(_head.HEAD_CS), len(labels), n_classes))
    loss = np.zeros(len(_head.HEAD_CS))
    for fitted, held_out in _head.cross_validation_splits(folds, labels):
        path = LogisticRegression(max_iter=_head.HEAD_MAX_ITER, warm_start=True)
        for c, C in enumerate(_head.HEAD_CS):
            path.set_params(C=C)
            with _head._quiet_regression():
                path.fit(Z[fitted], labels[fitted])
            logits[c, held_out] = _head._predicted_logits(path, Z[held_out], n_classes)
            held = log_softmax(logits[c, held_out], axis=1)
            loss[c] -= held[np.arange(len(held_out)), labels[held_out]].sum()
    best = int(np.argmin(loss))
    return _head._regression(Z, labels, _head.HEAD_CS[best], sample_weight), logits[
        best
    ]


def extra_trees(rows, validation, labels, n_classes, splits, seed, n_trees=100):
    """100 extremely randomised trees on the graph's coordinates (numeric
    columns and one-hot categories) of the labeled rows: their out-of-fold
    and validation log-probabilities, the vote fractions smoothed by one
    vote."""

    def log_proba(fitted, query):
        forest = ExtraTreesClassifier(n_trees, random_state=seed, n_jobs=1)
        forest.fit(rows[fitted], labels[fitted])
        votes = np.zeros((len(query), n_classes))
        votes[:, forest.classes_] = n_trees * forest.predict_proba(query)
        return np.log((votes + 1) / (n_trees + n_classes))

    out_of_fold = np.zeros((len(labels), n_classes))
    for fitted, held_out in splits:
        out_of_fold[held_out] = log_proba(fitted, rows[held_out])
    return out_of_fold, log_proba(np.arange(len(labels)), validation)


def graph_expert(rows, validation, n_labeled, labels, n_classes, folds, alpha=None):
    default_alpha = _graph.SPREADING_ALPHA
    _graph.SPREADING_ALPHA = alpha or default_alpha
    try:
        graph, out_of_fold = _graph.fit_label_graph(
            rows, n_labeled, labels, n_classes, folds
        )
    finally:
        _graph.SPREADING_ALPHA = default_alpha
    return out_of_fold, graph.log_proba(validation)


def pseudo_labels(S, fitted, labels, n_labeled, n_classes, seed):
    """Label propagation's pseudo-labels (Iscen et al., arXiv 1904.04717):
    the unlabeled graph rows' spread labels from the ``fitted`` labeled rows,
    each weighted by its certainty (1 - entropy / log n_classes) and by the
    inverse population of its class; at most MAX_PSEUDO_ROWS, a uniform draw."""
    spread = _graph._spread(S, fitted, labels, n_classes)
    rows = np.arange(n_labeled, S.shape[0])
    rows = rows[spread[rows].sum(axis=1) > 0]
    if len(rows) > MAX_PSEUDO_ROWS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, MAX_PSEUDO_ROWS, replace=False))
    z = spread[rows]
    guess = z.argmax(axis=1)
    entropy = -(z * np.log(np.maximum(z, 1e-300))).sum(axis=1)
    certainty = 1 - entropy / np.log(n_classes)
    population = np.bincount(np.r_[labels, guess], minlength=n_classes)
    balance = population.sum() / (n_classes * np.maximum(population, 1.0))
    return rows, guess, certainty * balance[guess]


def pseudo_experts(recorder, state, arrays, seed):
    """Two experts trained on the labeled rows and the graph's pseudo-labeled
    unlabeled rows: the head's regression on every input at its chosen
    strength, and the boosted trees. Out of fold, each fold's pseudo-labels
    are spread from the other folds' labels alone."""
    seen = recorder.seen
    labels, n_classes = seen["labels"], seen["n_classes"]
    n_labeled = len(labels)
    _, S = _graph.spreading_graph(seen["graph_raw"])
    regressions = seen["regressions"]
    columns, every = regressions.experts[0]

    def standardised(inputs):
        return ((inputs - regressions.mean) / regressions.scale)[:, columns]

    Z = standardised(seen["graph_head_inputs"])
    batch = Batch(*(torch.as_tensor(a) for a in arrays))
    Z_val = standardised(_head.head_inputs(state.model, batch))
    T, T_val = seen["graph_tree_inputs"], _boosting.tree_inputs(*arrays)
    n_numeric = T.shape[1] - len(seen["cardinalities"])

    def training_rows(fitted):
        rows, guess, weight = pseudo_labels(
            S, fitted, labels[fitted], n_labeled, n_classes, seed
        )
        return (
            np.r_[fitted, rows],
            np.r_[labels[fitted], guess],
            np.r_[np.ones(len(fitted)), weight],
        )

    def regression(index, y, w, query):
        lr = LogisticRegression(C=every.C, max_iter=_head.HEAD_MAX_ITER)
        with _head._quiet_regression():
            lr.fit(Z[index], y, sample_weight=w)
        return log_softmax(_head._predicted_logits(lr, query, n_classes), axis=1)

    def trees(**params):
        return _boosting._trees(
            n_numeric, seen["cardinalities"], seed, early_stopping=False, **params
        )

    out = {"pseudo_head_oof": np.zeros((n_labeled, n_classes))}
    out["pseudo_tree_oof"] = np.zeros((n_labeled, n_classes))
    n_iter = []
    for fitted, held_out in _head.cross_validation_splits(seen["folds"], labels):
        index, y, w = training_rows(fitted)
        out["pseudo_head_oof"][held_out] = regression(index, y, w, Z[held_out])
        inputs = np.vstack([T[index], T[held_out]])
        every_label = np.r_[y, labels[held_out]]
        weight = np.r_[w, np.ones(len(held_out))]
        fold = np.arange(len(index))
        held = np.arange(len(index), len(inputs))
        out["pseudo_tree_oof"][held_out], count = recorder._fold_trees(
            trees(max_iter=_boosting.MAX_ITERATIONS),
            inputs,
            every_label,
            fold,
            held,
            n_classes,
            weight,
        )
        n_iter.append(count)
    index, y, w = training_rows(np.arange(n_labeled))
    out["pseudo_head_val"] = regression(index, y, w, Z_val)
    final = trees(max_iter=int(round(np.mean(n_iter))))
    final.fit(T[index], y, sample_weight=w)
    out["pseudo_tree_val"] = _boosting._tree_log_proba(final, T_val, n_classes)
    out["n_pseudo"] = len(index) - n_labeled
    return out


def record_fit(recorder, dataset, seed, fraction):
    fit, validation = split_rows(dataset, seed, "validation")
    X, X_val = dataset.X.iloc[fit], dataset.X.iloc[validation]
    classes, codes = np.unique(dataset.y[fit], return_inverse=True)
    labeled = labeled_subset(dataset.y[fit], fraction, seed)
    partial = np.full(len(codes), -1)
    partial[labeled] = codes[labeled]
    recorder.seen.clear()
    start = time.perf_counter()
    clf = ContrastiveVAEClassifier(random_state=seed).fit(X, partial)
    seen, state = recorder.seen, clf._training_state
    y_val = np.searchsorted(classes, dataset.y[validation])
    record = {
        "dataset": dataset.name,
        "seed": seed,
        "fit_seconds": time.perf_counter() - start,
        "accuracy": np.mean(clf.predict(X_val) == y_val),
        "y_val": y_val,
        "labels": seen["labels"],
        "head_oof": seen["head_oof"],
        "head_val": {},
    }
    # The head at each candidate mix, alone (its blend put aside).
    boosting, state.boosting = state.boosting, None
    for mix in seen["head_oof"]:
        seen["regressions"].write(state.model.classifier, mix)
        record["head_val"][mix] = np.log(np.maximum(clf.predict_proba(X_val), 1e-300))
    seen["regressions"].write(state.model.classifier, seen["chosen_head"])
    state.boosting = boosting
    if seen["folds"] is None:
        return record
    arrays = clf.table_encoder_.transform(X_val, dtype=np.float32).arrays
    n_labeled, n_classes = len(seen["labels"]), seen["n_classes"]
    splits = _head.cross_validation_splits(seen["folds"], seen["labels"])
    record["scored"] = np.concatenate([held for _, held in splits])
    record["tree_oof"] = seen["tree_oof"]
    n_numeric = seen["tree_inputs"].shape[1] - len(seen["cardinalities"])
    max_iter = int(round(np.mean(seen["n_iter"])))
    trees = _boosting._trees(
        n_numeric,
        seen["cardinalities"],
        seen["seed"],
        max_iter=max_iter,
        early_stopping=False,
    )
    trees.fit(seen["tree_inputs"], seen["labels"])
    record["tree_val"] = _boosting._tree_log_proba(
        trees, _boosting.tree_inputs(*arrays), n_classes
    )
    graph, record["graph_oof"] = seen["graph"]
    raw_val = _graph.graph_inputs(*arrays, clf.table_encoder_.cardinalities_)
    record["graph_val"] = graph.log_proba(raw_val)
    raw = seen["graph_raw"]
    if recorder.pseudo:
        record.update(pseudo_experts(recorder, state, arrays, seed))
        return record
    hid = seen["graph_hidden"]
    mean, std = hid.mean(axis=0), hid.std(axis=0) + 1e-9
    hid = ((hid - mean) / std).astype(np.float32)
    hid_val = hidden(state.model, Batch(*(torch.as_tensor(a) for a in arrays)))
    hid_val = ((hid_val - mean) / std).astype(np.float32)
    raw_scale = np.sqrt((raw**2).sum(axis=1).mean()) + 1e-9
    hid_scale = np.sqrt((hid**2).sum(axis=1).mean()) + 1e-9
    both = np.hstack([raw / raw_scale, hid / hid_scale]).astype(np.float32)
    both_val = np.hstack([raw_val / raw_scale, hid_val / hid_scale]).astype(np.float32)
    record["extra_trees_oof"], record["extra_trees_val"] = extra_trees(
        raw[:n_labeled], raw_val, seen["labels"], n_classes, splits, seed
    )
    expert = (n_labeled, seen["labels"], n_classes, seen["folds"])
    for name, rows, val, alpha in [
        ("hidden_graph", hid, hid_val, None),
        ("both_graph", both, both_val, None),
        ("alpha09_graph", raw, raw_val, 0.9),
    ]:
        record[name + "_oof"], record[name + "_val"] = graph_expert(
            rows, val, *expert, alpha=alpha
        )
    return record


def record(args):
    refs = read_manifest(args.data_dir)
    args.output.mkdir(parents=True, exist_ok=True)
    with Recorder(pseudo=args.pseudo) as recorder:
        if args.folds:
            _head.HEAD_FOLDS = args.folds
        if args.rows_seen:
            training.AUTO_ROWS_SEEN = args.rows_seen
        if args.c_by_log_loss:
            _head._cross_validated_regression = regression_by_log_loss
        for ref in refs:
            if args.datasets and ref.name not in args.datasets:
                continue
            dataset = load_dataset(ref)
            for seed in args.seeds:
                fit = record_fit(recorder, dataset, seed, args.label_fraction)
                with open(args.output / f"{dataset.name}_{seed}.pkl", "wb") as file:
                    pickle.dump(fit, file)
                print(dataset.name, seed, round(fit["accuracy"], 4), flush=True)


def blends(fit, experts, weights=WEIGHTS):
    """Every (head mix, expert weights) of the grid, the weights summing to
    the package's MAX_EXPERTS_WEIGHT at most, with its out-of-fold and
    validation log-probabilities."""
    scored = fit["scored"]
    for mix in fit["head_oof"]:
        for ws in itertools.product(weights, repeat=len(experts)):
            # The package's bound, unless every weight is above it: a grid of
            # the weight 1 alone scores an expert on its own.
            if sum(ws) > max(_boosting.MAX_EXPERTS_WEIGHT, min(weights)) + 1e-9:
                continue
            parts = {
                part: blend(
                    fit, part, fit["head_" + part][mix][rows], ws, experts, rows
                )
                for part, rows in (("oof", scored), ("val", slice(None)))
            }
            yield (mix, ws), parts["oof"], parts["val"]


def blend(fit, part, head, ws, experts, rows=slice(None)):
    """The blend's log-probabilities on ``rows`` of ``part`` ("oof" or
    "val"): the head's log-probabilities ``head`` (those rows already) and
    the experts' at weights ``ws``, as the package blends them."""
    z = (1 - sum(ws)) * head
    z = z + sum(w * fit[e + "_" + part][rows] for w, e in zip(ws, experts))
    return log_softmax(z, axis=1)


def replay_fit(fit, experts, rule):
    labels = fit["labels"][fit["scored"]]
    grid = list(blends(fit, experts, rule.get("weights", WEIGHTS)))
    if "mixes" in rule:
        grid = [g for g in grid if g[0][0] in rule["mixes"]]
    if "bagged" in rule:
        return bagged_choice(fit, experts, grid, labels, **rule["bagged"])
    losses = np.array([_boosting._log_loss(oof, labels, None) for _, oof, _ in grid])
    hits = np.array([np.mean(oof.argmax(1) == labels) for _, oof, _ in grid])
    score = losses - rule.get("accuracy_bonus", 0.0) * hits
    if "top" in rule:
        proba = sum(np.exp(grid[i][2]) for i in np.argsort(score)[: rule["top"]])
    elif rule.get("bayes"):
        evidence = np.exp(-len(labels) * (losses - losses.min()))
        proba = sum(e * np.exp(g[2]) for e, g in zip(evidence, grid))
    else:
        proba = grid[int(np.argmin(score))][2]
    return np.mean(proba.argmax(1) == fit["y_val"])


def bagged_choice(fit, experts, grid, labels, n_bags, average):
    """Validation accuracy of the blend chosen on bootstrap draws of the
    scored rows (bagging, Breiman 1996, applied to the choice): each draw's
    lowest out-of-fold log-loss picks a blend;
    ``average="proba"`` averages the picked blends' probabilities,
    ``"weights"`` blends once at the picked weights' mean (the head's mix is
    linear in its two regressions' logits, so a mean mix is a head too)."""
    rng = np.random.default_rng(0)
    row_losses = -np.stack([oof[np.arange(len(labels)), labels] for _, oof, _ in grid])
    picks = [
        int(np.argmin(row_losses[:, rng.integers(0, len(labels), len(labels))].mean(1)))
        for _ in range(n_bags)
    ]
    if average == "proba":
        proba = sum(np.exp(grid[i][2]) for i in picks) / n_bags
        return np.mean(proba.argmax(1) == fit["y_val"])
    mix = np.mean([grid[i][0][0] for i in picks])
    ws = np.mean([grid[i][0][1] for i in picks], axis=0)
    head = mix * fit["head_val"][1.0] + (1 - mix) * fit["head_val"][0.0]
    proba = blend(fit, "val", head, ws, experts)
    return np.mean(proba.argmax(1) == fit["y_val"])


def with_uniform_share(fit, share):
    """The graph's log-probabilities with ``share`` of the uniform mixed in,
    instead of the package's UNIFORM_SHARE."""
    n_classes = fit["graph_val"].shape[1]
    for part in ("oof", "val"):
        mean = (np.exp(fit["graph_" + part]) - _graph.UNIFORM_SHARE / n_classes) / (
            1 - _graph.UNIFORM_SHARE
        )
        mixed = (1 - share) * np.maximum(mean, 0) + share / n_classes
        fit[f"graph_{share}_{part}"] = np.log(mixed)


def replay(args):
    fits = [pickle.load(open(f, "rb")) for f in sorted(args.output.glob("*.pkl"))]
    shares = (0.03, 0.1, 0.2, 0.4)
    for fit in fits:
        for share in shares if "scored" in fit else ():
            with_uniform_share(fit, share)
    default = ["tree", "graph"]
    studies = {
        "default": (default, {}),
        "hidden graph": (["tree", "hidden_graph"], {}),
        "raw+hidden graph": (["tree", "both_graph"], {}),
        "both graphs": (["tree", "graph", "hidden_graph"], {}),
        "alpha 0.9": (["tree", "alpha09_graph"], {}),
        "extra trees": (["tree", "graph", "extra_trees"], {}),
        "coarse grid": (
            default,
            {"weights": WEIGHTS[::2], "mixes": (0.0, 0.5, 1.0)},
        ),
        "log-loss - accuracy/2": (default, {"accuracy_bonus": 0.5}),
        "top 3 averaged": (default, {"top": 3}),
        "evidence-weighted": (default, {"bayes": True}),
        "bagged choice": (default, {"bagged": {"n_bags": 50, "average": "proba"}}),
        "bagged weights": (
            default,
            {"bagged": {"n_bags": 50, "average": "weights"}},
        ),
        **{f"uniform share {u}": (["tree", f"graph_{u}"], {}) for u in shares},
        "pseudo-labeled head": (["tree", "graph", "pseudo_head"], {}),
        "pseudo-labeled trees": (["tree", "graph", "pseudo_tree"], {}),
        "pseudo-labeled trees for trees": (["pseudo_tree", "graph"], {}),
        "pseudo head alone": (["pseudo_head"], {"weights": [1.0]}),
        "pseudo trees alone": (["pseudo_tree"], {"weights": [1.0]}),
    }
    recorded = set().union(*(fit for fit in fits if "scored" in fit))
    studies = {
        name: study
        for name, study in studies.items()
        if {expert + "_oof" for expert in study[0]} <= recorded
    }
    rows = []
    for fit in fits:
        row = {"dataset": fit["dataset"], "seed": fit["seed"]}
        for name, (experts, rule) in studies.items():
            if "scored" in fit:
                row[name] = replay_fit(fit, experts, rule)
            else:  # no folds: the head alone, as the package predicts
                head = next(iter(fit["head_val"].values()))
                row[name] = np.mean(head.argmax(1) == fit["y_val"])
        rows.append(row)
        if row["default"] != fit["accuracy"]:
            raise SystemExit(f"replay differs from the fit: {fit['dataset']}")
    table = pd.DataFrame(rows).drop(columns="seed").groupby("dataset").mean() * 100
    print(table.round(2).to_string())
    print(table.mean().round(2).to_string())
    seconds = sum(f["fit_seconds"] for f in fits)
    print(f"{len(fits)} fits, {seconds:.0f} s of fitting; replay matches the fits")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("output", type=Path)
    rec.add_argument("--data-dir", type=Path, default=DATA_DIR)
    rec.add_argument("--label-fraction", type=float, default=0.1)
    rec.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    rec.add_argument("--datasets", nargs="*")
    rec.add_argument("--folds", type=int)
    rec.add_argument("--c-by-log-loss", action="store_true")
    rec.add_argument("--rows-seen", type=int)
    rec.add_argument("--pseudo", action="store_true")
    rep = sub.add_parser("replay")
    rep.add_argument("output", type=Path)
    args = parser.parse_args()
    (record if args.command == "record" else replay)(args)


if __name__ == "__main__":
    main()
