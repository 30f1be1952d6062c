"""
Few labels, many rows: accuracy against the number of labels
============================================================

:class:`~skssl.ContrastiveVAEClassifier` follows :mod:`sklearn.semi_supervised`:
rows labeled ``-1`` are unlabeled. Every row trains its self-supervised encoder;
the labeled ones fit its head. Here the digits data (1,437 training rows) keeps
2, 5, 10 or 20 labels per class of its training part, and three models are
compared on the test split:

* a logistic regression on the labeled rows alone;
* scikit-learn's :class:`~sklearn.semi_supervised.SelfTrainingClassifier`
  around it (all rows: it labels the unlabeled ones it is confident about);
* ``ContrastiveVAEClassifier`` (all rows).

The same comparison on 23 OpenML-CC18 tables is
``skssl-benchmark cc18 --label-fraction ...`` (the semi-supervised page of the
user guide).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import SelfTrainingClassifier

from skssl import ContrastiveVAEClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)


def logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def partial_labels(per_class, seed=0):
    """``y_train`` with all but ``per_class`` labels per class set to -1."""
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_train == c), per_class, replace=False)
            for c in np.unique(y_train)
        ]
    )
    y_partial = np.full_like(y_train, -1)
    y_partial[keep] = y_train[keep]
    return y_partial


labels_per_class = [2, 5, 10, 20]
accuracy = {
    "LogisticRegression, labeled rows only": [],
    "SelfTrainingClassifier(LogisticRegression)": [],
    "ContrastiveVAEClassifier": [],
}
for per_class in labels_per_class:
    y_partial = partial_labels(per_class)
    labeled = y_partial != -1
    models = {
        "LogisticRegression, labeled rows only": logistic().fit(
            X_train[labeled], y_train[labeled]
        ),
        "SelfTrainingClassifier(LogisticRegression)": SelfTrainingClassifier(
            logistic()
        ).fit(X_train, y_partial),
        "ContrastiveVAEClassifier": ContrastiveVAEClassifier(random_state=0).fit(
            X_train, y_partial
        ),
    }
    print(f"{labeled.sum()} labeled rows, {(~labeled).sum()} unlabeled:")
    for name, model in models.items():
        accuracy[name].append(model.score(X_test, y_test))
        print(f"  test accuracy, {name:44s} {accuracy[name][-1]:.3f}")

# %%
# Test accuracy against the number of labels per class (10 classes).

fig, ax = plt.subplots(figsize=(6, 3.8))
for name, values in accuracy.items():
    ax.plot(labels_per_class, values, marker="o", label=name)
ax.set_xscale("log")
ax.minorticks_off()
ax.set_xticks(labels_per_class, [str(k) for k in labels_per_class])
ax.set_xlabel("labels per class")
ax.set_ylabel("test accuracy")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
