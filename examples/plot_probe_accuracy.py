"""
Linear probe: learned features against the raw ones
===================================================

The usual test of a self-supervised representation: freeze it and fit a
linear model on top. Here, for three datasets that ship with scikit-learn,
the same probe (a logistic regression whose ``C`` is chosen by 3-fold
cross-validation on the training rows) is fitted

* on the raw, standardised columns (``raw``);
* on the output of a :class:`~skssl.ContrastiveVAETransformer` trained on the
  training rows without their labels, standardised (``ssl``).

Both are :class:`~sklearn.pipeline.Pipeline` objects, so they fit, score and
tune the same way (``GridSearchCV`` over ``ssl__temperature``, say). The
full comparison on 23 OpenML-CC18 tables is ``skssl-benchmark cc18`` (see the
benchmark page); ``skssl-benchmark demo`` runs it on these datasets.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skssl import ContrastiveVAETransformer


def probe():
    """Logistic regression, C chosen by shuffled, stratified 3-fold CV."""
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"C": np.logspace(-3, 2, 6)}
    return GridSearchCV(LogisticRegression(max_iter=2000), grid, cv=folds)


datasets = {
    "breast cancer": load_breast_cancer,
    "wine": load_wine,
    "digits": load_digits,
}
accuracy = {"raw": [], "ssl": []}
for name, load in datasets.items():
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    models = {
        "raw": make_pipeline(StandardScaler(), probe()),
        "ssl": make_pipeline(
            ContrastiveVAETransformer(random_state=0), StandardScaler(), probe()
        ),
    }
    for method, model in models.items():
        accuracy[method].append(model.fit(X_train, y_train).score(X_test, y_test))
    n_learned = len(models["ssl"][0].get_feature_names_out())
    print(
        f"{name:14s} {X.shape[1]:3d} raw columns: accuracy {accuracy['raw'][-1]:.3f};"
        f" {n_learned} learned features: {accuracy['ssl'][-1]:.3f}"
    )

# %%
# Test accuracy of the two probes (one 80/20 split per dataset; differences of
# a point on these small test sets are within the noise of the split).

positions = np.arange(len(datasets))
fig, ax = plt.subplots(figsize=(6, 3.4))
for offset, (method, values) in zip((-0.2, 0.2), accuracy.items()):
    bars = ax.bar(positions + offset, values, width=0.4, label=method)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
ax.set_xticks(positions, list(datasets))
ax.set_ylim(0.8, 1.0)
ax.set_ylabel("test accuracy")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
