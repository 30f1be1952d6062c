"""Few labels, many rows: ContrastiveVAEClassifier against the usual choices.

Keeps 5 % of the training labels of the digits data that ships with
scikit-learn (y = -1 marks the rest as unlabeled, scikit-learn's convention)
and compares, on the test split:

* a logistic regression on the labeled rows alone;
* scikit-learn's SelfTrainingClassifier around it (all rows);
* ContrastiveVAEClassifier (all rows: the unlabeled ones train the encoder).

Run: ``python examples/semi_supervised.py`` (about a minute on 2 CPU cores).
"""

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
rng = np.random.default_rng(0)
labeled = np.concatenate(
    [
        rng.choice(np.flatnonzero(y_train == c), 5, replace=False)  # 5 per class
        for c in np.unique(y_train)
    ]
)
y_partial = np.full_like(y_train, -1)
y_partial[labeled] = y_train[labeled]
print(f"{len(labeled)} labeled rows, {len(y_train) - len(labeled)} unlabeled")

logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
alone = logistic.fit(X_train[labeled], y_train[labeled])
self_training = SelfTrainingClassifier(
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
).fit(X_train, y_partial)
classifier = ContrastiveVAEClassifier(random_state=0).fit(X_train, y_partial)

for name, model in [
    ("LogisticRegression, labeled rows only", alone),
    ("SelfTrainingClassifier(LogisticRegression)", self_training),
    ("ContrastiveVAEClassifier", classifier),
]:
    print(f"test accuracy, {name:44s} {model.score(X_test, y_test):.3f}")
